"""Curators, Embedding staff and Embedding admins may judge, pin and hide neighbours."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CURATE = "curate_neighbours"
ROLES = ("Curators", "Embedding staff", "Embedding admins")


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need this one now.
    app_config = apps.get_app_config("embeddings")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(content_type__app_label="embeddings", codename=CURATE)
    for name in ROLES:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="embeddings", codename=CURATE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("embeddings", "0015_curation"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
