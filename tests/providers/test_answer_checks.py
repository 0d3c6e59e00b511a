"""Every provider answer is checked before anything is stored: one vector per text, each index
once, the model's dimension, finite values. An answer that numbered two vectors alike once stored
one film's vector under another; one vector short took half a minute per item to fail."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from embeddings import jobs
from embeddings.models import Embedding768, EmbeddingJob, JobFailure
from embeddings.providers import InvalidResponse, get_provider
from embeddings.providers.base import Answer, check_answer
from tests.conftest import make_item

SMALL = "openai:text-embedding-3-small@768"
NOMIC = "ollama:nomic-embed-text"
GEMINI = "google:text-embedding-004"
TEXTS = ["Heat (1995).", "Westworld (2016).", "Deep Space Nine (1993)."]


@pytest.mark.django_db
def test_an_answer_that_numbers_two_vectors_alike_is_a_named_error(fake_openai: Any) -> None:
    fake_openai.script(["duplicate-index"])

    with pytest.raises(InvalidResponse, match="answered index 0 twice"):
        get_provider(SMALL).embed(TEXTS)

    assert fake_openai.calls == 1  # not retried: the same question gets the same wrong answer


@pytest.mark.django_db
def test_an_answer_one_vector_short_fails_at_once_without_retries(fake_openai: Any) -> None:
    fake_openai.script(["short"])

    with pytest.raises(InvalidResponse, match="answered 2 vectors for 3 texts"):
        get_provider(SMALL).embed(TEXTS)

    assert fake_openai.calls == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "fake"), [(NOMIC, "fake_ollama"), (GEMINI, "fake_google")])
def test_a_short_answer_from_any_provider_is_the_same_named_error(
    key: str, fake: str, request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue(fake)
    server.script(["short"])

    with pytest.raises(InvalidResponse, match="answered 2 vectors for 3 texts"):
        get_provider(key).embed(TEXTS)


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_provider_numbers_vectors_alike_stores_nothing(fake_openai: Any) -> None:
    for title in ("Heat", "Westworld", "Deep Space Nine", "Alien"):
        make_item(title=title, overview=f"{title}, as the catalog tells it.")
    fake_openai.fail_forever("duplicate-index")
    job = jobs.create_job("movie", SMALL, "stale", batch_size=4)

    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert job.done == 0 and job.failed == 4
    assert "answered index 0 twice" in job.last_error
    assert not Embedding768.objects.exists()
    assert JobFailure.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_provider_answers_short_fails_each_item_with_one_request(
    fake_openai: Any,
) -> None:
    for title in ("Heat", "Westworld", "Deep Space Nine", "Alien"):
        make_item(title=title, overview=f"{title}, as the catalog tells it.")
    fake_openai.fail_forever("short")
    job = jobs.create_job("movie", SMALL, "stale", batch_size=4)

    jobs.run_job(job.pk)

    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == (EmbeddingJob.Status.COMPLETED, 0, 4)
    assert "answered 0 vectors for 1 text" in job.last_error
    assert not Embedding768.objects.exists()
    # The batch once, then each item once: no back-off, no retry.
    assert fake_openai.calls == 1 + 4


def test_vectors_come_back_in_the_order_their_indexes_name() -> None:
    rows = np.eye(3)
    answer = Answer(rows, indexes=[2, 0, 1])

    ordered = check_answer(answer, texts=3, dimensions=3, who="test")

    assert ordered.tolist() == [rows[1].tolist(), rows[2].tolist(), rows[0].tolist()]


@pytest.mark.parametrize(
    ("indexes", "message"),
    [
        ([0, 1, 3], "a vector for index 3 of 3 texts"),
        ([0, 1, True], "a vector for index True of 3 texts"),
        ([0, 1, 1], "answered index 1 twice"),
    ],
)
def test_an_index_out_of_range_or_repeated_is_refused(indexes: list[object], message: str) -> None:
    with pytest.raises(InvalidResponse, match=message):
        check_answer(Answer(np.eye(3), indexes=indexes), texts=3, dimensions=3, who="test")


@pytest.mark.parametrize(
    ("vectors", "message"),
    [
        ([[1.0, 0.0], [0.0, 1.0], [1.0]], "a vector of 1 dimensions, expected 2"),
        ([[1.0, 0.0], [0.0, float("nan")], [1.0, 1.0]], "an empty or invalid vector"),
        ([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]], "an empty or invalid vector"),
        ([[1.0, 0.0], ["x", 1.0], [1.0, 1.0]], "not a vector"),
    ],
)
def test_a_wrong_dimension_or_value_is_refused(vectors: Any, message: str) -> None:
    with pytest.raises(InvalidResponse, match=message):
        check_answer(Answer(vectors), texts=3, dimensions=2, who="test")
