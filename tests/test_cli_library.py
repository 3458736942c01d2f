"""The researcher's library through the command line: `ingest --zotero/--bib`, `list`,
`meta`, and `ask --in COLLECTION --cite FORMAT`."""

from __future__ import annotations

import json
from pathlib import Path

import bibtexparser
import rispy
from typer.testing import CliRunner
from zotero_library import PDFS, nine_pdf_library

from ui.cli import app

runner = CliRunner()
QUESTION = "What complications do inferior vena cava filters cause?"


def test_zotero_library_through_the_cli_lists_meta_and_cites_as_bibtex(tmp_path: Path) -> None:
    lib = nine_pdf_library(tmp_path / "Zotero", linked_dir=tmp_path / "Papers")
    index = ["--index-dir", str(tmp_path / "index")]
    ingested = runner.invoke(app, ["ingest", "--zotero", str(lib.data_dir), *index])
    assert ingested.exit_code == 0, ingested.output
    assert "11 items; 9 added, 0 changed, 0 deleted, 0 unchanged, 2 without a file" in (
        ingested.stdout
    )
    assert "attachment file missing" in ingested.stderr  # the missing PDF, one line
    again = runner.invoke(app, ["ingest", "--zotero", str(lib.data_dir), *index])
    assert "0 added, 0 changed, 0 deleted, 9 unchanged" in again.stdout

    listed = runner.invoke(app, ["list", *index])
    assert "Datta et al. 2010" in listed.stdout
    doc = "bmc-jtmo-2010-dvt-prophylaxis-trauma.pdf"
    fixed = runner.invoke(app, ["meta", doc, "--pages", "1-11", *index])
    assert fixed.exit_code == 0, fixed.output
    assert "pages     1-11  [user]" in fixed.stdout and "year      2010  [zotero]" in fixed.stdout
    shown = json.loads(runner.invoke(app, ["meta", doc, "--json", *index]).stdout)
    assert shown["metadata"]["pages"] == "1-11" and shown["collections"]

    asked = runner.invoke(app, ["ask", QUESTION, "--no-bundled", "--in", "Thesis", *index])
    assert asked.exit_code == 0, asked.output
    assert "Datta et al. (2010), Journal of Trauma Management & Outcomes 4:1–11" in asked.stdout
    assert "https://doi.org/10.1186/1752-2897-4-1" in asked.stdout

    bib = runner.invoke(app, ["ask", QUESTION, "--no-bundled", "--cite", "bibtex", *index])
    entries = bibtexparser.parse_string(bib.stdout).entries
    datta = next(e for e in entries if e.fields_dict["doi"].value == "10.1186/1752-2897-4-1")
    assert datta.fields_dict["pages"].value.replace("--", "-") == "1-11"  # the correction
    ris = runner.invoke(app, ["ask", QUESTION, "--no-bundled", "--cite", "ris", *index])
    assert any(r.get("doi") == "10.1186/1752-2897-4-1" for r in rispy.loads(ris.stdout))
    csl = runner.invoke(app, ["ask", QUESTION, "--no-bundled", "--cite", "csl-json", *index])
    assert any(item.get("DOI") == "10.1186/1752-2897-4-1" for item in json.loads(csl.stdout))


def test_library_errors_are_one_line(tmp_path: Path) -> None:
    index = ["--index-dir", str(tmp_path / "index")]
    nothing = runner.invoke(app, ["ingest", *index])
    assert nothing.exit_code != 0 and "--zotero, --bib or --ris" in nothing.output
    bad_format = runner.invoke(app, ["ask", "q", "--cite", "word", *index])
    assert bad_format.exit_code != 0 and "--cite must be one of" in bad_format.output
    runner.invoke(app, ["ingest", str(PDFS / "elife-2012-e00353-a-good-life.pdf"), *index])
    unknown = runner.invoke(app, ["meta", "no-such.pdf", "--year", "2001", *index])
    assert unknown.exit_code != 0 and "no document 'no-such.pdf'" in unknown.output
    nowhere = runner.invoke(app, ["ask", "q", "--no-bundled", "--in", "Nowhere", *index])
    assert nowhere.exit_code != 0 and "no document is filed in 'Nowhere'" in nowhere.output
