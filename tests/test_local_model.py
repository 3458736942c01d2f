"""Assembling the local model from its part packages, on a small release made here (the
real one, 1.1 GB, is assembled by `make llm` and tested by `make test-llm`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from index.settings import LocalModelSettings
from rag import local_model
from rag.local_model import LocalModelError, ModelRelease, assemble, server_python
from ui.cli import app


def _release(tmp_path: Path, contents: list[bytes]) -> tuple[ModelRelease, dict[int, Path]]:
    files = {}
    for n, data in enumerate(contents, start=1):
        files[n] = tmp_path / "site" / f"part{n:02d}.bin"
        files[n].parent.mkdir(parents=True, exist_ok=True)
        files[n].write_bytes(data)
    whole = b"".join(contents)
    release = ModelRelease(
        name="test model",
        file="model.gguf",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        package="test-model-part{n}",
        version="1.0",
        parts=tuple((len(c), hashlib.sha256(c).hexdigest()) for c in contents),
    )
    return release, files


@pytest.fixture
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[int, Path]:
    contents = [b"GGUF" + bytes(range(256)) * 40, b"second part" * 1000, b"tail"]
    model, files = _release(tmp_path, contents)
    monkeypatch.setattr(local_model, "MODEL", model)
    monkeypatch.setattr(local_model, "part_file", lambda n: files.get(n))
    return files


def test_the_parts_are_assembled_once_into_the_cache_and_checked(release, tmp_path):
    cache = tmp_path / "cache"
    path = assemble(cache)
    assert path.read_bytes() == b"".join(p.read_bytes() for p in release.values())
    assert (cache / "model.gguf.sha256").read_text().strip() == local_model.MODEL.sha256
    first = path.stat().st_mtime_ns
    release[2].unlink()  # assembled: the parts are not read again
    assert assemble(cache) == path and path.stat().st_mtime_ns == first


def test_a_missing_part_is_one_line_naming_its_package(release, tmp_path, monkeypatch):
    monkeypatch.setattr(local_model, "part_file", lambda n: None if n == 2 else release[n])
    with pytest.raises(LocalModelError) as err:
        assemble(tmp_path / "cache")
    message = str(err.value)
    assert "part 2 of 3" in message and "test-model-part2==1.0" in message
    assert "make run-llm" in message and "\n" not in message
    assert not list((tmp_path / "cache").glob("*"))  # nothing half-written is left


def test_a_corrupt_part_is_named_and_nothing_is_kept(release, tmp_path):
    data = bytearray(release[2].read_bytes())
    data[100] ^= 0xFF  # same size, other bytes
    release[2].write_bytes(bytes(data))
    with pytest.raises(LocalModelError) as err:
        assemble(tmp_path / "cache")
    assert "part 2 of the local model" in str(err.value) and "corrupt" in str(err.value)
    assert "--force-reinstall --no-deps test-model-part2==1.0" in str(err.value)
    assert not (tmp_path / "cache" / "model.gguf").exists()


def test_a_truncated_part_is_refused_before_anything_is_copied(release, tmp_path):
    release[3].write_bytes(b"ta")
    with pytest.raises(LocalModelError, match=r"part 3 .* 2 bytes, not 4"):
        assemble(tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_a_changed_assembled_file_is_assembled_again(release, tmp_path):
    path = assemble(tmp_path / "cache")
    path.write_bytes(b"x" * local_model.MODEL.size)  # same size, written after the stamp
    assert assemble(tmp_path / "cache").read_bytes() == b"".join(
        p.read_bytes() for p in release.values()
    )


def test_a_server_python_that_does_not_exist_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "python"
    with pytest.raises(LocalModelError, match="PAPERTRAIL_LOCAL_MODEL__PYTHON names no file"):
        server_python(LocalModelSettings(python=missing))


def test_ask_with_the_local_model_missing_a_part_is_one_line_and_exit_1(
    release, tmp_path, monkeypatch
):
    monkeypatch.setattr(local_model, "part_file", lambda n: None if n == 3 else release[n])
    monkeypatch.setenv("PAPERTRAIL_LOCAL_MODEL__CACHE_DIR", str(tmp_path / "cache"))
    result = CliRunner().invoke(
        app,
        ["ask", "Where are MSCs obtained from?", "--llm", "local", "--index-dir", str(tmp_path)],
    )
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: part 3 of 3 of the local model")
