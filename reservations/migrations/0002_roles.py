from django.db import migrations

from inventory.roles import sync_roles


def grant_reservation_permissions(apps, schema_editor):
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0001_initial"),
        ("inventory", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant_reservation_permissions, migrations.RunPython.noop)]
