"""Data that crosses a stage boundary. The CLI's --json output is their serialisation."""

from __future__ import annotations

from bisect import bisect_right
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Answer",
    "AnswerEvent",
    "BibRecord",
    "Chunk",
    "Citation",
    "Creator",
    "DoctorReport",
    "Document",
    "DocumentInfo",
    "DocumentMetadata",
    "Element",
    "ElementKind",
    "FileResult",
    "FileWarning",
    "IngestReport",
    "LibraryEntry",
    "LibraryProblem",
    "LibraryRead",
    "LibrarySync",
    "MetadataSource",
    "PageSpan",
    "Passage",
    "SectionSpan",
    "SpanIndex",
]


class PageSpan(BaseModel):
    """Where one page starts in the document's cleaned text."""

    page: int = Field(description="1-based page number within the file.")
    start: int = Field(description="Offset of the page's first character in Document.text.")
    label: str | None = Field(None, description="Printed page number, when detected.")
    ocr: bool = Field(False, description="Read by OCR (a scanned page), not from its text layer.")
    ocr_confidence: float | None = Field(
        None, description="OCR'd pages: Tesseract's mean word confidence, 0-1."
    )


# What a span of a document's text is. Later stages ask the kind; they never re-guess it.
ElementKind = Literal["body", "heading", "caption", "table", "footnote", "reference", "front"]


class SectionSpan(BaseModel):
    """A numbered or marked-up heading and where it starts in the cleaned text."""

    start: int
    end: int = Field(description="End offset of the heading itself.")
    number: str | None = None
    title: str
    level: int = Field(1, ge=1, description="Outline depth: 1 for a top-level section.")

    @property
    def heading(self) -> str:
        return f"{self.number} {self.title}" if self.number else self.title


class Element(BaseModel):
    """A paragraph-like block of the cleaned text and what it is (body, caption, ...)."""

    kind: ElementKind
    start: int
    end: int
    page: int = Field(1, description="1-based page the block starts on.")


class SpanIndex(BaseModel):
    """Page, section and element starts, looked up by offset."""

    pages: list[PageSpan] = Field(default_factory=list)
    sections: list[SectionSpan] = Field(default_factory=list)
    elements: list[Element] = Field(
        default_factory=list,
        description="Non-body blocks in text order; text outside every element is body.",
    )

    def page_at(self, offset: int) -> PageSpan | None:
        i = bisect_right([p.start for p in self.pages], offset) - 1
        return self.pages[max(i, 0)] if self.pages else None

    def section_at(self, offset: int) -> SectionSpan | None:
        i = bisect_right([s.start for s in self.sections], offset) - 1
        return self.sections[i] if i >= 0 else None

    def kind_at(self, offset: int) -> ElementKind:
        i = bisect_right([e.start for e in self.elements], offset) - 1
        if i >= 0 and offset < self.elements[i].end:
            return self.elements[i].kind
        return "body"


class FileWarning(BaseModel):
    """A problem that did not stop a file, e.g. a page with no extractable text."""

    page: int | None = None
    message: str


class Document(SpanIndex):
    """One cleaned source file."""

    doc_id: str
    title: str
    source: str
    content_hash: str
    text: str
    warnings: list[FileWarning] = Field(default_factory=list)
    metadata: DocumentMetadata | None = Field(
        None, description="Bibliographic fields: from a reference manager, the PDF, the user."
    )
    collections: list[str] = Field(
        default_factory=list, description="Reference-manager collections, nested with '/'."
    )


