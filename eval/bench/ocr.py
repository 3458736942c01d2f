"""`python -m eval.bench.ocr`: the nine vendored PDFs scanned, read and asked, side by side
with the born-digital originals (issue #26).

    python -m eval.bench.ocr                        # all nine, every page
    python -m eval.bench.ocr --only acl-2020-specter --json
    python -m eval.bench.ocr --out docs/ocr-bench.md

Each PDF is scanned as a flatbed scanner would (eval.bench.scans: 200 dpi grey, askew,
blurred, noisy, image-only) and both copies go through the product's own path:

- **ingest**: an Engine each, `Engine.ingest` timed (OCR at the settings' 300 dpi on this
  machine's cores, layout, chunking, embedding), seconds per page;
- **words**: each page's words in the cleaned document, scanned against born-digital,
  aligned (difflib): the share of the born-digital words the scan reads the same; pages
  with fewer than 30 words (figures) are not scored;
- **structure**: eval.bench.pdfs' figures (title, page labels, gold headings) for both;
- **answers**: the questions of eval/datasets/pdfs/questions.jsonl asked of each index:
  hit@5 (a top-5 passage from the right paper holds a reference answer) and cited (a
  citation's quote holds it).
"""

from __future__ import annotations

import difflib
import itertools
import logging
import os
import re
import statistics
import tempfile
import time
import unicodedata
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, Field

from eval.bench.pdfs import DATA_DIR, PdfResult, _evaluate
from eval.bench.scans import scan_pages
from eval.datasets import read_jsonl
from eval.metrics import contains_answer
from index.models import Document

__all__ = ["OcrBenchReport", "PaperFigures", "page_words", "run_bench", "word_accuracy"]

_MIN_WORDS = 30  # a page with fewer words is a figure or a table of numbers: not scored
_SCAN_VERSION = 1  # of eval.bench.scans' defaults; scans made by another are made again


class PaperFigures(BaseModel):
    """One PDF, born-digital against its scan."""

    file: str
    pages: int
    pages_scored: int = Field(description="Pages with at least 30 born-digital words.")
    word_accuracy: float = Field(description="Median over scored pages.")
    word_accuracy_pages: list[float] = Field(default_factory=list)
    ocr_confidence: float | None = Field(None, description="Mean over OCR'd pages.")
    empty_pages: list[int] = Field(
        default_factory=list, description="Scanned pages read as empty where born-digital has text."
    )
    empty_warned: list[int] = Field(
        default_factory=list, description="... of those, the pages a warning names."
    )
    born: PdfResult
    scanned: PdfResult


class SideFigures(BaseModel):
    """One index (born-digital or scanned): ingest time and answers."""

    ingest_seconds: float
    seconds_per_page: float
    questions: int
    hit_at_5: float
    cited: float
    answer_contains: float
    misses: list[str] = Field(default_factory=list, description="Questions not cited.")


class OcrBenchReport(BaseModel):
    date: str
    command: str
    cores: int
    load_before: float = Field(description="1-minute load average when the run began.")
    papers: list[PaperFigures]
    born: SideFigures
    scanned: SideFigures


def page_words(doc: Document) -> list[list[str]]:
    """Each page's words (lower case, letters and digits) in the document's text."""
    starts = [p.start for p in doc.pages] + [len(doc.text)]
    return [re.findall(r"\w+", doc.text[a:b].lower()) for a, b in itertools.pairwise(starts)]


def word_accuracy(reference: list[str], read: list[str]) -> float:
    """Share of `reference`'s words that `read` has in the same order (aligned)."""
    if not reference:
        return 1.0
    matcher = difflib.SequenceMatcher(None, reference, read, autojunk=False)
    return sum(b.size for b in matcher.get_matching_blocks()) / len(reference)


def _holds(text: str, answers: list[str]) -> bool:
    """contains_answer, with curly quotes and dashes taken as punctuation too (SQuAD's rule
    strips ASCII punctuation only, so `life.”` would not hold `life`)."""
    plain = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return contains_answer(plain, answers)


