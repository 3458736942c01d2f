"""Document -> chunks, sentence-aware, with offsets, page and section."""

from __future__ import annotations

from itertools import pairwise

from llama_index.core.node_parser import SentenceSplitter

from index.models import Chunk, Document, ElementKind
from index.sentences import split_sentences
from index.settings import ChunkingSettings

__all__ = ["chunk_document"]


def _characters(text: str) -> list[str]:
    # Sizes are in characters: that is what the embedding window and the benchmarks count.
    return list(text)


def _sentences(text: str) -> list[str]:
    # The same sentences the answers quote (index.sentences), whitespace kept so the pieces
    # add up to the text; also spares importing nltk's punkt, ~2 s of every ingest.
    starts = [s.start for s in split_sentences(text)][1:]
    bounds = [0, *starts, len(text)]
    return [text[a:b] for a, b in pairwise(bounds) if b > a]


def chunk_document(document: Document, settings: ChunkingSettings) -> list[Chunk]:
    """Split on sentences and paragraphs with LlamaIndex; each chunk slices document.text.

    Body text (with its headings) and each run of captions, tables, footnotes, references
    or front matter are chunked apart, so a chunk has one kind."""
    chunks: list[Chunk] = []
    for start, end, kind in _regions(document):
        chunks += _chunk_region(document, start, end, kind, settings, first=len(chunks))
    return chunks


def _regions(document: Document) -> list[tuple[int, int, ElementKind]]:
    """Maximal runs of one kind (headings count as body) over the whole text."""
    marks: list[tuple[int, int, ElementKind]] = []
    cursor = 0
    for e in document.elements:
        kind: ElementKind = "body" if e.kind == "heading" else e.kind
        if document.text[cursor : e.start].strip():  # the blank line between blocks is no run
            marks.append((cursor, e.start, "body"))
        marks.append((e.start, e.end, kind))
        cursor = e.end
    if cursor < len(document.text):
        marks.append((cursor, len(document.text), "body"))
    regions: list[tuple[int, int, ElementKind]] = []
    for start, end, kind in marks:
        if regions and regions[-1][2] == kind:
            regions[-1] = (regions[-1][0], end, kind)
        else:
            regions.append((start, end, kind))
    return [(a, b, k) for a, b, k in regions if document.text[a:b].strip()]


def _chunk_region(
    document: Document,
    region_start: int,
    region_end: int,
    kind: ElementKind,
    settings: ChunkingSettings,
    *,
    first: int,
) -> list[Chunk]:
    splitter = SentenceSplitter(
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        tokenizer=_characters,
        chunking_tokenizer_fn=_sentences,
        include_metadata=False,
        include_prev_next_rel=False,
    )
    chunks: list[Chunk] = []
    cursor = region_start
    for piece in splitter.split_text(document.text[region_start:region_end]):
        start = _locate(document.text, piece, cursor)
        end = start + len(piece)
        cursor = start + 1
        page = document.page_at(start)
        section = document.section_at(start)
        # A chunk that opens with a heading's paragraph belongs to that heading.
        heading_inside = document.section_at(min(end, start + 200))
        if heading_inside is not None and heading_inside.start >= start:
            section = heading_inside
        chunks.append(
            Chunk(
                chunk_id=f"{document.doc_id}#{first + len(chunks)}:{document.content_hash[:8]}",
                doc_id=document.doc_id,
                text=piece,
                start=start,
                end=end,
                page=page.page if page else 1,
                page_label=page.label if page else None,
                section=section.heading if section else None,
                kind=kind,
                ocr=bool(page and page.ocr),
                ocr_confidence=page.ocr_confidence if page else None,
            )
        )
    return chunks


def _locate(text: str, piece: str, cursor: int) -> int:
    """Offset of a split in the source; the splitter returns verbatim, stripped slices."""
    start = text.find(piece, cursor)
    if start < 0:
        start = text.find(piece)
    if start < 0:
        raise ValueError(f"chunk not found verbatim in document text: {piece[:60]!r}")
    return start
