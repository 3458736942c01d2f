"""Metadata from the PDF alone, scored against the nine CC BY PDFs' true bibliography.

    python -m eval.bench.metadata [--json]

For each PDF in eval/datasets/pdfs/, index.pdf.metadata.pdf_metadata (no record) is
compared with bibliography.json: title (case, spacing and punctuation ignored), first
author's family name, year, and DOI (case ignored). A DOI counts as right when it equals
the true one where the PDF carries it, and when none is found where the PDF carries none
(a DOI made up is wrong). Goal (#27): at least 8 of 9 on each field.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path

from index.models import DocumentMetadata
from index.pdf.metadata import pdf_metadata

PDFS = Path(__file__).resolve().parent.parent / "datasets" / "pdfs"
FIELDS = ("title", "first_author", "year", "doi")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    works = json.loads((PDFS / "bibliography.json").read_text(encoding="utf-8"))["works"]
    rows = [_score(w, pdf_metadata(PDFS / w["file"])) for w in works]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        print(_table(rows))
    return 0 if all(sum(r[f]["right"] for r in rows) >= 8 for f in FIELDS) else 1


def _score(work: dict, meta: DocumentMetadata) -> dict:
    first = meta.creators[0].display if meta.creators else None
    true_first = work["authors"][0].rsplit(" ", 1)[0]
    true_doi = work["doi"] if work["doi_printed"] else None
    found = {"title": meta.title, "first_author": first, "year": meta.year, "doi": meta.doi}
    right = {
        "title": _norm(meta.title) == _norm(work["title"]),
        "first_author": _norm(first) == _norm(true_first),
        "year": meta.year == work["year"],
        "doi": (meta.doi or "").lower() == (true_doi or "").lower(),
    }
    row: dict = {"file": work["file"]}
    for f in FIELDS:
        source = meta.sources.get("creators" if f == "first_author" else f)
        row[f] = {"right": right[f], "found": found[f], "source": source}
    return row


def _norm(text: str | None) -> str:
    text = unicodedata.normalize("NFKD", text or "").replace("’", "'")
    return re.sub(r"[^\w']+", " ", text).strip().casefold()


def _table(rows: list[dict]) -> str:
    lines = [
        "| PDF | title | first author | year | DOI |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [_cell(r[f]) for f in FIELDS]
        lines.append(f"| {r['file'].removesuffix('.pdf')} | " + " | ".join(cells) + " |")
    totals = [f"**{sum(r[f]['right'] for r in rows)}/{len(rows)}**" for f in FIELDS]
    lines.append("| right | " + " | ".join(totals) + " |")
    return "\n".join(lines)


def _cell(value: dict) -> str:
    mark = "✓" if value["right"] else "✗"
    found = value["found"]
    shown = "—" if found is None else str(found)
    if len(shown) > 28:
        shown = shown[:25] + "…"
    return f"{mark} {shown} ({value['source'] or 'none'})"


if __name__ == "__main__":
    sys.exit(main())