def _scans(out: Path, only: list[str] | None) -> list[tuple[Path, Path]]:
    pairs = []
    for src in sorted(DATA_DIR.glob("*.pdf")):
        if only and src.stem not in only:
            continue
        scan = out / f"v{_SCAN_VERSION}" / src.name  # the same name: the same doc_id
        if not scan.is_file():
            scan_pages(src, scan)
        pairs.append((src, scan))
    if not pairs:
        raise typer.BadParameter(f"no vendored PDF named {only}")
    return pairs


def _ingest(paths: list[Path], index_dir: Path, ocr_cache: Path) -> tuple[object, float]:
    from rag import Engine, Settings

    settings = Settings(index_dir=index_dir, ocr={"cache_dir": ocr_cache})
    engine = Engine.open(settings)
    t0 = time.perf_counter()
    report = engine.ingest(paths)
    seconds = time.perf_counter() - t0
    if not report.ok:
        raise RuntimeError("; ".join(f.error or f.path for f in report.failed))
    return engine, seconds


def _ask(engine: object, questions: list, pages: int, seconds: float) -> SideFigures:
    hits = cited = contains = 0
    misses = []
    for q in questions:
        answer = engine.ask(q.question)  # type: ignore[attr-defined]
        gold = q.gold.doc_id if q.gold else None
        hit = any(p.doc_id == gold and _holds(p.text, q.answers) for p in answer.passages[:5])
        cite = any(c.doc_id == gold and _holds(c.quote, q.answers) for c in answer.citations)
        hits += hit
        cited += cite
        contains += _holds(answer.answer, q.answers)
        if not cite:
            misses.append(q.id)
    n = len(questions) or 1
    return SideFigures(
        ingest_seconds=round(seconds, 1),
        seconds_per_page=round(seconds / pages, 3),
        questions=len(questions),
        hit_at_5=round(hits / n, 3),
        cited=round(cited / n, 3),
        answer_contains=round(contains / n, 3),
        misses=misses,
    )


def _paper(
    born_doc: Document, scan_doc: Document, born: PdfResult, scanned: PdfResult
) -> PaperFigures:
    scores, empty = [], []
    for number, (ref, read) in enumerate(
        zip(page_words(born_doc), page_words(scan_doc), strict=False), start=1
    ):
        if len(ref) >= _MIN_WORDS:
            scores.append(round(word_accuracy(ref, read), 4))
        if ref and not read:
            empty.append(number)
    warned = {w.page for w in scan_doc.warnings if w.page is not None}
    confidences = [p.ocr_confidence for p in scan_doc.pages if p.ocr_confidence is not None]
    return PaperFigures(
        file=born.file,
        pages=born.pages,
        pages_scored=len(scores),
        word_accuracy=round(statistics.median(scores), 4) if scores else 0.0,
        word_accuracy_pages=scores,
        ocr_confidence=round(statistics.fmean(confidences), 3) if confidences else None,
        empty_pages=empty,
        empty_warned=[p for p in empty if p in warned],
        born=born,
        scanned=scanned,
    )


def run_bench(scan_dir: Path, only: list[str] | None = None) -> OcrBenchReport:
    from index.cleaning import clean
    from index.loaders import load_file
    from index.pdf import OcrEngine

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # font warnings, not our findings
    load_before = os.getloadavg()[0]
    pairs = _scans(scan_dir, only)
    questions = [
        q
        for q in read_jsonl(DATA_DIR / "questions.jsonl")
        if q.answerable and (q.gold.doc_id if q.gold else None) in {src.name for src, _ in pairs}
    ]
    pages = sum(len(page_words(clean(load_file(src)))) for src, _ in pairs)
    with tempfile.TemporaryDirectory(prefix="pt-bench-ocr-") as tmp:
        work = Path(tmp)
        cache = work / "ocr-cache"  # empty: the scanned ingest pays for every page's OCR
        born_engine, born_s = _ingest([s for s, _ in pairs], work / "born", cache)
        scan_engine, scan_s = _ingest([s for _, s in pairs], work / "scanned", cache)
        born_side = _ask(born_engine, questions, pages, born_s)
        scan_side = _ask(scan_engine, questions, pages, scan_s)
        ocr = OcrEngine(cache_dir=cache)  # the ingest's OCR results: no page is read again
        papers = []
        for src, scan in pairs:
            born = _evaluate(src, DATA_DIR, None, 1)
            scanned = _evaluate(scan, DATA_DIR, None, 1, ocr=ocr)
            papers.append(
                _paper(clean(load_file(src)), clean(load_file(scan, ocr=ocr)), born, scanned)
            )
    command = "python -m eval.bench.ocr" + "".join(f" --only {o}" for o in only or [])
    return OcrBenchReport(
        date=date.today().isoformat(),
        command=command,
        cores=os.cpu_count() or 1,
        load_before=round(load_before, 2),
        papers=papers,
        born=born_side,
        scanned=scan_side,
    )


