"""PaperTrail's read path: retrieve passages, compose cited answers."""

from index import (
    Answer,
    AnswerEvent,
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
from rag.generate import LLMError
from rag.page_view import PageView

__all__ = [
    "ABSTAIN_MESSAGE",
    "Answer",
    "AnswerEvent",
    "Citation",
    "Claim",
    "DocumentInfo",
    "Engine",
    "IndexMismatchError",
    "IngestReport",
    "LLMError",
    "LoadError",
    "PageView",
    "PaperTrailError",
    "Passage",
    "QuestionError",
    "Settings",
    "Turn",
]
