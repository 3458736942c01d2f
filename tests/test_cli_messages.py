"""What `papertrail` says: help texts, counts, headers, skipped files and one-line errors."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ui.cli import app

runner = CliRunner()


def _flat(text: str) -> str:
    """Help text with its line wrapping undone."""
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            "ask",
            ["[default: .papertrail; env: PAPERTRAIL_INDEX_DIR]", "PAPERTRAIL_RETRIEVAL__TOP_K"],
        ),
        ("ingest", ["[default: all-MiniLM-L6-v2; env: PAPERTRAIL_EMBED_MODEL]"]),
        ("list", ["[default: papertrail; env: PAPERTRAIL_COLLECTION]", "PAPERTRAIL_CHROMA_URL"]),
        ("serve", ["[default: 7860]", "PAPERTRAIL_INDEX_DIR"]),
        ("eval", ["[default: test for benchmarks, all otherwise]"]),
    ],
)
def test_help_shows_defaults_and_environment_variables(command: str, expected: list[str]) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    for text in expected:
        assert text in _flat(result.stdout)


def test_serve_on_a_busy_port_is_one_line_naming_the_port_option(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port), "--index-dir", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "--port" in lines[0], lines


def test_counts_of_one_are_singular(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Coral polyps host photosynthetic algae.")
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"not a pdf at all")
    index = str(tmp_path / "index")
    result = runner.invoke(app, ["ingest", str(note), str(bad), "--index-dir", index])
    assert "note.txt (1 chunk)" in result.stdout
    assert result.stdout.strip().endswith("1 chunk of 1 document stored; 1 file failed")
    listed = runner.invoke(app, ["list", "--index-dir", index]).stdout
    assert "(s)" not in listed and "1 pages" not in listed and "1 chunks" not in listed
    doctor = runner.invoke(app, ["doctor", "--index-dir", index])
    assert doctor.stdout.strip() == "ok: 1 document, no orphaned records"


def test_list_prints_a_header_and_json_stays_a_bare_list(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Coral polyps host photosynthetic algae.")
    index = str(tmp_path / "index")
    assert runner.invoke(app, ["ingest", str(note), "--index-dir", index]).exit_code == 0
    header, row = runner.invoke(app, ["list", "--index-dir", index]).stdout.splitlines()
    assert header.split() == ["ID", "TITLE", "PAGES", "CHUNKS", "ADDED"]
    assert row.startswith("note.txt ")
    listed = json.loads(runner.invoke(app, ["list", "--json", "--index-dir", index]).stdout)
    assert [d["doc_id"] for d in listed] == ["note.txt"]


def test_folder_ingest_names_the_files_it_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "note.txt").write_text("Coral polyps host photosynthetic algae.")
    (folder / "figure-1.png").write_bytes(b"\x89PNG\r\n")
    (folder / "note.txt.meta.json").write_text('{"title": "Coral note"}')
    result = runner.invoke(app, ["ingest", str(folder), "--index-dir", str(tmp_path / "i")])
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 1 and "figure-1.png" in skipped[0], result.stderr
    assert "meta.json" not in skipped[0]


def test_ask_on_an_empty_index_says_only_that_nothing_is_indexed(tmp_path: Path) -> None:
    empty = str(tmp_path / "empty")
    result = runner.invoke(app, ["ask", "What is R0?", "--no-bundled", "--index-dir", empty])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "Error: nothing is indexed; add documents with `papertrail ingest PATH`"
    ]


def test_pdf_reader_notes_become_one_warning_on_their_file(tmp_path: Path, make_pdf) -> None:
    pdf = make_pdf("cut.pdf", [["The Lindqvist observatory counted 4127 meteors."]])
    data = pdf.read_bytes()  # a wrong xref offset: pypdf logs it, then rebuilds the table
    pdf.write_bytes(re.sub(rb"startxref\s+(\d+)", lambda m: b"startxref\n1", data))
    result = runner.invoke(app, ["ingest", str(pdf), "--index-dir", str(tmp_path / "index")])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert not [line for line in lines if line.startswith("incorrect startxref")]  # pypdf's own
    assert f"  warning: {pdf}: PDF reader: incorrect startxref pointer(1)" in lines


def test_list_clips_a_long_title_to_the_terminal_and_json_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    title = "Understanding the barriers to setting up a healthcare quality improvement process " * 2
    note = tmp_path / "qi.md"
    note.write_text(f"# {title.strip()}\n\nStaff shortages slowed every audit cycle.\n")
    index = str(tmp_path / "index")
    assert runner.invoke(app, ["ingest", str(note), "--index-dir", index]).exit_code == 0
    monkeypatch.setenv("COLUMNS", "80")
    header, row = runner.invoke(app, ["list", "--index-dir", index]).stdout.splitlines()
    assert len(row) <= 80 and "…" in row and row.startswith("qi.md ")
    added = row.split()[-2]
    assert header.index("ADDED") == row.index(added)  # the columns stay aligned
    listed = json.loads(runner.invoke(app, ["list", "--json", "--index-dir", index]).stdout)
    assert listed[0]["title"] == title.strip()
