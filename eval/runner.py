"""Run each system on an EvalSet: ingest, ask every question (timed, warm), collect outputs.

Each system runs in a fresh process by default, so its peak RSS and timings are its own.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from time import perf_counter
from typing import Literal

from pydantic import BaseModel, Field
from tqdm.auto import tqdm

from eval.baselines import System, open_system
from eval.models import CitationRef, EvalQuestion, PassageRef, QuestionRun, SystemRun
from index.models import Answer, Document, Passage
from rag import Settings

__all__ = ["TOP_K", "SystemJob", "run_system", "run_systems"]

TOP_K = 10  # passages scored for retrieval metrics
Phase = Literal["main", "heldout"]


class SystemJob(BaseModel):
    """What one system's run needs; picklable, so it can cross into a child process."""

    system: str
    settings: Settings
    corpus: list[str]
    questions: list[EvalQuestion]
    heldout: dict[str, str] = Field(
        default_factory=dict, description="Question id -> gold document, removed to re-ask."
    )


def run_systems(jobs: Sequence[SystemJob], *, isolate: bool = True) -> list[SystemRun]:
    """Run the jobs one after another, each in a fresh process when `isolate`."""
    if not isolate:
        return [run_system(job) for job in jobs]
    runs = []
    context = multiprocessing.get_context("spawn")
    for job in jobs:
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            runs.append(pool.submit(run_system, job).result())
    return runs


def run_system(job: SystemJob) -> SystemRun:
    """Index the corpus with one system, then ask every question, then the held-out ones."""
    system = open_system(job.system, job.settings)
    _say(f"{job.system}: indexing {len(job.corpus)} documents")
    started = perf_counter()
    system.ingest([Path(p) for p in job.corpus])
    ingest_s = perf_counter() - started
    chunks = [_ref(p) for p in system.passages()]
    if job.questions:  # warm-up: first-call costs stay out of the latencies
        system.retrieve(job.questions[0].question, TOP_K)
        system.ask(job.questions[0].question)
    docs = _Documents(system)
    runs = [
        _ask(system, q, docs, phase="main")
        for q in tqdm(job.questions, desc=f"{job.system}: questions", unit="q")
    ]
    if job.heldout:
        system.remove(sorted(set(job.heldout.values())))
        again = [q for q in job.questions if q.id in job.heldout]
        runs += [
            _ask(system, q, docs, phase="heldout")
            for q in tqdm(again, desc=f"{job.system}: held out", unit="q")
        ]
    return SystemRun(
        system=job.system,
        n_chunks=len(chunks),
        ingest_s=ingest_s,
        chunks=chunks,
        questions=runs,
        peak_rss_mb=_peak_rss_mb(),
    )


def _ask(system: System, q: EvalQuestion, docs: _Documents, *, phase: Phase) -> QuestionRun:
    retrieved: list[Passage] = []
    retrieve_ms = None
    if phase == "main":
        started = perf_counter()
        retrieved = system.retrieve(q.question, TOP_K)
        retrieve_ms = (perf_counter() - started) * 1000
    started = perf_counter()
    first_token_ms = None
    stream = getattr(system, "ask_stream", None)
    if stream is None:
        answer = system.ask(q.question)
    else:
        for event in stream(q.question):
            if first_token_ms is None and event.kind in ("delta", "answer"):
                first_token_ms = (perf_counter() - started) * 1000
            answer = event.answer
    answer_ms = (perf_counter() - started) * 1000
    check = getattr(system, "check", None)
    return QuestionRun(
        id=q.id,
        phase=phase,
        retrieved=[_ref(p) for p in retrieved],
        answer=answer.answer,
        abstained=answer.abstained,
        citations=_citations(answer, docs),
        retrieve_ms=retrieve_ms,
        answer_ms=answer_ms,
        evidence_score=answer.evidence_score if answer.support_features else None,
        first_token_ms=first_token_ms,
        claims=check(answer) if check else None,
    )


def _citations(answer: Answer, docs: _Documents) -> list[CitationRef]:
    passages = {p.chunk_id: p for p in answer.passages}
    out = []
    for c in answer.citations:
        p = passages.get(c.chunk_id)
        doc = docs.get(c.doc_id)
        verbatim = bool(
            p is not None
            and doc is not None
            and doc.text[p.start + c.quote_start : p.start + c.quote_end] == c.quote
        )
        out.append(
            CitationRef(n=c.n, passage=_ref(p) if p else None, quote=c.quote, verbatim=verbatim)
        )
    return out


class _Documents:
    """The system's own cleaned documents, fetched once each."""

    def __init__(self, system: System) -> None:
        self._system = system
        self._cache: dict[str, Document | None] = {}

    def get(self, doc_id: str) -> Document | None:
        if doc_id not in self._cache:
            self._cache[doc_id] = self._system.document(doc_id)
        return self._cache[doc_id]


def _ref(p: Passage) -> PassageRef:
    return PassageRef(chunk_id=p.chunk_id, doc_id=p.doc_id, start=p.start, end=p.end)


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, because ru_maxrss survives exec and so would report
    the parent's peak when the parent was bigger than this freshly spawned child."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
