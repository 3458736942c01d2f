"""PaperTrail's read path: retrieve passages, compose cited answers."""

from index import (
    Answer,
    Citation,
    Claim,
    DocumentInfo,
    IndexMismatchError,
    IngestReport,
    LoadError,
    PaperTrailError,
    Passage,
    QuestionError,
    Settings,
)
from rag.answer import ABSTAIN_MESSAGE
from rag.engine import Engine, Turn
from rag.page_view import PageView

__all__ = [
    "ABSTAIN_MESSAGE",
    "Answer",
    "Citation",
    "Claim",
    "DocumentInfo",
    "Engine",
    "IndexMismatchError",
    "IngestReport",
    "LoadError",
    "PageView",
    "PaperTrailError",
    "Passage",
    "QuestionError",
    "Settings",
    "Turn",
]
