"""PaperTrail's write path (load, clean, chunk, embed, store) and shared kernel."""

from index.errors import IndexMismatchError, LoadError, PaperTrailError, QuestionError
from index.indexer import Indexer
from index.models import (
    Answer,
    AnswerEvent,
    Chunk,
    Citation,
    Claim,
    Document,
    DocumentInfo,
    FileResult,
    FileWarning,
    IngestReport,
    PageSpan,
    Passage,
    SectionSpan,
)
from index.settings import BUNDLED_CORPUS, Settings

__all__ = [
    "BUNDLED_CORPUS",
    "Answer",
    "AnswerEvent",
    "Chunk",
    "Citation",
    "Claim",
    "Document",
    "DocumentInfo",
    "FileResult",
    "FileWarning",
    "IndexMismatchError",
    "Indexer",
    "IngestReport",
    "LoadError",
    "PageSpan",
    "PaperTrailError",
    "Passage",
    "QuestionError",
    "SectionSpan",
    "Settings",
]
