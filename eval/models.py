"""What an evaluation reads (questions, gold evidence) and writes (runs, metrics, results)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "METRIC_KEYS",
    "CitationRef",
    "ClaimCheck",
    "EvalQuestion",
    "EvalSet",
    "Gold",
    "PassageRef",
    "QuestionRun",
    "Results",
    "Span",
    "SystemMetrics",
    "SystemRun",
]

Split = Literal["dev", "test", "all"]


class Gold(BaseModel):
    """Where the answer is. Every field narrows the evidence; none given means any document."""

    model_config = ConfigDict(extra="forbid")

    doc_id: str | None = Field(None, description="Document id (the lower-cased file name).")
    section: str | None = Field(
        None, description="Section heading, title or number, e.g. '4.4' or 'Legal, ethical ...'."
    )
    page: int | None = Field(None, ge=1, description="1-based page number.")
    spans: list[tuple[int, int]] = Field(
        default_factory=list,
        description="[start, end) character offsets into the file's extracted text "
        "(a text file's own characters; a PDF's pages joined by form feeds).",
    )


class EvalQuestion(BaseModel):
    """One line of a question set (the JSONL format documented in docs/evaluation.md)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    question: str = Field(min_length=1)
    answers: list[str] = Field(default_factory=list, description="Reference answers or key facts.")
    gold: Gold | None = None
    answerable: bool = True


class EvalSet(BaseModel):
    """Questions and the corpus files they are asked against."""

    name: str
    split: Split
    questions: list[EvalQuestion]
    corpus: list[str] = Field(description="Paths of the files to index.")
    heldout: list[str] = Field(
        default_factory=list,
        description="Question ids asked again after removing their gold document (PubMedQA).",
    )


class Span(BaseModel):
    """A stretch of a cleaned document: gold evidence or an indexed passage."""

    doc_id: str
    start: int
    end: int


class PassageRef(Span):
    chunk_id: str


class CitationRef(BaseModel):
    """A citation, with its passage's place in the document and whether its quote checks out."""

    n: int
    passage: PassageRef | None = Field(description="None when the cited chunk is not a passage.")
    quote: str
    verbatim: bool = Field(description="document.text[start + quote_start : ...] == quote")


class ClaimCheck(BaseModel):
    """One sentence of an answer as the verifier judged it, for ALCE-style citation scores."""

    text: str = Field("", description="The sentence without its markers, for reading by hand.")
    verdict: str
    precise: list[bool] = Field(
        default_factory=list,
        description="Per citation: it supports the sentence alone, or the others do not "
        "without it (ALCE citation precision).",
    )


class QuestionRun(BaseModel):
    """One system's output for one question."""

    id: str
    phase: Literal["main", "heldout"] = "main"
    retrieved: list[PassageRef] = Field(default_factory=list, description="Top 10, best first.")
    answer: str
    abstained: bool
    citations: list[CitationRef] = Field(default_factory=list)
    retrieve_ms: float | None = None
    answer_ms: float
    evidence_score: float | None = Field(
        None, description="The support score behind abstention; None for baselines."
    )
    first_token_ms: float | None = Field(
        None, description="Until the first generated text (the whole answer when not streamed)."
    )
    claims: list[ClaimCheck] | None = Field(
        None, description="PaperTrail's answers: each sentence checked by rag.verify."
    )


class SystemRun(BaseModel):
    """Everything one system produced in one run: raw material for the metrics."""

    system: str
    n_chunks: int
    ingest_s: float
    chunks: list[PassageRef] = Field(description="Every indexed chunk, for nDCG's ideal ranking.")
    questions: list[QuestionRun]
    peak_rss_mb: float


METRIC_KEYS = (
    "hit@1",
    "hit@3",
    "hit@5",
    "hit@10",
    "mrr@10",
    "ndcg@10",
    "answer_contains",
    "lead_contains",
    "token_f1",
    "token_recall",
    "semantic_similarity",
    "citation_precision",
    "citation_recall",
    "quote_fidelity",
    "abstention_accuracy",
    "false_abstention_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "retrieval_latency_p50_ms",
    "retrieval_latency_p95_ms",
    "ingest_chunks_per_s",
    "ingest_chars_per_s",
    "peak_rss_mb",
    "faithfulness",
    "alce_citation_precision",
    "alce_citation_recall",
    "ttft_p50_ms",
    "ttft_p95_ms",
)


class SystemMetrics(BaseModel):
    """One system's scores; None where a metric does not apply to the question set."""

    model_config = ConfigDict(populate_by_name=True)

    hit_1: float | None = Field(None, alias="hit@1")
    hit_3: float | None = Field(None, alias="hit@3")
    hit_5: float | None = Field(None, alias="hit@5")
    hit_10: float | None = Field(None, alias="hit@10")
    mrr_10: float | None = Field(None, alias="mrr@10")
    ndcg_10: float | None = Field(None, alias="ndcg@10")
    answer_contains: float | None = None
    lead_contains: float | None = Field(
        None, description="Share of answers whose first cited sentence holds a reference answer."
    )
    token_f1: float | None = None
    token_recall: float | None = None
    semantic_similarity: float | None = None
    citation_precision: float | None = None
    citation_recall: float | None = None
    quote_fidelity: float | None = None
    abstention_accuracy: float | None = None
    false_abstention_rate: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    retrieval_latency_p50_ms: float | None = None
    retrieval_latency_p95_ms: float | None = None
    ingest_chunks_per_s: float | None = None
    ingest_chars_per_s: float | None = None
    peak_rss_mb: float | None = None
    faithfulness: float | None = None
    alce_citation_precision: float | None = None
    alce_citation_recall: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    n_chunks: int = 0
    hit_curve: list[float] = Field(
        default_factory=list, description="hit@k for k = 1..10, for the report's plot."
    )


class Results(BaseModel):
    """The content of results.json."""

    dataset: str
    split: str
    n_questions: int
    n_unanswerable: int = Field(0, description="Including PubMedQA's held-out questions.")
    n_chunks: int = Field(description="Chunks in the first system's index.")
    n_documents: int
    corpus_chars: int
    unresolved_gold: list[str] = Field(
        default_factory=list, description="Question ids whose gold evidence was not located."
    )
    systems: dict[str, SystemMetrics]
