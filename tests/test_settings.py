from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from reclio_admin.database import _from_url
from reclio_admin.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_int_map,
    env_list,
    env_str,
)


def test_a_whole_number_setting_that_is_not_a_number_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMBEDDING_BATCH_SIZE", "lots")
    with pytest.raises(
        ImproperlyConfigured, match="EMBEDDING_BATCH_SIZE must be a whole number, not 'lots'"
    ):
        env_int("EMBEDDING_BATCH_SIZE", 64)


def test_a_whole_number_outside_its_range_names_the_variable_and_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMBEDDING_CONCURRENCY", "0")
    with pytest.raises(
        ImproperlyConfigured, match="EMBEDDING_CONCURRENCY must be at least 1, not 0"
    ):
        env_int("EMBEDDING_CONCURRENCY", 4, minimum=1)
    monkeypatch.setenv("PORT", "70000")
    with pytest.raises(ImproperlyConfigured, match="PORT must be at most 65535, not 70000"):
        env_int("PORT", 8000, minimum=1, maximum=65535)


def test_a_decimal_setting_that_is_not_a_number_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMBEDDING_TIMEOUT", "30s")
    with pytest.raises(ImproperlyConfigured, match="EMBEDDING_TIMEOUT must be a number, not '30s'"):
        env_float("EMBEDDING_TIMEOUT", 30.0)
    monkeypatch.setenv("EMBEDDING_TIMEOUT", "-1")
    with pytest.raises(ImproperlyConfigured, match="EMBEDDING_TIMEOUT must be at least 0"):
        env_float("EMBEDDING_TIMEOUT", 30.0, minimum=0)


def test_a_yes_no_setting_accepts_the_usual_words_and_refuses_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEBUG", "Yes")
    assert env_bool("DEBUG", False) is True
    monkeypatch.setenv("DEBUG", "off")
    assert env_bool("DEBUG", True) is False
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be true or false, not 'maybe'"):
        env_bool("DEBUG", False)


def test_a_choice_setting_refuses_a_value_outside_its_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "loud")
    with pytest.raises(
        ImproperlyConfigured, match="LOG_LEVEL must be one of debug, info, not 'loud'"
    ):
        env_choice("LOG_LEVEL", "info", ("debug", "info"))


def test_unset_or_blank_values_fall_back_to_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECLIO_UNSET", raising=False)
    monkeypatch.setenv("RECLIO_BLANK", "  ")
    assert env_int("RECLIO_UNSET", 7) == 7
    assert env_int("RECLIO_BLANK", 7) == 7
    assert env_float("RECLIO_BLANK", 1.5) == 1.5
    assert env_str("RECLIO_UNSET", "x") == "x"
    monkeypatch.setenv("ALLOWED_HOSTS", " a.example , ,b.example")
    assert env_list("ALLOWED_HOSTS", []) == ["a.example", "b.example"]


def test_a_database_url_that_is_not_postgresql_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"DATABASE_URL must point at PostgreSQL"):
        _from_url("sqlite:///tmp/reclio.sqlite3")
    with pytest.raises(ImproperlyConfigured, match=r"DATABASE_URL must point at PostgreSQL"):
        _from_url("mysql://user:secret@db.example/reclio")


def test_a_database_url_with_an_unknown_scheme_is_refused_without_echoing_the_password() -> None:
    with pytest.raises(
        ImproperlyConfigured, match="DATABASE_URL is not a valid database URL"
    ) as caught:
        _from_url("nosuchdb://user:hunter2@db.example/reclio")
    assert "hunter2" not in str(caught.value)


def test_a_postgresql_database_url_is_accepted_with_its_parts() -> None:
    config = _from_url("postgres://reclio:secret@db.example:5433/catalog")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "db.example",
        5433,
        "catalog",
        "reclio",
    )


def test_a_per_table_setting_replaces_only_the_tables_it_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = {384: 100, 1536: 100}
    monkeypatch.setenv("HNSW_EF_SEARCH", " 1536:60 ")
    assert env_int_map("HNSW_EF_SEARCH", defaults, minimum=10, maximum=1000) == {
        384: 100,
        1536: 60,
    }
    for raw, message in [
        (
            "1536=60",
            "HNSW_EF_SEARCH must be pairs such as 384:100 separated by commas, not '1536=60'",
        ),
        ("1536:lots", "HNSW_EF_SEARCH must be pairs such as 384:100"),
        ("512:60", "HNSW_EF_SEARCH names 512, which is not one of 384, 1536"),
        ("1536:5000", "HNSW_EF_SEARCH must give values from 10 to 1000, not 5000 for 1536"),
    ]:
        monkeypatch.setenv("HNSW_EF_SEARCH", raw)
        with pytest.raises(ImproperlyConfigured, match=message):
            env_int_map("HNSW_EF_SEARCH", defaults, minimum=10, maximum=1000)
