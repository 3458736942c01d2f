"""`python -m eval.bench.pdfs`: how well the pipeline reads the nine vendored journal PDFs.

    python -m eval.bench.pdfs                       # the table
    python -m eval.bench.pdfs --json                # the figures as JSON
    python -m eval.bench.pdfs --out docs/x.md       # and the table as Markdown
    python -m eval.bench.pdfs --reference-dir DIR   # with CERMINE's Hindawi text (never vendored)

Each PDF goes through the project's own pipeline, `clean(load_file(path))` and
`chunk_document`, and is scored against hand-made gold (eval/datasets/pdfs/gold/) and other
tools' text of the same articles. The rules are in docs/pdfs.md; they live in
eval/bench/pdf_scoring.py.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, Field

from eval.bench.pdf_references import reference_sentences
from eval.bench.pdf_scoring import (
    FoundHeading,
    GoldHeading,
    bad_symbols,
    count_furniture,
    furniture_patterns,
    glued_words,
    heading_key,
    line_number_leftovers,
    locate_headings,
    match_headings,
    plain,
    splice_kinds,
    squash,
    title_score,
    word_list,
)
from index.errors import PaperTrailError
from index.models import Document
from index.pdf import OcrEngine

__all__ = ["DATA_DIR", "PdfReport", "PdfResult", "evaluate_pdfs", "format_markdown", "format_table"]

DATA_DIR = Path(__file__).parent.parent / "datasets" / "pdfs"
_EXAMPLES = 8  # examples of each defect kept in the JSON


class PdfResult(BaseModel):
    """Every figure for one PDF; rates are derived from these counts."""

    file: str
    pages: int
    load_seconds: float = Field(description="index.loaders.load_file, wall clock.")
    clean_seconds: float = Field(description="index.cleaning.clean, wall clock.")
    pypdf_seconds: float = Field(
        description="pypdf's plain extract_text of every page, timed in the same run: the "
        "pypdf-only path that the issue's speed goal compares with."
    )
    warnings: int
    title: str
    title_exact: bool
    title_contains: bool
    labels_right: int = Field(
        description="Pages whose label equals the printed one (or both none)."
    )
    headings_gold: int
    headings_found: int
    headings_matched: int = Field(description="Gold headings found with the right text and page.")
    headings_level_right: int = Field(description="... and the right level.")
    headings_missed: list[str] = Field(default_factory=list)
    headings_false: list[str] = Field(default_factory=list, description="Found, not in gold.")
    headings_located: int = Field(description="Gold headings whose words are in the text.")
    section_sentences: int = Field(description="Body sentences under a located gold heading.")
    section_right: int = Field(description="... whose section_at is that heading.")
    nonbody_pages: int = Field(description="Gold figure and table pages.")
    nonbody_flagged: int = Field(description="... with a warning naming them, or < 50 % body.")
    kind_page_chars: int = Field(description="Characters on gold reference and caption pages.")
    kind_page_right: int = Field(description="... labelled reference / caption respectively.")
    reference_source: str
    reference_sentences: int
    reference_verbatim: int
    reference_loose: int = Field(description="Found ignoring spaces, punctuation and case.")
    reference_anywhere: int = Field(
        0,
        description="Found verbatim in the whole cleaned text, whatever its kind: the text's "
        "fidelity apart from its labelling (GROBID puts footnotes and captions in its body).",
    )
    reference_missing: list[str] = Field(default_factory=list)
    glued: int
    glued_examples: list[str] = Field(default_factory=list)
    line_numbers: int
    line_number_examples: list[str] = Field(default_factory=list)
    furniture: int = Field(description="Running-head/footer lines found in body text.")
    page_numbers: int = Field(description="Pages whose printed number is at an edge of body text.")
    symbols: dict[str, int] = Field(default_factory=dict)
    body_sentences: int
    spliced_sentences: int
    splice_kinds: dict[str, int] = Field(default_factory=dict)
    splice_examples: list[str] = Field(default_factory=list)
    chunks: int
    chunk_kinds: dict[str, int] = Field(default_factory=dict)


class PdfReport(BaseModel):
    date: str
    command: str
    results: list[PdfResult]


def evaluate_pdfs(
    data_dir: Path = DATA_DIR,
    *,
    reference_dir: Path | None = None,
    only: list[str] | None = None,
    repeat: int = 1,
) -> list[PdfResult]:
    """Score every vendored PDF (or those whose stem is in `only`), in file-name order.

    Timings are the fastest of `repeat` runs: on a shared machine the slowest say more
    about the neighbours than about the code.
    """
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # font warnings, not our findings
    paths = sorted(data_dir.glob("*.pdf"))
    if only:
        unknown = set(only) - {p.stem for p in paths}
        if unknown:
            raise ValueError(
                f"no vendored PDF named {sorted(unknown)}; have {[p.stem for p in paths]}"
            )
        paths = [p for p in paths if p.stem in only]
    _warm_up(paths)
    return [_evaluate(p, data_dir, reference_dir, repeat) for p in paths]


def _warm_up(paths: list[Path]) -> None:
    # The first load pays for imports; time the pipeline, not Python's import system.
    from index.loaders import load_file

    if paths:
        load_file(min(paths, key=lambda p: p.stat().st_size))


def _evaluate(
    path: Path,
    data_dir: Path,
    reference_dir: Path | None,
    repeat: int,
    *,
    ocr: OcrEngine | None = None,
) -> PdfResult:
    """Every figure for one PDF; `ocr` reads its scanned pages (eval.bench.ocr)."""
    from index.chunking import chunk_document
    from index.cleaning import clean
    from index.loaders import load_file
    from index.settings import ChunkingSettings

    gold = json.loads((data_dir / "gold" / f"{path.stem}.json").read_text(encoding="utf-8"))
    load_times, clean_times = [], []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        raw = load_file(path, ocr=ocr)
        t1 = time.perf_counter()
        doc = clean(raw)
        load_times.append(t1 - t0)
        clean_times.append(time.perf_counter() - t1)
    kinds = _kinds(doc)
    masked = _body_only(doc, kinds)
    body_sentences = _sentences(masked)
    chunk_kinds = Counter(c.kind for c in chunk_document(doc, ChunkingSettings()))
    return PdfResult(
        file=path.name,
        pages=len(doc.pages),
        load_seconds=round(min(load_times), 4),
        clean_seconds=round(min(clean_times), 4),
        warnings=len(doc.warnings),
        title=doc.title,
        title_exact=title_score(doc.title, gold["title"])[0],
        title_contains=title_score(doc.title, gold["title"])[1],
        labels_right=sum(
            p.label == want for p, want in zip(doc.pages, gold["page_labels"], strict=False)
        ),
        **_heading_figures(doc, gold, body_sentences),
        **_page_kind_figures(doc, gold, kinds),
        **_reference_figures(path.stem, data_dir, reference_dir, masked, doc.text),
        **_leftover_figures(path, doc, gold, masked, repeat),
        **_splice_figures(body_sentences),
        chunks=sum(chunk_kinds.values()),
        chunk_kinds=dict(sorted(chunk_kinds.items())),
    )


def _kinds(doc: Document) -> list[str]:
    """The kind of every character of doc.text; section headings count as "heading"."""
    kinds = ["body"] * len(doc.text)
    for s in doc.sections:
        kinds[s.start : s.end] = ["heading"] * (s.end - s.start)
    for e in doc.elements:
        kinds[e.start : e.end] = [e.kind] * (e.end - e.start)
    return kinds


def _body_only(doc: Document, kinds: list[str]) -> str:
    """The document text with every non-body character (elements, headings) made a newline.

    Same length as doc.text, so offsets still hold, and no sentence runs across a gap.
    """
    return "".join(ch if k == "body" else "\n" for ch, k in zip(doc.text, kinds, strict=True))


def _sentences(masked: str) -> list[tuple[int, str]]:
    from index.sentences import split_sentences

    return [(s.start, s.text) for s in split_sentences(masked)]


def _heading_figures(doc: Document, gold: dict, sentences: list[tuple[int, str]]) -> dict:
    golds = [GoldHeading(**h) for h in gold["headings"]]
    found = [
        FoundHeading(s.heading, s.level, _page_of(doc, s.start), s.start) for s in doc.sections
    ]
    match = match_headings(golds, found)
    matched_gold = {g for g, _ in match.pairs}
    matched_found = {f for _, f in match.pairs}
    located = locate_headings(doc.text, golds, [p.start for p in doc.pages])
    total, right = _section_score(doc, golds, located, gold, sentences)
    return {
        "headings_gold": match.gold,
        "headings_found": match.found,
        "headings_matched": len(match.pairs),
        "headings_level_right": match.level_right,
        "headings_missed": [g.text for i, g in enumerate(golds) if i not in matched_gold],
        "headings_false": [f.text for i, f in enumerate(found) if i not in matched_found],
        "headings_located": sum(x is not None for x in located),
        "section_sentences": total,
        "section_right": right,
    }


def _page_of(doc: Document, offset: int) -> int:
    page = doc.page_at(offset)
    return page.page if page else 1


def _section_score(
    doc: Document,
    golds: list[GoldHeading],
    located: list[int | None],
    gold: dict,
    sentences: list[tuple[int, str]],
) -> tuple[int, int]:
    """Body sentences under a located gold heading, and how many section_at gets right.

    A sentence's true section is the last located gold heading before it. Sentences before
    the first one (title, authors, an unheaded abstract) are not scored, nor those at the
    top of a page that continues a section missing from the file (gold unknown_section_pages).
    """
    marks = sorted((pos, g) for pos, g in zip(located, golds, strict=True) if pos is not None)
    unknown = set(gold.get("unknown_section_pages", []))
    total = right = 0
    for start, _ in sentences:
        before = [g for pos, g in marks if pos <= start]
        if not before:
            continue
        page = _page_of(doc, start)
        if page in unknown and before[-1].page < page:
            continue
        total += 1
        section = doc.section_at(start)
        right += section is not None and heading_key(before[-1].text) in {
            heading_key(section.heading),
            heading_key(section.title),
        }
    return total, right


def _page_range(doc: Document, page: int) -> tuple[int, int]:
    start = doc.pages[page - 1].start
    end = doc.pages[page].start if page < len(doc.pages) else len(doc.text)
    return start, end


def _page_kind_figures(doc: Document, gold: dict, kinds: list[str]) -> dict:
    warned = {w.page for w in doc.warnings if w.page is not None}
    flagged = 0
    pages = [p for p in gold["figure_pages"] + gold["table_pages"] if p <= len(doc.pages)]
    for p in pages:
        start, end = _page_range(doc, p)
        text = [i for i in range(start, end) if not doc.text[i].isspace()]
        body = sum(kinds[i] == "body" for i in text)
        flagged += p in warned or body < 0.5 * len(text) or not text
    want = {p: "reference" for p in gold["reference_pages"]}
    want.update({p: "caption" for p in gold["caption_pages"]})
    chars = kind_right = 0
    for p, kind in want.items():
        if p > len(doc.pages):
            continue
        start, end = _page_range(doc, p)
        for i in range(start, end):
            if not doc.text[i].isspace():
                chars += 1
                kind_right += kinds[i] == kind
    return {
        "nonbody_pages": len(pages),
        "nonbody_flagged": flagged,
        "kind_page_chars": chars,
        "kind_page_right": kind_right,
    }


def _reference_figures(
    stem: str, data_dir: Path, extra: Path | None, masked: str, whole: str
) -> dict:
    sentences, source = reference_sentences(stem, data_dir / "reference", extra)
    body_plain, body_squash, whole_plain = plain(masked), squash(masked), plain(whole)
    verbatim = loose = anywhere = 0
    missing: list[str] = []
    for s in sentences:
        found = plain(s) in body_plain
        verbatim += found
        loose += squash(s) in body_squash
        anywhere += plain(s) in whole_plain
        if not found and len(missing) < _EXAMPLES:
            missing.append(s)
    return {
        "reference_source": source,
        "reference_sentences": len(sentences),
        "reference_verbatim": verbatim,
        "reference_loose": loose,
        "reference_anywhere": anywhere,
        "reference_missing": missing,
    }


def _leftover_figures(path: Path, doc: Document, gold: dict, masked: str, repeat: int) -> dict:
    times = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        raw_pages = _raw_pages(path)
        times.append(time.perf_counter() - t0)
    pypdf_seconds = min(times)
    glued = glued_words(masked, word_list())
    numbers = line_number_leftovers(masked)
    return {
        "pypdf_seconds": round(pypdf_seconds, 4),
        "glued": len(glued),
        "glued_examples": glued[:_EXAMPLES],
        "line_numbers": len(numbers),
        "line_number_examples": [
            " ".join(masked[max(0, i - 25) : i + 25].split()) for i in numbers
        ][:_EXAMPLES],
        "furniture": count_furniture(plain(masked), furniture_patterns(raw_pages)),
        "page_numbers": _page_numbers_left(doc, gold["page_labels"], masked),
        "symbols": dict(bad_symbols(doc.text)),
    }


def _raw_pages(path: Path) -> list[str]:
    """pypdf's plain page text: a fixed raw extraction to find repeated lines in.

    Independent of the loader under test, so the yardstick does not move when it changes.
    """
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(str(path)).pages]


def _page_numbers_left(doc: Document, labels: list[str | None], masked: str) -> int:
    """Pages whose printed number stands alone within 100 characters of a body-text edge."""
    import re

    left = 0
    for page, label in enumerate(labels, start=1):
        if label is None or page > len(doc.pages):
            continue
        start, end = _page_range(doc, page)
        text = " ".join(masked[start:end].split())
        edges = text[:100] + " \n " + text[-100:]
        left += bool(re.search(rf"(?<![\w.,]){re.escape(label)}(?!\w|[.,]\d)", edges))
    return left


def _splice_figures(sentences: list[tuple[int, str]]) -> dict:
    kinds: Counter[str] = Counter()
    spliced = 0
    examples: list[str] = []
    for _, text in sentences:
        found = splice_kinds(text)
        if found:
            spliced += 1
            kinds.update(found)
            if len(examples) < _EXAMPLES:
                examples.append(" ".join(text.split())[:200])
    return {
        "body_sentences": len(sentences),
        "spliced_sentences": spliced,
        "splice_kinds": dict(sorted(kinds.items())),
        "splice_examples": examples,
    }


# ---------------------------------------------------------------------------------------------
# Output

# (label, numerator, denominator or None for a plain count, show as percentage)
_ROWS = [
    ("title right", lambda r: r.title_exact, lambda r: 1, False),
    ("page labels right", lambda r: r.labels_right, lambda r: r.pages, False),
    ("headings found (text)", lambda r: r.headings_matched, lambda r: r.headings_gold, False),
    (
        "headings found (text+level)",
        lambda r: r.headings_level_right,
        lambda r: r.headings_gold,
        False,
    ),
    ("false headings / found", lambda r: len(r.headings_false), lambda r: r.headings_found, False),
    ("section right (body sent.)", lambda r: r.section_right, lambda r: r.section_sentences, True),
    ("figure/table pages flagged", lambda r: r.nonbody_flagged, lambda r: r.nonbody_pages, False),
    ("ref./caption pages labelled", lambda r: r.kind_page_right, lambda r: r.kind_page_chars, True),
    (
        "ref. sentences verbatim",
        lambda r: r.reference_verbatim,
        lambda r: r.reference_sentences,
        True,
    ),
    ("ref. sentences, loose", lambda r: r.reference_loose, lambda r: r.reference_sentences, True),
    (
        "ref. sentences, any kind",
        lambda r: r.reference_anywhere,
        lambda r: r.reference_sentences,
        True,
    ),
    ("glued words (>=25 letters)", lambda r: r.glued, None, False),
    ("line numbers inline", lambda r: r.line_numbers, None, False),
    ("running heads left", lambda r: r.furniture, None, False),
    ("page numbers left", lambda r: r.page_numbers, None, False),
    ("bad symbols", lambda r: sum(r.symbols.values()), None, False),
    ("body sentences spliced", lambda r: r.spliced_sentences, lambda r: r.body_sentences, True),
    (
        "non-body chunks",
        lambda r: r.chunks - r.chunk_kinds.get("body", 0),
        lambda r: r.chunks,
        True,
    ),
    ("warnings", lambda r: r.warnings, None, False),
]


def _cell(num: float, den: float | None, pct: bool) -> str:
    if den is None:
        return str(int(num))
    if not den:
        return "-"
    return f"{100 * num / den:.1f}%" if pct else f"{int(num)}/{int(den)}"


def _short(file: str) -> str:
    return "-".join(file.removesuffix(".pdf").split("-")[:2])


def _grid(results: list[PdfResult]) -> tuple[list[str], list[list[str]]]:
    header = ["metric", *(_short(r.file) for r in results), "total"]
    rows = []
    for label, num, den, pct in _ROWS:
        cells = [_cell(num(r), den(r) if den else None, pct) for r in results]
        total_den = sum(den(r) for r in results) if den else None
        rows.append([label, *cells, _cell(sum(num(r) for r in results), total_den, pct)])
    seconds = [r.load_seconds + r.clean_seconds for r in results]
    speed = [f"{r.pages / s:.1f}" if s else "-" for r, s in zip(results, seconds, strict=True)]
    total = sum(r.pages for r in results) / sum(seconds) if sum(seconds) else 0.0
    rows.append(["pages/s (load+clean)", *speed, f"{total:.1f}"])
    plain_speed = [f"{r.pages / r.pypdf_seconds:.1f}" if r.pypdf_seconds else "-" for r in results]
    plain_total = sum(r.pypdf_seconds for r in results)
    pages = sum(r.pages for r in results)
    rows.append(
        [
            "pages/s (pypdf text only)",
            *plain_speed,
            f"{pages / plain_total:.1f}" if plain_total else "-",
        ]
    )
    return header, rows


def format_table(results: list[PdfResult]) -> str:
    """Metrics as rows, PDFs as columns, totals last: for the terminal."""
    header, rows = _grid(results)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def format_markdown(report: PdfReport) -> str:
    """The table and each PDF's misses, as Markdown."""
    header, rows = _grid(report.results)
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    table += ["| " + " | ".join(row) + " |" for row in rows]
    parts = [f"`{report.command}` ({report.date})", "\n".join(table), _totals(report.results)]
    for r in report.results:
        parts.append(_details(r))
    return "\n\n".join(parts) + "\n"


