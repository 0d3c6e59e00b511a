"""How good a model's neighbours are on this catalog, measured in the product.

- `measure`: franchise recall@10 and hit@10 per blend, judged recall@10 and nDCG@10 when films
  are judged, and the index's recall against an exact scan, kept as a `QualityRun` (computed
  now, or by a django-q2 task);
- `judged`: the arithmetic of judged recall and nDCG, and judgments files;
- `ranking`: many items' top 10 at once, exactly and in bounded memory;
- `gate`: whether a model being built may take over from the serving one by itself;
- `agreement`: how far two models agree on an item's neighbours (overlap@10, rank-biased
  overlap);
- `disagreements`: every item two models share, ranked by how little they agree;
- `panel`: each model's latest measurement, as the settings and storage pages show it.
"""

from __future__ import annotations

from embeddings.quality.agreement import (
    Agreement,
    agreement,
    pair,
    rank_biased_overlap,
    shared_items,
)
from embeddings.quality.disagreements import (
    DISAGREEMENT_TASK,
    compute_disagreements,
    disagreements_soon,
    latest_disagreements,
    pending_disagreements,
)
from embeddings.quality.gate import Gate, gate, has_ground_truth
from embeddings.quality.measure import (
    BLENDS,
    MEASURE_TASK,
    BlendScore,
    K,
    NoVectors,
    blend_top_ids,
    franchise_queries,
    franchise_score,
    index_recall,
    judged_score,
    latest_runs,
    measure,
    measure_soon,
    page_top_ids,
    pending_keys,
    run_measurement,
    stored_model_keys,
    vector_table,
    vector_top_ids,
)
from embeddings.quality.panel import ModelQuality, by_base_key, panel

__all__ = [
    "BLENDS",
    "DISAGREEMENT_TASK",
    "MEASURE_TASK",
    "Agreement",
    "BlendScore",
    "Gate",
    "K",
    "ModelQuality",
    "NoVectors",
    "agreement",
    "blend_top_ids",
    "by_base_key",
    "compute_disagreements",
    "disagreements_soon",
    "franchise_queries",
    "franchise_score",
    "gate",
    "has_ground_truth",
    "index_recall",
    "judged_score",
    "latest_disagreements",
    "latest_runs",
    "measure",
    "measure_soon",
    "page_top_ids",
    "pair",
    "panel",
    "pending_disagreements",
    "pending_keys",
    "rank_biased_overlap",
    "run_measurement",
    "shared_items",
    "stored_model_keys",
    "vector_table",
    "vector_top_ids",
]
