"""Gold evidence located in the cleaned documents, and whether a passage holds it.

Cleaning moves text (whitespace normalised, headings put in their own paragraphs, page
furniture dropped), so raw gold offsets cannot be used as they are. A raw span's text is
searched for in the cleaned text, whitespace-insensitively, and the occurrence nearest
the span's proportional position wins.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from eval.datasets import CorpusFile
from eval.models import EvalQuestion, Gold, Span
from index.models import Document

__all__ = ["MIN_OVERLAP", "is_relevant", "locate_evidence"]

MIN_OVERLAP = 0.5  # share of the shorter of (passage, evidence) that must overlap


def locate_evidence(
    questions: Sequence[EvalQuestion], corpus: Sequence[CorpusFile]
) -> tuple[dict[str, list[Span]], list[str]]:
    """Gold spans per answerable question, and the ids whose gold could not be located."""
    files = {f.document.doc_id: f for f in corpus}
    evidence: dict[str, list[Span]] = {}
    unresolved: list[str] = []
    for q in questions:
        if not q.answerable or q.gold is None:
            continue
        spans = _resolve(q.gold, files)
        if spans:
            evidence[q.id] = spans
        else:
            unresolved.append(q.id)
    return evidence, unresolved


def is_relevant(passage: Span, evidence: Sequence[Span]) -> bool:
    """True when the passage overlaps some evidence by MIN_OVERLAP of the shorter of the two."""
    for g in evidence:
        if g.doc_id != passage.doc_id:
            continue
        overlap = min(passage.end, g.end) - max(passage.start, g.start)
        shorter = min(passage.end - passage.start, g.end - g.start)
        if overlap > 0 and overlap >= MIN_OVERLAP * shorter:
            return True
    return False


def _resolve(gold: Gold, files: dict[str, CorpusFile]) -> list[Span]:
    if gold.doc_id is not None:
        candidates = [files[gold.doc_id]] if gold.doc_id in files else []
    else:
        candidates = list(files.values())
    out: list[Span] = []
    for f in candidates:
        doc = f.document
        ranges = [r for s, e in gold.spans if (r := _map_span(f, s, e))]
        if not gold.spans:
            ranges = [(0, len(doc.text))]
        if gold.section is not None:
            ranges = _intersect(ranges, _section_range(doc, gold.section))
        if gold.page is not None:
            ranges = _intersect(ranges, _page_range(doc, gold.page))
        out += [Span(doc_id=doc.doc_id, start=s, end=e) for s, e in ranges]
    return out


def _map_span(f: CorpusFile, start: int, end: int) -> tuple[int, int] | None:
    """The raw span's text in the cleaned document, nearest its proportional position."""
    words = _normalise(f.raw[start:end]).split()
    if not words:
        return None
    pattern = re.compile(r"\s*".join(re.escape(w) for w in words))
    text = f.document.text
    expected = start * len(text) / max(len(f.raw), 1)
    best = min(pattern.finditer(text), key=lambda m: abs(m.start() - expected), default=None)
    return (best.start(), best.end()) if best else None


def _normalise(text: str) -> str:
    """What cleaning does to characters: NFKC, soft hyphens, no-break spaces, line-end hyphens."""
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00ad", "").replace("\u00a0", " ")
    text = re.sub(r"([a-z])-\n[ \t]*([a-z])", r"\1\2", text)
    return re.sub(r"-\n[ \t]*", "-", text)


def _section_range(doc: Document, wanted: str) -> tuple[int, int] | None:
    """From the heading to the next heading that is not a subsection of it."""
    key = " ".join(wanted.lower().split())
    for i, s in enumerate(doc.sections):
        if key not in {s.heading.lower(), s.title.lower(), (s.number or "").lower()}:
            continue
        end = len(doc.text)
        for later in doc.sections[i + 1 :]:
            if not (s.number and later.number and later.number.startswith(s.number + ".")):
                end = later.start
                break
        return s.start, end
    return None


def _page_range(doc: Document, page: int) -> tuple[int, int] | None:
    starts = [p.start for p in doc.pages]
    for i, p in enumerate(doc.pages):
        if p.page == page:
            return p.start, starts[i + 1] if i + 1 < len(starts) else len(doc.text)
    return None


def _intersect(
    ranges: list[tuple[int, int]], limit: tuple[int, int] | None
) -> list[tuple[int, int]]:
    if limit is None:
        return []
    out = []
    for s, e in ranges:
        lo, hi = max(s, limit[0]), min(e, limit[1])
        if lo < hi:
            out.append((lo, hi))
    return out
