"""The UI under stress: a lost Chroma server, long sessions, uploads that are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ui_fixtures import app_in_thread

from rag import Engine
from ui.chat import EXAMPLE_QUESTIONS, KEPT_EXCHANGES, ChatHandlers
from ui.documents import DocumentHandlers

pytestmark = [  # Gradio's own queue code trips pandas 3 deprecations; not ours to fix.
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

QUESTION = "Where are MSCs obtained from?"


def test_the_ui_names_a_chroma_outage_and_recovers_when_it_returns(
    chroma_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gradio_client import Client

    monkeypatch.setenv("PAPERTRAIL_CHROMA_URL", chroma_server.url)
    with app_in_thread(tmp_path / "cache") as (url, _):
        client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        assert _chat(client, QUESTION)[3] == ""
        chroma_server.stop()
        transcript, _, box, notice = _chat(client, QUESTION)
        assert f"Cannot reach the Chroma server at {chroma_server.url}" in notice
        assert box == QUESTION  # kept, to ask again
        listing = client.predict(api_name="/documents")[0]
        assert "Cannot reach the Chroma server" in listing
        chroma_server.start()
        transcript, _, box, notice = _chat(client, QUESTION)
        assert notice == "" and ">[1]</button>" in transcript and box == ""
        assert "Mesenchymal" in client.predict(api_name="/documents")[0]


def _chat(client: Any, question: str) -> tuple[str, str, str, str]:
    return client.predict(question, 120, 5, 0.55, api_name="/chat")


def test_what_each_answer_sends_stops_growing_with_the_session(bundled_engine: Engine) -> None:
    h = ChatHandlers(bundled_engine)
    exchanges: list[Any] = []
    sizes = []
    for turn in range(KEPT_EXCHANGES + 10):
        transcript, sources, exchanges, _, _ = h.chat(
            EXAMPLE_QUESTIONS[turn % len(EXAMPLE_QUESTIONS)], exchanges, 120, 5, 0.55
        )
        sizes.append(len(transcript) + len(sources))
    assert len(exchanges) == KEPT_EXCHANGES
    assert max(sizes) < 4 * sizes[0], sizes  # was 38 KB on turn 1 and 1.4 MB on turn 50
    assert sizes[-1] <= max(sizes[KEPT_EXCHANGES - 4 : KEPT_EXCHANGES]) * 1.1
    latest = h.chat(QUESTION, exchanges, 120, 5, 0.55)[1]
    assert latest.count('class="pt-context"') >= 1  # the newest sources keep their page


def test_a_refused_upload_leaves_no_copy_behind(engine: Engine, tmp_path: Path) -> None:
    engine.settings.max_file_mb = 0.001
    gradio_tmp = tmp_path / "gradio"
    gradio_tmp.mkdir()
    big, bad, good = gradio_tmp / "big.txt", gradio_tmp / "bad.pdf", gradio_tmp / "good.txt"
    big.write_text("Sea cucumbers breathe through their rear ends. " * 40)
    bad.write_bytes(b"not a pdf")
    good.write_text("Sea cucumbers eject their organs to deter predators.")
    report, table, _, _ = DocumentHandlers(engine).upload([str(big), str(bad), str(good)])
    assert "big.txt: file is 0.00188 MB; the limit is 0.001 MB" in report
    assert "bad.pdf" in report and "not a readable PDF" in report
    assert "good.txt" in table
    assert list(gradio_tmp.iterdir()) == []  # Gradio's temporary copies are gone
    kept = engine.settings.index_dir / "uploads"
    assert sorted(p.name for p in kept.iterdir()) == ["good.txt"]
