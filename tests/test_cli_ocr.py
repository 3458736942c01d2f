"""A scanned PDF through the command line: OCR'd on ingest, its quotes marked (OCR)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ui.cli import app

runner = CliRunner()
SCAN = Path(__file__).resolve().parent / "data" / "scans" / "specter-p2-scan.pdf"


def test_scanned_pdf_answers_with_quotes_marked_ocr(tmp_path: Path) -> None:
    index = ["--index-dir", str(tmp_path)]
    ingested = runner.invoke(app, ["ingest", str(SCAN), *index])
    assert ingested.exit_code == 0, ingested.output
    question = "What is the goal of learning representations of academic papers?"
    asked = runner.invoke(app, ["ask", question, "--no-bundled", "--json", *index])
    answer = json.loads(asked.stdout)
    assert answer["citations"] and all(c["ocr"] for c in answer["citations"])
    assert answer["citations"][0]["ocr_confidence"] > 0.8
    shown = runner.invoke(app, ["ask", question, "--no-bundled", *index])
    assert "(OCR)" in shown.stdout
    again = runner.invoke(app, ["ingest", str(SCAN), "--json", *index])
    assert json.loads(again.stdout)["files"][0]["status"] == "unchanged"  # no OCR again


def test_ocr_never_fails_the_scan_with_todays_message(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["ingest", str(SCAN), "--ocr", "never", "--index-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "no extractable text" in result.output and "run OCR" in result.output


def test_unknown_ocr_mode_is_a_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["ingest", str(SCAN), "--ocr", "maybe", "--index-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.output.strip() == "Error: --ocr must be auto, always or never, not 'maybe'"