def format_table(report: OcrBenchReport) -> str:
    """Per PDF, then both indexes side by side: Markdown."""
    head = (
        "| PDF | pages | word accuracy (median) | OCR confidence | title born / scan "
        "| headings matched born / scan | false headings born / scan | page labels born / scan "
        "| empty pages (warned) |"
    )
    lines = [head, "|" + "---|" * 9]
    for p in report.papers:
        b, s = p.born, p.scanned
        lines.append(
            f"| {p.file.removesuffix('.pdf')} | {p.pages} | {100 * p.word_accuracy:.1f}% "
            f"| {p.ocr_confidence if p.ocr_confidence is not None else '-'} "
            f"| {'yes' if b.title_contains else 'no'} / {'yes' if s.title_contains else 'no'} "
            f"| {b.headings_matched}/{b.headings_gold} / {s.headings_matched}/{s.headings_gold} "
            f"| {len(b.headings_false)} / {len(s.headings_false)} "
            f"| {b.labels_right}/{b.pages} / {s.labels_right}/{s.pages} "
            f"| {len(p.empty_pages)} ({len(p.empty_warned)}) |"
        )
    scores = [x for p in report.papers for x in p.word_accuracy_pages]
    median = statistics.median(scores) if scores else 0.0
    b, s = report.born, report.scanned
    ratio = s.cited / b.cited if b.cited else 0.0
    lines += [
        "",
        f"Median word accuracy over all {len(scores)} scored pages: {100 * median:.1f}%.",
        "",
        "| | born-digital | scanned | scanned / born |",
        "|---|---|---|---|",
        f"| hit@5 ({b.questions} questions) | {b.hit_at_5} | {s.hit_at_5} "
        f"| {s.hit_at_5 / b.hit_at_5 if b.hit_at_5 else 0:.2f} |",
        f"| answer sentence cited | {b.cited} | {s.cited} | {ratio:.2f} |",
        f"| answer_contains | {b.answer_contains} | {s.answer_contains} | |",
        f"| ingest, s/page (embedding included) | {b.seconds_per_page} | {s.seconds_per_page} "
        f"| {s.seconds_per_page / b.seconds_per_page if b.seconds_per_page else 0:.1f}x |",
        f"| ingest, whole set | {b.ingest_seconds} s | {s.ingest_seconds} s | |",
        "",
        f"Not cited, born-digital: {', '.join(b.misses) or 'none'}; "
        f"scanned: {', '.join(s.misses) or 'none'}.",
        f"`{report.command}`, {report.date}, {report.cores} cores, "
        f"load {report.load_before} at the start.",
    ]
    return "\n".join(lines)


def run(
    only: Annotated[
        list[str] | None, typer.Option(help="Only this PDF (file stem); repeat for more.")
    ] = None,
    scans: Annotated[
        Path, typer.Option(help="Where the scanned copies are made (and kept).")
    ] = Path("eval-out/ocr/scans"),
    as_json: Annotated[bool, typer.Option("--json", help="Print every figure as JSON.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write the tables as Markdown.")] = None,
) -> None:
    """Scanned against born-digital: words, structure, answers and speed."""
    report = run_bench(scans, only)
    table = format_table(report)
    typer.echo(report.model_dump_json(indent=2) if as_json else table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table + "\n", encoding="utf-8")
        (out.with_suffix(".json")).write_text(report.model_dump_json(indent=2), encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    typer.run(run)


if __name__ == "__main__":
    main()
