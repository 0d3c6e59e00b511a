from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

pytestmark = pytest.mark.django_db


def _perms(group: str) -> set[str]:
    permissions = Group.objects.get(name=group).permissions.select_related("content_type")
    return {f"{p.content_type.app_label}.{p.codename}" for p in permissions}


def test_curators_may_look_at_neighbours_jobs_and_the_catalog_and_curate_neighbours() -> None:
    assert _perms("Curators") == {
        "embeddings.view_neighbours",
        "embeddings.curate_neighbours",
        "catalog.view_catalogitem",
        "embeddings.view_embeddingjob",
    }


def test_embedding_staff_may_also_run_jobs_but_not_change_settings() -> None:
    assert _perms("Embedding staff") == {
        "embeddings.view_neighbours",
        "embeddings.curate_neighbours",
        "embeddings.run_jobs",
        "catalog.view_catalogitem",
        "embeddings.view_embeddingjob",
    }


def test_embedding_admins_may_change_the_settings_and_edit_catalog_items() -> None:
    assert _perms("Embedding admins") == {
        "embeddings.view_neighbours",
        "embeddings.curate_neighbours",
        "embeddings.run_jobs",
        "embeddings.change_embeddingsettings",
        "embeddings.view_embeddingsettings",
        "catalog.view_catalogitem",
        "catalog.change_catalogitem",
        "embeddings.view_embeddingjob",
    }


def test_a_user_gets_the_permissions_of_their_group_only(
    admin_user: User, staff_user: User, curator_user: User, outsider_user: User
) -> None:
    can_run = {
        user.username: user.has_perm("embeddings.run_jobs")
        for user in (admin_user, staff_user, curator_user, outsider_user)
    }
    can_configure = {
        user.username: user.has_perm("embeddings.change_embeddingsettings")
        for user in (admin_user, staff_user, curator_user, outsider_user)
    }
    can_curate = {
        user.username: user.has_perm("embeddings.curate_neighbours")
        for user in (admin_user, staff_user, curator_user, outsider_user)
    }
    assert can_run == {"ada": True, "sam": True, "cleo": False, "otto": False}
    assert can_curate == {"ada": True, "sam": True, "cleo": True, "otto": False}
    assert can_configure == {"ada": True, "sam": False, "cleo": False, "otto": False}
    assert not any(
        user.has_perm("catalog.delete_catalogitem")
        for user in (admin_user, staff_user, curator_user)
    )
