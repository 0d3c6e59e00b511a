"""Tasks queued or scheduled under their old dotted paths still run after the upgrade.

Everything the worker runs is now a function of embeddings/tasks.py. django-q stores a task's
function as a dotted path: in a schedule's `func`, and inside each queued entry's payload (a
signed pickle of the task). Both are rewritten to the new paths; the reverse writes the old
ones back. An entry this code cannot read (another signing key, a stale pickle) is left as is,
as django-q itself leaves it.
"""

from django.db import migrations
from django_q.signing import SignedPackage

MOVED = {
    "embeddings.jobs.run_job": "embeddings.tasks.run_job",
    "embeddings.jobs.recover_jobs": "embeddings.tasks.recover_jobs",
    "embeddings.storage.measure_then_cut_over": "embeddings.tasks.measure_then_cut_over",
    "embeddings.quality.compute_disagreements": "embeddings.tasks.compute_disagreements",
    "embeddings.tokens.refresh_token_counts": "embeddings.tasks.refresh_token_counts",
    "embeddings.schedules.start_content_sync": "embeddings.tasks.start_content_sync",
    "embeddings.schedules.health_check": "embeddings.tasks.health_check",
}
# Queued for a while between the first cut of the packages and this one.
INTERIM = {
    "embeddings.switching.tokens.refresh_token_counts": "embeddings.tasks.refresh_token_counts",
}


def rewrite(apps, paths):
    """Point every schedule and queued task named by a key of `paths` at its value."""
    Schedule = apps.get_model("django_q", "Schedule")
    OrmQ = apps.get_model("django_q", "OrmQ")
    for old, new in paths.items():
        Schedule.objects.filter(func=old).update(func=new)
    for pk, payload in OrmQ.objects.values_list("pk", "payload").iterator():
        try:
            task = SignedPackage.loads(payload)
        except Exception:
            continue
        if not isinstance(task, dict) or task.get("func") not in paths:
            continue
        task["func"] = paths[task["func"]]
        OrmQ.objects.filter(pk=pk).update(payload=SignedPackage.dumps(task))


def to_tasks(apps, schema_editor):
    rewrite(apps, MOVED | INTERIM)


def back_to_old_paths(apps, schema_editor):
    rewrite(apps, {new: old for old, new in MOVED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("embeddings", "0013_judged_quality"),
        ("django_q", "0007_ormq"),
    ]

    operations = [migrations.RunPython(to_tasks, back_to_old_paths)]
