"""Saved conversations: a browser's chats kept on the server, found again after a reload.

The browser holds only a random key and the open conversation's id, in Gradio's
`BrowserState` (localStorage); the answers themselves are in
INDEX_DIR/conversations/KEY.json. A conversation of 20 answers is ~400 KB of JSON, more
than localStorage should carry for a list of them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from index.models import Answer

__all__ = ["Conversation", "ConversationStore", "new_key", "title_for"]

_KEY = re.compile(r"[0-9a-f]{32}")
_TITLE_CHARS = 80


class Conversation(BaseModel):
    id: str
    title: str
    updated: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    answers: list[Answer] = Field(default_factory=list)
    scopes: list[list[str]] = Field(
        default_factory=list, description="Titles each answer was limited to; [] for all."
    )


def new_key() -> str:
    return secrets.token_hex(16)


def title_for(question: str) -> str:
    """A new conversation is named after its first question."""
    text = " ".join(question.split())
    return text if len(text) <= _TITLE_CHARS else text[: _TITLE_CHARS - 1].rstrip() + "…"


class ConversationStore:
    """One JSON file per browser key; writes are atomic and one at a time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def secret(self) -> str:
        """The key Gradio encrypts the BrowserState with; kept, so a server restart does not
        make every browser forget its conversations."""
        path = self.folder / ".browser-secret"
        with self._lock:
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(secrets.token_hex(16), encoding="utf-8")
                path.chmod(0o600)
            return path.read_text(encoding="utf-8").strip()

    def all(self, key: str) -> list[Conversation]:
        """A browser's conversations, most recently updated first."""
        path = self._path(key)
        if path is None or not path.is_file():
            return []
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
            found = [Conversation.model_validate(r) for r in rows]
        except (ValueError, ValidationError):  # a damaged file loses its chats, not the UI
            return []
        return sorted(found, key=lambda c: c.updated, reverse=True)

    def get(self, key: str, conversation_id: str) -> Conversation | None:
        return next((c for c in self.all(key) if c.id == conversation_id), None)

    def put(self, key: str, conversation: Conversation) -> None:
        with self._lock:
            rest = [c for c in self.all(key) if c.id != conversation.id]
            self._write(key, [conversation, *rest])

    def rename(self, key: str, conversation_id: str, title: str) -> bool:
        title = " ".join(title.split())[:_TITLE_CHARS]
        with self._lock:
            found = self.all(key)
            hit = next((c for c in found if c.id == conversation_id), None)
            if hit is None or not title:
                return False
            hit.title = title
            self._write(key, found)
            return True

    def delete(self, key: str, conversation_id: str) -> bool:
        with self._lock:
            found = self.all(key)
            rest = [c for c in found if c.id != conversation_id]
            self._write(key, rest)
            return len(rest) < len(found)

    def _path(self, key: str) -> Path | None:
        return self.folder / f"{key}.json" if _KEY.fullmatch(key or "") else None

    def _write(self, key: str, conversations: list[Conversation]) -> None:
        path = self._path(key)
        if path is None:
            raise ValueError(f"not a conversation key: {key!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        rows = [c.model_dump(mode="json") for c in conversations]
        tmp.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
