from __future__ import annotations

from django.apps import AppConfig


class WorkbenchConfig(AppConfig):
    name = "embeddings.workbench"
    label = "workbench"
    verbose_name = "Benchmarks and evaluations"
