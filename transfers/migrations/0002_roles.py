from django.db import migrations

from inventory.roles import sync_roles


def grant_transfer_permissions(apps, schema_editor):
    # Group "warehouse" gets every transfers permission (see inventory.roles.ROLES).
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("transfers", "0001_initial"),
        ("inventory", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant_transfer_permissions, migrations.RunPython.noop)]