def _totals(results: list[PdfResult]) -> str:
    chunks: Counter[str] = Counter()
    splices: Counter[str] = Counter()
    symbols: Counter[str] = Counter()
    for r in results:
        chunks.update(r.chunk_kinds)
        splices.update(r.splice_kinds)
        symbols.update(r.symbols)

    def show(c: Counter[str]) -> str:
        return ", ".join(f"{k} {v}" for k, v in c.most_common()) or "none"

    return (
        f"Chunks by kind: {show(chunks)}. Spliced body sentences by material: {show(splices)}. "
        f"Bad symbols: {show(symbols)}."
    )


def _details(r: PdfResult) -> str:
    def quote(items: list[str]) -> str:
        return "; ".join(f"`{x[:80]}`" for x in items[:_EXAMPLES]) or "none"

    return "\n".join(
        [
            f"**{r.file}**: title `{r.title[:90]}`",
            f"- headings missed: {quote(r.headings_missed)}",
            f"- false headings ({len(r.headings_false)}): {quote(r.headings_false)}",
            f"- glued: {quote(r.glued_examples)}; line numbers: {quote(r.line_number_examples)}",
            f"- spliced: {quote(r.splice_examples[:3])}",
        ]
    )


def run(
    reference_dir: Annotated[
        Path | None,
        typer.Option(help="Folder with CERMINE's *.cermine-content.xml (AGPL; never vendored)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write the table as Markdown.")] = None,
    only: Annotated[
        list[str] | None, typer.Option(help="Only this PDF (file stem); repeat for more.")
    ] = None,
    repeat: Annotated[
        int, typer.Option(min=1, help="Time each PDF this many times and keep the fastest.")
    ] = 1,
) -> None:
    """Measure how the pipeline reads the nine vendored journal PDFs (docs/pdfs.md)."""
    command = "python -m eval.bench.pdfs" + (" --reference-dir DIR" if reference_dir else "")
    command += "".join(f" --only {o}" for o in only or [])
    command += f" --repeat {repeat}" if repeat > 1 else ""
    try:
        results = evaluate_pdfs(reference_dir=reference_dir, only=only, repeat=repeat)
    except (ValueError, PaperTrailError) as exc:  # a wrong --only, or a PDF the loader refuses
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from exc
    report = PdfReport(date=date.today().isoformat(), command=command, results=results)
    typer.echo(report.model_dump_json(indent=2) if as_json else format_table(results))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(format_markdown(report), encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    typer.run(run)


if __name__ == "__main__":
    main()
