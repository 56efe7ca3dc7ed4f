import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the superuser 'admin' with a random password (printed once) unless a superuser exists."

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("A superuser already exists; not creating one.")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "admin@example.com", password)
        banner = "=" * 64
        self.stdout.write(
            f"{banner}\nSuperuser created. Log in at /admin/ as\n"
            f"  username: admin\n  password: {password}\n"
            f"This password is shown only once.\n{banner}"
        )