class Chunk(BaseModel):
    """A slice of a Document; text == document.text[start:end]."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    page: int
    page_label: str | None = None
    section: str | None = None
    kind: ElementKind = "body"
    ocr: bool = Field(False, description="From a page read by OCR: check the quote on the scan.")
    ocr_confidence: float | None = Field(
        None, description="OCR'd pages: Tesseract's mean word confidence on the page, 0-1."
    )


class Passage(BaseModel):
    """A retrieved chunk with its provenance and score."""

    chunk_id: str
    doc_id: str
    title: str
    source: str
    text: str
    start: int = Field(description="Offset of the passage in the document's cleaned text.")
    end: int
    page: int
    page_label: str | None = None
    section: str | None = None
    kind: ElementKind = "body"
    ocr: bool = Field(False, description="From a page read by OCR: check the quote on the scan.")
    ocr_confidence: float | None = Field(
        None, description="OCR'd pages: Tesseract's mean word confidence on the page, 0-1."
    )
    score: float
    spans: SpanIndex = Field(default_factory=SpanIndex, exclude=True)


class Citation(BaseModel):
    """One quoted sentence backing a claim, marked [n] in the answer."""

    n: int
    doc_id: str
    title: str
    source: str
    page: int
    page_label: str | None = None
    section: str | None = None
    passage: str
    quote: str
    quote_start: int = Field(description="Offset of the quote in `passage`.")
    quote_end: int
    chunk_id: str
    ocr: bool = Field(False, description="From a page read by OCR: check the quote on the scan.")
    ocr_confidence: float | None = Field(
        None, description="OCR'd pages: Tesseract's mean word confidence on the page, 0-1."
    )
    reference: str | None = Field(
        None, description="The work as a researcher cites it: 'Datta et al. (2010), Journal 4:1'."
    )
    doi: str | None = None


Verdict = Literal["supported", "weak", "unsupported", "uncited"]


class Claim(BaseModel):
    """One sentence of a generated answer, checked against the passages it cites."""

    text: str
    start: int = Field(description="Offset of the sentence in `Answer.answer`.")
    end: int
    cites: list[int] = Field(
        default_factory=list, description="The [n] markers the sentence carries (Citation.n)."
    )
    verdict: Verdict
    support: float = Field(0.0, description="Support score of the best quote, 0-1.")
    quote: Citation | None = Field(
        None, description="The best supporting sentence in a cited passage, with offsets."
    )
    reason: str | None = Field(
        None, description="Why it is not supported, e.g. 'number 42 not in [2]'."
    )


class Answer(BaseModel):
    question: str
    answer: str
    abstained: bool
    mode: Literal["extractive", "generative"] = "extractive"
    claims: list[Claim] = Field(
        default_factory=list, description="Generative answers only: each sentence's verdict."
    )
    searched: str | None = Field(
        None, description="The standalone query searched, when a follow-up was rewritten."
    )
    notice: str | None = Field(
        None,
        description="One-line notice, e.g. the LLM was unreachable and the answer is "
        "extractive instead.",
    )
    citations: list[Citation] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    evidence_score: float = Field(
        0.0,
        description="How well the passages support an answer (rag.answer.support); "
        "abstains below answer.min_evidence.",
    )
    judged_answerable: bool | None = Field(
        None,
        description="The LLM judge's reading of the passages: true if they answer the "
        "question, false if not (then the answer abstains); null when no judge was asked.",
    )
    weak_support: bool = Field(
        False,
        description="Answered, but with evidence_score below answer.weak_support: the quotes "
        "may not answer the question; check them.",
    )
    support_features: dict[str, float] = Field(
        default_factory=dict,
        description="What evidence_score was computed from (rag.answer.support_features).",
    )


class AnswerEvent(BaseModel):
    """One step of a streamed answer (rag.Engine.ask_stream); the last one has kind "answer"."""

    kind: Literal["searched", "delta", "claim", "answer"]
    text: str = Field("", description="delta: generated text; searched: the query searched.")
    claim: Claim | None = Field(None, description="claim: a sentence just checked.")
    answer: Answer = Field(
        description="The answer so far: its checked sentences, claims and citations; the "
        "final answer when kind is 'answer'."
    )
    pending: str = Field("", description="Generated text not yet checked (being written).")


class DocumentInfo(BaseModel):
    """A row of the document list."""

    doc_id: str
    title: str
    source: str
    pages: int
    chunks: int
    content_hash: str
    ingested_at: str
    duplicate_of: str | None = Field(
        None, description="The indexed document this one repeats (>= 90 % shared text)."
    )
    preferred: bool = Field(False, description="The copy answers cite among its duplicates.")
    metadata: DocumentMetadata | None = None
    collections: list[str] = Field(default_factory=list)


class FileResult(BaseModel):
    path: str
    # reread: the same bytes, read again because the reader for its kind has improved
    status: Literal["indexed", "unchanged", "replaced", "reread", "failed"]
    doc_id: str | None = None
    chunks: int = 0
    error: str | None = None
    duplicate_of: str | None = None
    warnings: list[FileWarning] = Field(default_factory=list)


class IngestReport(BaseModel):
    files: list[FileResult] = Field(default_factory=list)
    embedded_chunks: int = Field(0, description="Chunks of new or changed files.")
    stored_chunks: int = Field(0, description="Chunks of the documents that were written.")
    embedded_sentences: int = Field(0, description="Sentences that needed the model.")

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def stored(self) -> list[FileResult]:
        """The files whose document was written: new, changed or read again."""
        return [f for f in self.files if f.status in ("indexed", "replaced", "reread")]

    @property
    def ok(self) -> bool:
        return not self.failed


class DoctorReport(BaseModel):
    """What `papertrail doctor` found: records that no registry entry names."""

    documents: int = Field(0, description="Documents in the registry.")
    orphaned_documents: list[str] = Field(
        default_factory=list, description="Ids with chunks or sentences but no registry entry."
    )
    orphaned_chunks: int = 0
    orphaned_sentence_records: int = 0
    writes_in_progress: list[str] = Field(
        default_factory=list, description="Documents another live process is writing; left alone."
    )
    repaired: bool = Field(False, description="Whether the orphaned records were deleted.")


# Where a bibliographic field came from, most trusted first: the reference manager's record,
# the user's correction, the PDF's XMP/Info metadata, the first page's printed layout.
MetadataSource = Literal["zotero", "bibtex", "ris", "user", "xmp", "info", "layout"]


class Creator(BaseModel):
    """An author or editor: family and given names, or one literal name (an institution)."""

    family: str = ""
    given: str = ""
    name: str | None = Field(None, description="A literal name that is not split (a group).")
    role: str = Field("author", description="author, editor, ... (Zotero's creator types).")

    @property
    def display(self) -> str:
        return self.name or self.family or self.given


class DocumentMetadata(BaseModel):
    """A work's bibliographic fields, each with where it came from (`sources`)."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(None, description="The source's id: citation key or Zotero item key.")
    item_type: str | None = Field(
        None, description="CSL type: article-journal, paper-conference, book, chapter, ..."
    )
    title: str | None = None
    creators: list[Creator] = Field(default_factory=list)
    year: int | None = None
    venue: str | None = Field(None, description="Journal, proceedings or book (container).")
    volume: str | None = None
    issue: str | None = None
    pages: str | None = Field(None, description="'305-313', or an article number 'e00353'.")
    doi: str | None = Field(None, description="Bare DOI, '10.1186/1752-2897-4-1'.")
    arxiv: str | None = None
    pmid: str | None = None
    licence: str | None = Field(None, description="The licence line or URL as printed.")
    url: str | None = None
    sources: dict[str, MetadataSource] = Field(
        default_factory=dict, description="Field name -> where its value came from."
    )

    def filled_from(self, other: DocumentMetadata) -> DocumentMetadata:
        """These fields, with the ones this record lacks taken from `other` (less trusted)."""
        update: dict[str, object] = {}
        sources = dict(self.sources)
        for name in BIB_FIELDS:
            if _empty(getattr(self, name)) and not _empty(getattr(other, name)):
                update[name] = getattr(other, name)
                if name in other.sources:
                    sources[name] = other.sources[name]
        return self.model_copy(update={**update, "sources": sources})

    def has(self, name: str) -> bool:
        return not _empty(getattr(self, name))


