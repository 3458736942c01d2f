"""Shared fixtures: temporary indexes on the real model and Chroma, generated PDFs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

# No network here: no telemetry, no analytics, no hub look-ups.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# The suite behaves alike whether or not this machine has the local model (`make llm`):
# `serve` offers it only when asked. tests/test_llm_real.py asks for it.
os.environ.setdefault("PAPERTRAIL_LLM__LOCAL", "false")

from rag import Engine, Settings

MakePdf = Callable[..., Path]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for an empty index in a temporary folder."""
    return Settings(index_dir=tmp_path / "index")


@pytest.fixture
def engine(settings: Settings) -> Engine:
    """An engine on an empty temporary index (real model, real Chroma)."""
    return Engine.open(settings)


@pytest.fixture(scope="session")
def bundled_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An engine whose index holds the bundled MSC article; shared, so treat it as read-only."""
    engine = Engine.open(Settings(index_dir=tmp_path_factory.mktemp("bundled") / "index"))
    report = engine.ensure_bundled_corpus()
    assert report is not None and report.ok, report
    yield engine


def _write_pdf(path: Path, pages: list[list[str]], *, title: str | None = None) -> Path:
    """A real PDF with one text line per entry; long lines are wrapped by the caller."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    if title:
        pdf.setTitle(title)
    _, height = A4
    for lines in pages:
        y = height - 60
        for line in lines:
            if line == "":
                y -= 14
                continue
            pdf.drawString(50, y, line)
            y -= 14
        pdf.showPage()
    pdf.save()
    return path


@pytest.fixture
def make_pdf(tmp_path: Path) -> MakePdf:
    """make_pdf(name, pages=[[line, ...], ...], title=None) -> Path of a generated PDF."""

    def make(name: str, pages: list[list[str]], title: str | None = None) -> Path:
        return _write_pdf(tmp_path / name, pages, title=title)

    return make


class ChromaServer:
    """`chroma run` on a loopback port; stop() and start() again to stage an outage."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        chroma = Path(sys.executable).with_name("chroma")
        where = ["--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)]
        self._proc = subprocess.Popen(
            [str(chroma), "run", *where],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        pytest.fail("chroma run did not start within 60 s")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=20)
            self._proc = None


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    """A running Chroma server with its data in a temporary folder."""
    server = ChromaServer(tmp_path / "chroma-server")
    server.start()
    try:
        yield server
    finally:
        server.stop()
