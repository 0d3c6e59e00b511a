from __future__ import annotations

from django.urls import path

from embeddings.views import curation, jobs, quality, settings, similar, storage, switch

app_name = "embeddings"

urlpatterns = [
    # Jobs
    path("jobs/", jobs.jobs, name="jobs"),
    path("jobs/start/", jobs.job_start, name="job_start"),
    path("jobs/<int:job_id>/", jobs.job_row, name="job_row"),
    path("jobs/<int:job_id>/cancel/", jobs.job_cancel, name="job_cancel"),
    path("jobs/<int:job_id>/resume/", jobs.job_resume, name="job_resume"),
    path("jobs/<int:job_id>/retry-failed/", jobs.job_retry_failed, name="job_retry_failed"),
    path("sync/content", jobs.sync_content, name="sync_content"),
    path("jobs/syncs/start/", jobs.sync_start, name="sync_start"),
    path("jobs/syncs/<int:sync_id>/", jobs.sync_row, name="sync_row"),
    path("jobs/syncs/<int:sync_id>/cancel/", jobs.sync_cancel, name="sync_cancel"),
    path("jobs/syncs/<int:sync_id>/resume/", jobs.sync_resume, name="sync_resume"),
    path("jobs/bring-up-to-date/", jobs.bring_up_to_date, name="bring_up_to_date"),
    # Settings → AI / LLM → Embedding Model
    path("settings/embedding-model/", settings.embedding_model, name="embedding_model"),
    path(
        "settings/embedding-model/choose/",
        settings.embedding_model_choose,
        name="embedding_model_choose",
    ),
    path(
        "settings/embedding-model/confirm/",
        settings.embedding_model_confirm,
        name="embedding_model_confirm",
    ),
    path(
        "settings/embedding-model/switch-now/",
        switch.embedding_switch_confirm,
        {"action": "now"},
        name="embedding_switch_now",
    ),
    path(
        "settings/embedding-model/switch-back/",
        switch.embedding_switch_confirm,
        {"action": "back"},
        name="embedding_switch_back",
    ),
    path(
        "settings/embedding-model/abandon/",
        settings.embedding_abandon,
        name="embedding_abandon",
    ),
    path(
        "settings/embedding-model/connection/",
        settings.embedding_connection,
        name="embedding_connection",
    ),
    path(
        "settings/embedding-model/test-connection/",
        settings.embedding_test_connection,
        name="embedding_test_connection",
    ),
    # Storage
    path("storage/", storage.storage, name="storage"),
    path("storage/delete/", storage.storage_delete, name="storage_delete"),
    # Similar
    path("similar/<int:item_id>/", similar.similar, name="similar"),
    path("similar/tmdb/<int:tmdb_id>/", similar.similar_tmdb, name="similar_tmdb"),
    path("similar/<int:item_id>/embed/", similar.similar_embed, name="similar_embed"),
    # Curation
    path("similar/<int:item_id>/curate/", curation.curate, name="similar_curate"),
    path("similar/judgments/", curation.judgments, name="judgments"),
    # Quality
    path("quality/measure/", quality.quality_measure, name="quality_measure"),
    path("similar/disagreements/", quality.disagreements, name="disagreements"),
    path(
        "similar/disagreements/compute/",
        quality.disagreements_compute,
        name="disagreements_compute",
    ),
]