# The fields DocumentMetadata.sources names (everything but the map itself).
BIB_FIELDS = tuple(n for n in DocumentMetadata.model_fields if n != "sources")


def _empty(value: object) -> bool:
    return value is None or value == "" or value == []


BibRecord = DocumentMetadata  # the name a reference manager's record goes by


class LibraryEntry(BaseModel):
    """One item of a reference manager (a Zotero item, a BibTeX or RIS entry)."""

    key: str = Field(description="Zotero item key, or the entry's citation key / line.")
    metadata: DocumentMetadata
    files: list[str] = Field(
        default_factory=list, description="Absolute paths of its PDF/HTML files that exist."
    )
    collections: list[str] = Field(
        default_factory=list, description="Collection paths, nested with '/': 'Thesis/Ch 2'."
    )
    version: str | None = Field(
        None, description="What changes when the item is edited (Zotero: dateModified)."
    )


class LibraryProblem(BaseModel):
    """Something in a library that was skipped or is missing, said in one line."""

    source: str = Field(description="The export file or Zotero database.")
    item: str | None = Field(None, description="Item key, citation key or line.")
    message: str

    @property
    def line(self) -> str:
        where = f"{self.source}: {self.item}" if self.item else self.source
        return f"{where}: {self.message}"


class LibraryRead(BaseModel):
    """What a library reader found: its entries and its problems."""

    entries: list[LibraryEntry] = Field(default_factory=list)
    problems: list[LibraryProblem] = Field(default_factory=list)


class LibrarySync(BaseModel):
    """A library read again: which items were added, changed or deleted since `previous`."""

    read: LibraryRead
    state: dict[str, str] = Field(
        description="Item key -> version, to pass as `previous` to the next sync."
    )
    added: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    unchanged: int = 0
