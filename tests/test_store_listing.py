"""The document listing: opened from its saved copy, then only what was written since is read."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import index.store
from index.store import open_store
from rag import Engine, Settings

NOTES = {
    "otter.txt": "Sea otters use stones as tools to open shellfish on their chests.",
    "beaver.txt": "Beavers build dams of branches and mud; the dams raise the water level.",
    "heron.txt": "Herons stand still in shallow water and spear fish with their beaks.",
}


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _full_reads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every registry read of all records with their fields (no ids, no filter)."""
    from chromadb.api.models.Collection import Collection

    calls: list[dict[str, Any]] = []
    original = Collection.get

    def get(self: Any, ids: Any = None, where: Any = None, **kwargs: Any) -> Any:
        if self.name.endswith("-docs") and ids is None and where is None and kwargs.get("include"):
            calls.append(kwargs)
        return original(self, ids=ids, where=where, **kwargs)

    monkeypatch.setattr(Collection, "get", get)
    return calls


def _listed(settings: Settings) -> dict[str, tuple[str, str]]:
    return {d.doc_id: (d.title, d.content_hash) for d in open_store(settings).documents()}


def test_opening_reads_the_saved_listing_not_every_record(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.ingest([_write(tmp_path, n, t) for n, t in NOTES.items()])
    expected = {d.doc_id: (d.title, d.content_hash) for d in engine.documents()}
    full = _full_reads(monkeypatch)
    assert _listed(settings) == expected
    assert not full


def test_another_writers_additions_changes_and_removals_are_read_incrementally(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.ingest([_write(tmp_path, n, t) for n, t in list(NOTES.items())[:2]])
    reader = open_store(settings)
    assert {d.doc_id for d in reader.documents()} == {"otter.txt", "beaver.txt"}
    full = _full_reads(monkeypatch)
    engine.ingest([_write(tmp_path, "heron.txt", NOTES["heron.txt"])])
    engine.remove("beaver.txt")
    engine.set_metadata("otter.txt", title="Tool use in sea otters")
    listed = {d.doc_id: d.title for d in reader.documents()}
    assert listed == {"otter.txt": "Tool use in sea otters", "heron.txt": "heron"}
    assert not full  # read from the records written since, not all of them


def test_a_record_that_lands_with_an_old_time_is_still_listed(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.ingest([_write(tmp_path, "otter.txt", NOTES["otter.txt"])])
    reader = open_store(settings)
    assert len(reader.documents()) == 1
    # A writer whose clock is an hour behind (or whose write took that long to land).
    late = time.time_ns() - 3600 * 10**9
    monkeypatch.setattr(index.store.time, "time_ns", lambda: late)
    engine.ingest([_write(tmp_path, "heron.txt", NOTES["heron.txt"])])
    monkeypatch.undo()
    assert {d.doc_id for d in reader.documents()} == {"otter.txt", "heron.txt"}


def test_a_saved_listing_of_another_library_is_not_used(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    engine.ingest([_write(tmp_path, "otter.txt", NOTES["otter.txt"])])
    saved = settings.index_dir / "cache" / f"{settings.collection}-listing.json"
    other = Settings(index_dir=tmp_path / "other")
    Engine.open(other).ingest([_write(tmp_path, "heron.txt", NOTES["heron.txt"])])
    other_saved = other.index_dir / "cache" / f"{other.collection}-listing.json"
    assert saved.is_file() and other_saved.is_file()
    other_saved.write_text(saved.read_text())  # the wrong library's listing, same names
    assert {d.doc_id for d in open_store(other).documents()} == {"heron.txt"}


def test_a_writer_whose_clock_is_ahead_does_not_hide_later_writes(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead = time.time_ns() + 3600 * 10**9  # a machine whose clock is an hour fast
    monkeypatch.setattr(index.store.time, "time_ns", lambda: ahead)
    engine.ingest([_write(tmp_path, "otter.txt", NOTES["otter.txt"])])
    monkeypatch.undo()
    # The reader is on another machine: its own listing, read by its own clock.
    (settings.index_dir / "cache" / f"{settings.collection}-listing.json").unlink()
    reader = open_store(settings)
    assert len(reader.documents()) == 1
    engine.ingest([_write(tmp_path, "heron.txt", NOTES["heron.txt"])])
    engine.set_metadata("otter.txt", title="Tool use in sea otters")
    listed = {d.doc_id: d.title for d in reader.documents()}
    assert listed == {"otter.txt": "Tool use in sea otters", "heron.txt": "heron"}
