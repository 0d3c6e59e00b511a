"""Create the three role groups with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# The roles as they were first made; later migrations add the permissions of later models.
ROLES = {
    "Curators": [
        "embeddings.view_neighbours",
        "catalog.view_catalogitem",
        "embeddings.view_embeddingjob",
    ],
    "Embedding staff": [
        "embeddings.view_neighbours",
        "embeddings.run_jobs",
        "catalog.view_catalogitem",
        "embeddings.view_embeddingjob",
    ],
    "Embedding admins": [
        "embeddings.view_neighbours",
        "embeddings.run_jobs",
        "embeddings.change_embeddingsettings",
        "embeddings.view_embeddingsettings",
        "catalog.view_catalogitem",
        "catalog.change_catalogitem",
        "embeddings.view_embeddingjob",
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in perms:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("embeddings", "0001_initial"),
        ("catalog", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
