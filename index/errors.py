"""Domain errors. The CLI turns these into one-line messages and exit code 1."""

from __future__ import annotations

__all__ = ["IndexMismatchError", "LoadError", "PaperTrailError", "QuestionError"]


class PaperTrailError(Exception):
    """Base class for errors a user can act on."""


class LoadError(PaperTrailError):
    """A file could not be read; names the file and, where known, the page."""

    def __init__(self, path: str, reason: str, page: int | None = None) -> None:
        self.path = path
        self.page = page
        self.reason = reason
        where = f"{path}, page {page}" if page is not None else path
        super().__init__(f"{where}: {reason}")


class IndexMismatchError(PaperTrailError):
    """The collection was built with other settings (model, chunking)."""


class QuestionError(PaperTrailError):
    """The question is empty or unusable."""
