"""Where two models disagree: every item both have a vector for, ranked by how little their top
10s agree, computed by a django-q2 task and kept as a `DisagreementRun` with its rows."""

from __future__ import annotations

import logging
import time

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from embeddings.models import Disagreement, DisagreementRun, RunStatus
from embeddings.quality.agreement import agreement, pair, shared_items
from embeddings.quality.measure import K, measured_model
from embeddings.quality.ranking import Signals, in_chunks

logger = logging.getLogger(__name__)

DISAGREEMENT_TASK = "embeddings.tasks.compute_disagreements"


def disagreements_soon(left_key: str, right_key: str, blend: str = "vector") -> DisagreementRun:
    """Queue the whole-catalog comparison of two models, unless one is queued already."""
    left_key, right_key = pair(left_key, right_key)
    with transaction.atomic():
        run, created = DisagreementRun.objects.get_or_create(
            left_key=left_key, right_key=right_key, blend=blend, status=RunStatus.QUEUED
        )
        if created:
            async_task(DISAGREEMENT_TASK, run.pk, task_name=f"disagreements #{run.pk}")
    return run


def compute_disagreements(run_id: int) -> DisagreementRun | None:
    """The background task: compare two models' top 10 for every item they share.

    1. Claim the queued run (another worker may have taken it).
    2. Rank every shared item's top 10 with each model (ranking.py, a chunk of items at a time
       for both); store each chunk's overlap@10 and rank-biased overlap, so memory stays
       bounded and the page can show how far it has got.
    3. Keep the count and the time, or the error that stopped it.
    """
    with transaction.atomic():
        claimed = DisagreementRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING
        )
    if not claimed:
        return None
    run = DisagreementRun.objects.get(pk=run_id)
    started = time.monotonic()
    try:
        items = shared_items(run.left_key, run.right_key)
        lefts, rights = (
            in_chunks(Signals.of(measured_model(key), run.blend), items, k=K)
            for key in (run.left_key, run.right_key)
        )
        compared = 0
        for left, right in zip(lefts, rights, strict=True):
            rows = []
            for item_id, found in left.items():
                agreed = agreement([pk for pk, _ in found], [pk for pk, _ in right[item_id]])
                rows.append(
                    Disagreement(
                        run=run, item_id=item_id, overlap=agreed.overlap_at_10, rbo=agreed.rbo
                    )
                )
            Disagreement.objects.bulk_create(rows)
            compared += len(rows)
            DisagreementRun.objects.filter(pk=run.pk).update(items=compared)
    except Exception as exc:
        logger.exception("Comparing %s with %s failed", run.left_key, run.right_key)
        run.status, run.error = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
    else:
        run.status, run.items = RunStatus.DONE, len(items)
    run.seconds = time.monotonic() - started
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "items", "seconds", "finished_at"])
    return run


def latest_disagreements(
    left_key: str, right_key: str, blend: str = "vector"
) -> DisagreementRun | None:
    """The pair's latest finished comparison (done or failed)."""
    left_key, right_key = pair(left_key, right_key)
    runs = DisagreementRun.objects.filter(
        left_key=left_key,
        right_key=right_key,
        blend=blend,
        status__in=(RunStatus.DONE, RunStatus.FAILED),
    )
    return runs.order_by("-finished_at", "-id").first()


def pending_disagreements(
    left_key: str, right_key: str, blend: str = "vector"
) -> DisagreementRun | None:
    """The pair's comparison queued or under way (its `items` count how far it has got)."""
    left_key, right_key = pair(left_key, right_key)
    return DisagreementRun.objects.filter(
        left_key=left_key, right_key=right_key, blend=blend,
        status__in=(RunStatus.QUEUED, RunStatus.RUNNING),
    ).order_by("-requested_at", "-id").first()  # fmt: skip
