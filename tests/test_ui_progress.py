"""Upload progress counts what the user knows: files and passages, not sentences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag import Engine
from ui.documents import DocumentHandlers


def test_upload_progress_counts_files_and_passages(engine: Engine, tmp_path: Path) -> None:
    upload = tmp_path / "gradio" / "reef-notes.txt"
    upload.parent.mkdir()
    # Many short sentences: far more sentences than passages.
    upload.write_text(" ".join(f"Coral colony {i} was tagged at dawn." for i in range(400)))
    calls: list[tuple[Any, dict[str, Any]]] = []

    def progress(value: Any, **kwargs: Any) -> None:
        calls.append((value, kwargs))

    DocumentHandlers(engine).upload([str(upload)], progress)
    (doc,) = engine.documents()
    assert calls[0] == (0, {"desc": "Reading 1 file"})
    embedding = [(v, k) for v, k in calls[1:]]
    assert embedding and embedding[-1][0] == (doc.chunks, doc.chunks)
    assert all(
        k == {"desc": "Embedding the passages of 1 file", "unit": "passages"} for _, k in embedding
    )
