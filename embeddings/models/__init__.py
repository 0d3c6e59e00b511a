"""The embeddings app's models, one module per family, re-exported here so that callers and
migrations import them from `embeddings.models`."""

from __future__ import annotations

from embeddings.models.curation import Curation as Curation
from embeddings.models.curation import Grade as Grade
from embeddings.models.curation import Judgment as Judgment
from embeddings.models.curation import PairQuerySet as PairQuerySet
from embeddings.models.health import HealthCheck as HealthCheck
from embeddings.models.jobs import CAP_REACHED as CAP_REACHED
from embeddings.models.jobs import EmbeddingJob as EmbeddingJob
from embeddings.models.jobs import EmbeddingJobQuerySet as EmbeddingJobQuerySet
from embeddings.models.jobs import JobFailure as JobFailure
from embeddings.models.lexical import LEXICAL_DIMENSIONS as LEXICAL_DIMENSIONS
from embeddings.models.lexical import LexicalCorpus as LexicalCorpus
from embeddings.models.lexical import LexicalPosting as LexicalPosting
from embeddings.models.lexical import LexicalTerm as LexicalTerm
from embeddings.models.lexical import LexicalVector as LexicalVector
from embeddings.models.lexical import LexicalVectorQuerySet as LexicalVectorQuerySet
from embeddings.models.lexical import RealField as RealField
from embeddings.models.outbound import ServiceCallTally as ServiceCallTally
from embeddings.models.outbound import ServicePace as ServicePace
from embeddings.models.quality import Disagreement as Disagreement
from embeddings.models.quality import DisagreementRun as DisagreementRun
from embeddings.models.quality import QualityRun as QualityRun
from embeddings.models.quality import QualityScore as QualityScore
from embeddings.models.quality import RunStatus as RunStatus
from embeddings.models.settings import EmbeddingSettings as EmbeddingSettings
from embeddings.models.settings import ProviderCredential as ProviderCredential
from embeddings.models.tallies import RowTally as RowTally
from embeddings.models.tallies import TokenCount as TokenCount
from embeddings.models.tallies import TokenTally as TokenTally
from embeddings.models.vectors import EMBEDDING_TABLES as EMBEDDING_TABLES
from embeddings.models.vectors import METRICS as METRICS
from embeddings.models.vectors import UPSERT_ROWS as UPSERT_ROWS
from embeddings.models.vectors import Embedding384 as Embedding384
from embeddings.models.vectors import Embedding768 as Embedding768
from embeddings.models.vectors import Embedding1024 as Embedding1024
from embeddings.models.vectors import Embedding1536 as Embedding1536
from embeddings.models.vectors import Embedding3072 as Embedding3072
from embeddings.models.vectors import EmbeddingBase as EmbeddingBase
from embeddings.models.vectors import EmbeddingQuerySet as EmbeddingQuerySet
from embeddings.models.vectors import check_dimensions as check_dimensions
from embeddings.models.vectors import drop_hnsw_index as drop_hnsw_index
from embeddings.models.vectors import ensure_hnsw_index as ensure_hnsw_index
from embeddings.models.vectors import has_hnsw_index as has_hnsw_index
from embeddings.models.vectors import table_for as table_for
