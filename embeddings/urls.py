from __future__ import annotations

from django.urls import path

from embeddings import views
from embeddings.views import quality as quality_views
from embeddings.views import switch as switch_views

app_name = "embeddings"

urlpatterns = [
    # Jobs
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/start/", views.job_start, name="job_start"),
    path("jobs/<int:job_id>/", views.job_row, name="job_row"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<int:job_id>/resume/", views.job_resume, name="job_resume"),
    path("jobs/<int:job_id>/retry-failed/", views.job_retry_failed, name="job_retry_failed"),
    path("sync/content", views.sync_content, name="sync_content"),
    # Settings → AI / LLM → Embedding Model
    path("settings/embedding-model/", views.embedding_model, name="embedding_model"),
    path(
        "settings/embedding-model/choose/",
        views.embedding_model_choose,
        name="embedding_model_choose",
    ),
    path(
        "settings/embedding-model/confirm/",
        views.embedding_model_confirm,
        name="embedding_model_confirm",
    ),
    path(
        "settings/embedding-model/switch-now/",
        switch_views.embedding_switch_confirm,
        {"action": "now"},
        name="embedding_switch_now",
    ),
    path(
        "settings/embedding-model/switch-back/",
        switch_views.embedding_switch_confirm,
        {"action": "back"},
        name="embedding_switch_back",
    ),
    path(
        "settings/embedding-model/abandon/",
        views.embedding_abandon,
        name="embedding_abandon",
    ),
    path(
        "settings/embedding-model/connection/",
        views.embedding_connection,
        name="embedding_connection",
    ),
    path(
        "settings/embedding-model/test-connection/",
        views.embedding_test_connection,
        name="embedding_test_connection",
    ),
    # Storage
    path("storage/", views.storage, name="storage"),
    path("storage/delete/", views.storage_delete, name="storage_delete"),
    # Similar
    path("similar/<int:item_id>/", views.similar, name="similar"),
    path("similar/tmdb/<int:tmdb_id>/", views.similar_tmdb, name="similar_tmdb"),
    path("similar/<int:item_id>/embed/", views.similar_embed, name="similar_embed"),
    # Quality
    path("quality/measure/", quality_views.quality_measure, name="quality_measure"),
    path("similar/disagreements/", quality_views.disagreements, name="disagreements"),
    path(
        "similar/disagreements/compute/",
        quality_views.disagreements_compute,
        name="disagreements_compute",
    ),
]
