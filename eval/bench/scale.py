"""Scale benchmark: PaperTrail on a library of k x 98 COVID-QA articles (issues #13, #29).

    python -m eval.bench.scale [--k 1 4 10] [--baseline DIR] [--questions 100]
                               [--reuse-vectors] [--out eval-out/scale] [--readme README.md]
    python -m eval.bench.scale --k 100 --reuse-vectors --out DIR   # the curve 1 ... 100
    python -m eval.bench.scale --reopen WORK [--baseline DIR] [--repeat 5]
    python -m eval.bench.scale --probe WORK [--questions 100]
    python -m eval.bench.scale --hit5 WORK [--questions 100]

A single --k is the curve up to it (k = 1, 4, 10, 25, 50, 100; --only: that k alone);
several are those. `python -m eval.bench_scale` is the same command.

Each COVID-QA article is written k times: copy 0 as it is, copy r > 0 with its sentences
shuffled (seeded by r) into paragraphs of the original sizes and about one word in ten
swapped with the next, so that no two copies share 90 % of their word 5-grams and ingest
does not take them for duplicates (which would leave all but one copy out of search).

--reuse-vectors (above k = 10, where embedding 230 M characters on 2 cores would take
hours): a copy's sentence gets the real vector of the original sentence with the same words
(a sentence the copy's splitting made anew, about 8 %, is embedded for real), so that
search, memory and opening are measured on real vectors; such rows say `vectors: reused`,
and their ingest time leaves most embedding out.

For each k and each system (this tree, and with --baseline another source tree, e.g.
`git worktree add /tmp/base main`), fresh processes run:
- ingest: `Engine.ingest` of the whole library, split into reading, duplicates, embedding,
  writing and deriving the search segments;
- serve: open the index, first answer (cold), warm answers (p50/p95), hit@5 of the original
  questions (the answer in a top-5 passage of its article), then add one more document and
  ask (`add_answer_s`: its ingest and the next answer; `add_embed_s`: its own embedding,
  measured apart), answering while another process ingests, and the process's peak RSS;
- recall: the projection shortlist's recall@50 against a full scan (its own process, as a
  full scan reads every vector).
Both systems run side by side, k by k, so their ratios share the machine's load. Writes
results.json (a list of rows, one per system and k; rewritten after each) and report.html
(the curves) in --out and, with --readme, the table between the README's `bench-scale`
markers. --keep WORK keeps each last library and index; --reopen WORK times only opening a
copy of WORK/index per system, alternating; --probe WORK sweeps the share of inverted lists
a question probes on it; --hit5 WORK scores hit@5 and its scoped parts (`_hit5`) on it.

Self-contained on purpose: it runs inside the baseline tree's interpreter path, which
has no module of its own for this.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

__all__ = ["main"]

_ROOT = Path(__file__).resolve().parents[2]
_COVID = _ROOT / "eval" / "datasets" / "covid-qa" / "covid-qa-200423.json"
_MARK = ("<!-- bench-scale:start -->", "<!-- bench-scale:end -->")
_COLUMNS = (
    ("papers", "papers", "{:,}"),
    ("vectors", "vectors", "{}"),
    ("source_mchars", "source chars (M)", "{:.1f}"),
    ("ingest_s", "ingest s", "{:.0f}"),
    ("ingest_read_s", "of which reading s", "{:.0f}"),
    ("ingest_embed_s", "embedding s", "{:.0f}"),
    ("ingest_write_s", "writing s", "{:.0f}"),
    ("ingest_derive_s", "deriving search s", "{:.0f}"),
    ("ingest_chars_per_s", "ingest chars/s", "{:,.0f}"),
    ("first_answer_s", "first answer after open s", "{:.2f}"),
    ("ask_p50_ms", "answer p50 ms", "{:.0f}"),
    ("ask_p95_ms", "answer p95 ms", "{:.0f}"),
    ("add_embed_s", "add one: its embedding s", "{:.2f}"),
    ("add_answer_s", "add one: its first answer s", "{:.2f}"),
    ("disk_mb", "index on disk MB", "{:,.0f}"),
    ("bytes_per_char", "bytes/char", "{:.1f}"),
    ("rss_mb", "serve peak RSS MB", "{:,.0f}"),
    ("hit5", "hit@5", "{:.2f}"),
    ("hit5_originals_only", "hit@5, copy 0 of each article alone", "{:.2f}"),
    ("hit5_others_copied", "hit@5, own article once, others' copies", "{:.2f}"),
    ("shortlist_recall50", "shortlist recall@50", "{:.3f}"),
    ("concurrent_max_s", "answer max s while another process ingests", "{:.2f}"),
    ("concurrent_seen_s", "its documents searchable after s", "{:.1f}"),
)
_STEPS = (1, 4, 10, 25, 50, 100)  # the curve's k, up to a single --k
_CONCURRENT_DOCS = 5
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


# -- the library ------------------------------------------------------------------
def _articles() -> list[dict[str, Any]]:
    return [a["paragraphs"][0] for a in json.loads(_COVID.read_text())["data"]]


def _copy(context: str, r: int) -> str:
    """Copy r of an article: the title line, then (r > 0) its sentences (as the indexer
    splits them), a few words of each swapped, shuffled into paragraphs of the original
    sentence counts. Splitting the copy again gives back 92 % of those sentences, so that
    --reuse-vectors finds their vectors."""
    from index.sentences import split_sentences

    title, _, body = context.partition("\n")
    if r == 0:
        return context
    paras = [[x.text for x in split_sentences(p)] for p in body.split("\n")]
    rng = random.Random(f"{r}:{title}")
    sentences = [_swapped(x, rng) for p in paras for x in p]
    rng.shuffle(sentences)
    out, i = [], 0
    for p in paras:
        out.append(" ".join(sentences[i : i + len(p)]))
        i += len(p)
    return "\n".join([title, *out])


def _swapped(sentence: str, rng: random.Random) -> str:
    """About one word in ten swapped with the next: the same words, other 5-grams. The
    first and last words stay, so the sentence still starts and ends as one."""
    words = sentence.split(" ")
    i = 1
    while i < len(words) - 2:
        if rng.random() < 0.1:
            words[i], words[i + 1] = words[i + 1], words[i]
            i += 1
        i += 1
    return " ".join(words)


def _write_library(folder: Path, k: int) -> tuple[list[Path], Path, int]:
    """k copies of every article, plus one extra document (copy k of the first article)."""
    folder.mkdir(parents=True, exist_ok=True)
    articles, paths, chars = _articles(), [], 0
    for r in range(k):
        for a in articles:
            text = _copy(a["context"], r)
            path = folder / f"covid-qa-{a['document_id']}-r{r}.txt"
            path.write_text(text, encoding="utf-8")
            paths.append(path)
            chars += len(text)
    extra = folder.parent / "extra" / f"covid-qa-{articles[0]['document_id']}-r{k}.txt"
    extra.parent.mkdir(parents=True, exist_ok=True)
    extra.write_text(_copy(articles[0]["context"], k + 1), encoding="utf-8")
    later = folder.parent / "later"  # what another process adds while questions are asked
    later.mkdir(parents=True, exist_ok=True)
    for a in articles[1 : 1 + _CONCURRENT_DOCS]:
        path = later / f"covid-qa-{a['document_id']}-r{k}.txt"
        path.write_text(_copy(a["context"], k + 1), encoding="utf-8")
    return paths, extra, chars


def _questions(n: int) -> list[str]:
    return [q for q, _, _ in _qas(n)]


def _qas(n: int) -> list[tuple[str, str, str]]:
    """n questions spread over the articles: (question, document id, answer text)."""
    out = [
        (qa["question"], str(a["document_id"]), qa["answers"][0]["text"])
        for a in _articles()
        for qa in a["qas"]
        if qa["answers"] and qa["answers"][0]["text"].strip()
    ]
    return out[:: max(len(out) // n, 1)][:n]


# -- --reuse-vectors ------------------------------------------------------------------
_REAL_UP_TO = 10  # k above which --reuse-vectors applies


def _key(sentence: str) -> str:
    """A sentence's words in sorted order: the same for a copy's swapped sentence."""
    return " ".join(sorted(sentence.split()))


class _ReusedVectors:
    """Stands in for the embedder while a k > _REAL_UP_TO library is ingested: a copy's
    sentence gets the real vector of the original sentence with the same words (embedded
    once per run); a sentence the copy's splitting made anew (about 8 %) is embedded for
    real and kept for the next k. So search, memory and opening meet real vectors."""

    def __init__(self, real: Any, folder: Path) -> None:
        import numpy as np

        self._np, self._real, self._file = np, real, folder / "vectors.npz"
        self.reused = self.embedded = 0
        self._rows: dict[str, int] = {}
        self._vectors: list[Any] = []
        if self._file.is_file():
            got = np.load(self._file)
            self._rows = {k: i for i, k in enumerate(got["keys"].tolist())}
            self._vectors = list(got["vectors"])
        else:
            from index.sentences import split_sentences

            texts = {
                _key(x.text): x.text for a in _articles() for x in split_sentences(a["context"])
            }
            self._embed(list(texts.values()))
            self.embedded = 0  # the originals are this run's one-off, not the library's

    def _embed(self, texts: list[str]) -> None:
        for i in range(0, len(texts), 256):
            batch = texts[i : i + 256]
            for text, vector in zip(batch, self._real.get_text_embedding_batch(batch), strict=True):
                self._rows[_key(text)] = len(self._vectors)
                self._vectors.append(self._np.asarray(vector, dtype=self._np.float32))
        self.embedded += len(texts)

    def get_text_embedding_batch(self, texts: list[str], **_: Any) -> list[Any]:
        new = list(dict.fromkeys(t for t in texts if _key(t) not in self._rows))
        self._embed(new)
        self.reused += len(texts) - len(new)
        return [self._vectors[self._rows[_key(t)]] for t in texts]

    def save(self) -> None:
        self._file.parent.mkdir(parents=True, exist_ok=True)
        keys = self._np.array(list(self._rows), dtype=object)
        self._np.savez(self._file, keys=keys.astype(str), vectors=self._np.stack(self._vectors))


# -- the two worker steps (run in a fresh process each) --------------------------------
# Where an ingest's time goes: (part, module, class, method); summed over calls.
_SPLIT = (
    ("read", "index.indexer", "Indexer", "_prepare"),
    ("duplicates", "index.indexer", "Indexer", "_find_duplicates"),
    ("embed", "index.indexer", "Indexer", "_embed"),
    ("write", "index.store", "Store", "replace_many"),
    ("derive", "index.search", "SearchIndex", "refresh"),
)


@contextmanager
def timed_split() -> Iterator[dict[str, float]]:
    """Seconds spent in each _SPLIT part while the block runs (a part the tree lacks is
    left out; nested calls of one method count once)."""
    import importlib

    spent: dict[str, float] = {}
    undo = []
    for part, module, cls_name, method in _SPLIT:
        cls = getattr(importlib.import_module(module), cls_name, None)
        original = getattr(cls, method, None)
        if original is None:
            continue
        spent[part] = 0.0

        def timed(*args: Any, _f: Any = original, _p: str = part, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return _f(*args, **kwargs)
            finally:
                spent[_p] += time.perf_counter() - t

        setattr(cls, method, timed)
        undo.append((cls, method, original))
    try:
        yield spent
    finally:
        for cls, method, original in undo:
            setattr(cls, method, original)


def _settings(index_dir: Path) -> Any:
    from rag import Settings

    return Settings(index_dir=index_dir)


def _step_ingest(work: Path, k: int, reuse: bool = False) -> dict[str, Any]:
    from rag import Engine

    paths, _, chars = _write_library(work / "library", k)
    engine = Engine.open(_settings(work / "index"))
    reused = None
    if reuse and k > _REAL_UP_TO:
        reused = _ReusedVectors(engine.embedder, work.parent / "reuse")
        engine._indexer._embedder = reused
    with timed_split() as split:
        t0 = time.perf_counter()
        engine.ingest(paths)
        seconds = time.perf_counter() - t0
    row: dict[str, Any] = {
        "papers": len(paths),
        "chars": chars,
        "source_mchars": chars / 1e6,
        "ingest_s": seconds,
        "ingest_chars_per_s": chars / seconds,
        **{f"ingest_{part}_s": v for part, v in split.items()},
        "vectors": "real",
    }
    if reused is not None:
        reused.save()
        row["vectors"] = "reused"
        row["vectors_reused_share"] = reused.reused / max(reused.reused + reused.embedded, 1)
    return row


def _step_serve(work: Path, k: int, n_questions: int) -> dict[str, Any]:
    from rag import Engine

    settings = _settings(work / "index")
    questions = _questions(n_questions)
    t0 = time.perf_counter()
    engine = Engine.open(settings)
    engine.keep_writes_warm()  # as `papertrail serve` does
    engine.ask(questions[0])
    first = time.perf_counter() - t0
    times = []
    for q in questions:
        t = time.perf_counter()
        engine.ask(q)
        times.append(time.perf_counter() - t)
    times.sort()
    hit5 = _hit5(engine, _qas(n_questions))
    extra = work / "extra" / f"covid-qa-{_articles()[0]['document_id']}-r{k}.txt"
    embed_s = _embedding_time(engine, extra)
    t = time.perf_counter()
    engine.ingest([extra])
    add = time.perf_counter() - t
    t = time.perf_counter()
    engine.ask(questions[1])
    add_answer = time.perf_counter() - t
    return {
        **_concurrent(engine, work, questions),
        "first_answer_s": first,
        "ask_p50_ms": 1000 * times[len(times) // 2],
        "ask_p95_ms": 1000 * times[min(int(len(times) * 0.95), len(times) - 1)],
        "add_embed_s": embed_s,
        "add_ingest_s": add,
        "add_next_answer_s": add_answer,
        "add_answer_s": add + add_answer,  # from adding it to the first answer after
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **hit5,
    }


def _hit5(engine: Any, qas: list[tuple[str, str, str]]) -> dict[str, float]:
    """Share of questions whose answer is in a top-5 passage of their own article: in any
    copy, verbatim or every word of it (`hit5`: a copy holds the answer's sentence with a
    few words swapped), or verbatim in the original (`hit5_original`).

    Where a larger library loses it, searched within a scope of the same index (its
    statistics and segments; a scoped search ranks every chunk exactly):
    `hit5_originals_only`, copy 0 of every article alone, is the k = 1 library inside this
    one: below k = 1's hit5 by what the system loses at this size; `hit5_others_copied`,
    the question's own article once and every copy of the others, by what the other
    articles' extra copies take from it."""
    docs = [d.doc_id for d in engine.documents()]
    originals = frozenset(d for d in docs if d.endswith("-r0.txt"))

    def words(text: str) -> set[str]:
        return set(re.findall(r"\w+", text.lower()))

    def hit(question: str, doc: str, answer: str, scope: Any = None) -> tuple[bool, bool]:
        passages = [
            p
            for p in engine.retrieve(question, 5, doc_ids=scope)
            if p.doc_id.startswith(f"covid-qa-{doc}-r")
        ]
        verbatim = [" ".join(answer.split()) in " ".join(p.text.split()) for p in passages]
        return any(
            v or words(answer) <= words(p.text) for v, p in zip(verbatim, passages, strict=True)
        ), any(
            v and p.doc_id == f"covid-qa-{doc}-r0.txt"
            for v, p in zip(verbatim, passages, strict=True)
        )

    plain = [hit(*qa) for qa in qas]
    alone = [hit(*qa, scope=originals) for qa in qas]

    def others_copied(doc: str) -> list[str]:
        return [d for d in docs if not d.startswith(f"covid-qa-{doc}-r")] + [
            f"covid-qa-{doc}-r0.txt"
        ]

    others = [hit(*qa, scope=others_copied(qa[1])) for qa in qas]
    n = len(qas)
    return {
        "hit5": sum(h for h, _ in plain) / n,
        "hit5_original": sum(o for _, o in plain) / n,
        "hit5_originals_only": sum(h for h, _ in alone) / n,
        "hit5_others_copied": sum(h for h, _ in others) / n,
    }


def _recall(fast: list[tuple[int, float]], exact: list[tuple[int, float]]) -> float:
    """Share of a full scan's top 50 that the fast search also ranks there, by score: the
    copies' sentences tie (reused vectors are equal), and which of equals comes first is
    not a miss."""
    if not exact:
        return 1.0
    floor = exact[-1][1] - 1e-6
    return min(1.0, sum(score >= floor for _, score in fast) / len(exact))


def _step_recall(work: Path, n_questions: int) -> dict[str, Any]:
    """The projection shortlist's recall: of a full scan's 50 best chunks by their best
    sentence, the share the shortlisted search also returns (a process of its own, as the
    full scans read every vector)."""
    from rag import Engine

    engine = Engine.open(_settings(work / "index"))
    shortlist = engine.settings.retrieval.shortlist
    kept = []
    for q in _questions(n_questions):
        vector = engine.embedder.get_query_embedding(q)
        fast = engine.search.semantic(vector, 50, shortlist=shortlist)
        kept.append(_recall(fast, engine.search.semantic(vector, 50, shortlist=0)))
    return {"shortlist_recall50": sum(kept) / len(kept), "shortlist": shortlist}


def _concurrent(engine: Any, work: Path, questions: list[str]) -> dict[str, float]:
    """Answer in a loop while another process ingests; when do its documents show?"""
    later = sorted((work / "later").glob("*.txt"))
    if not later:
        raise RuntimeError(f"no documents to add in {work / 'later'}")
    code = (
        "import sys; from pathlib import Path; from rag import Engine, Settings; "
        "Engine.open(Settings(index_dir=Path(sys.argv[1]))).ingest(sys.argv[2:])"
    )
    args = [sys.executable, "-c", code, str(work / "index"), *map(str, later)]
    t0 = time.perf_counter()
    writer = subprocess.Popen(args, env=os.environ.copy(), stderr=subprocess.PIPE, text=True)
    slowest, seen, i = 0.0, None, 0
    while seen is None and time.perf_counter() - t0 < 600:
        t = time.perf_counter()
        engine.ask(questions[i % len(questions)])
        slowest = max(slowest, time.perf_counter() - t)
        i += 1
        if all(engine.search.sentences(p.name, 0, 10**9) for p in later):
            seen = time.perf_counter() - t0
    if writer.wait() != 0:
        raise RuntimeError(f"the concurrent ingest failed: {writer.stderr.read()[-2000:]}")
    return {"concurrent_max_s": slowest, "concurrent_seen_s": seen if seen is not None else -1.0}


def _embedding_time(engine: Any, path: Path) -> float:
    """What the document's own sentences cost the embedder (same batches as ingest)."""
    from index.sentences import split_sentences

    text = path.read_text(encoding="utf-8")
    sentences = [s.text for s in split_sentences(text)]
    t = time.perf_counter()
    engine.embedder.get_text_embedding_batch(sentences)
    return time.perf_counter() - t


def _step_reopen(work: Path) -> dict[str, Any]:
    from rag import Engine

    questions = _questions(20)
    t0 = time.perf_counter()
    engine = Engine.open(_settings(work / "index"))
    opened = time.perf_counter() - t0
    answers = [engine.ask(questions[0])]
    first = time.perf_counter() - t0
    times = []
    for q in questions[1:]:  # whether what opening left unread slows the next answers
        t = time.perf_counter()
        answers.append(engine.ask(q))
        times.append(time.perf_counter() - t)
    said = json.dumps([_rounded(a.model_dump(mode="json")) for a in answers], sort_keys=True)
    return {
        "open_s": opened,
        "first_answer_s": first,
        "next_p50_ms": 1000 * sorted(times)[9],
        "answers": hashlib.sha256(said.encode()).hexdigest()[:12],
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _rounded(value: Any) -> Any:
    """Scores to 9 digits: sums over a set's order (which the hash seed sets per process)
    differ in the last bit from run to run, with either system."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _step_probe(work: Path, n_questions: int) -> dict[str, Any]:
    """How many inverted lists a question should probe: recall@50 against a full scan and
    the semantic side's median time, per share of lists probed, on one kept index (the
    lists built in memory where its segments predate them), and without lists; at the
    share in use, also with float32 projections in place of the int8 codes. Tuned on the
    questions between the curve's, not on them."""
    import numpy as np

    from index import search
    from rag import Engine

    engine = Engine.open(_settings(work / "index"))
    engine.search.refresh()
    segments = engine.search._current().segments
    lists = {}
    for seg in segments:
        if seg.reduced is not None:  # every projected segment, to tune on a smaller library
            if seg.ivf is None:
                projected = np.asarray(seg.reduced, dtype=np.float32) * seg.reduced_scale
                seg.ivf, order = search._kmeans_lists(projected)
                seg.reduced = np.ascontiguousarray(np.asarray(seg.reduced)[order])
            lists[seg.name] = (seg.ivf, seg.reduced, seg.reduced_scale)
    shortlist = engine.settings.retrieval.shortlist
    tuning = _questions(2 * n_questions)[1::2]
    vectors = [engine.embedder.get_query_embedding(q) for q in tuning]
    exact = [engine.search.semantic(v, 50, shortlist=0) for v in vectors]
    out: dict[str, Any] = {
        "sentences": int(sum(len(seg.sent_doc) for seg in segments)),
        "segments_with_lists": len(lists),
    }
    in_use = search._PROBE_SHARE
    for share in (None, 0.02, 0.04, 0.08, 0.16, 0.32, "float32"):
        for seg in segments:
            if seg.name in lists:
                ivf, reduced, scale = lists[seg.name]
                seg.ivf = ivf if share else None
                seg.reduced, seg.reduced_scale = reduced, scale
                if share is None:  # rows back in their own order for the plain scan
                    plain = np.empty_like(reduced)
                    plain[ivf.rows] = reduced
                    seg.reduced = plain
                elif share == "float32":  # the codes' baseline: what they were coded from
                    seg.reduced = np.asarray(seg.vectors[ivf.rows]) @ seg.basis
                    seg.reduced_scale = np.ones_like(scale)
        search._PROBE_SHARE = in_use if share == "float32" else (share or 0.0)
        name = {None: "no_lists", "float32": f"probe_{in_use}_float32"}.get(share, f"probe_{share}")
        out[f"{name}_recall50"], out[f"{name}_ms"] = _recall_and_ms(
            engine, vectors, exact, shortlist
        )
    search._PROBE_SHARE = in_use
    # The shortlist's length at the share in use: the chunks whose sentences are read exactly.
    for length in (100, 200, 300, 500, 1000):
        recall, ms = _recall_and_ms(engine, vectors, exact, length)
        out[f"shortlist_{length}_recall50"], out[f"shortlist_{length}_ms"] = recall, ms
    return out


def _recall_and_ms(
    engine: Any, vectors: list[Any], exact: list[list[tuple[int, float]]], shortlist: int
) -> tuple[float, float]:
    """The shortlisted search's mean recall@50 against `exact` and its median ms."""
    kept, times = [], []
    for v, full in zip(vectors, exact, strict=True):
        t = time.perf_counter()
        got = engine.search.semantic(v, 50, shortlist=shortlist)
        times.append(time.perf_counter() - t)
        kept.append(_recall(got, full))
    return sum(kept) / len(kept), 1000 * sorted(times)[len(times) // 2]


def _step_hit5(work: Path, n_questions: int) -> dict[str, Any]:
    from rag import Engine

    return _hit5(Engine.open(_settings(work / "index")), _qas(n_questions))


def _worker(argv: list[str]) -> None:
    step, work, k, n = argv[0], Path(argv[1]), int(argv[2]), int(argv[3])
    if step == "reopen":
        out = _step_reopen(work)
    elif step == "recall":
        out = _step_recall(work, n)
    elif step == "probe":
        out = _step_probe(work, n)
    elif step == "hit5":
        out = _step_hit5(work, n)
    elif step == "ingest":
        out = _step_ingest(work, k, reuse=argv[4:] == ["reuse"])
    else:
        out = _step_serve(work, k, n)
    print("RESULT " + json.dumps(out), flush=True)


# -- the driver -----------------------------------------------------------------
def _run_step(
    tree: Path, step: str, work: Path, k: int, n: int, *extra: str, cgroup: Path | None = None
) -> dict[str, Any]:
    # runpy, not -m: the baseline tree has no eval.bench.scale, but its rag/index come first.
    code = "import runpy,sys; runpy.run_path(sys.argv[1], run_name='__worker__')"
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    args = [sys.executable, "-c", code, __file__, step, str(work), str(k), str(n), *extra]

    def join() -> None:  # in the child, before it runs: its memory counts in the group
        (cgroup / "cgroup.procs").write_text(str(os.getpid()))  # type: ignore[operator]

    proc = subprocess.run(
        args, env=env, capture_output=True, text=True, cwd=tree, preexec_fn=join if cgroup else None
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"{step} k={k} in {tree} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def ram_limited(tree: Path, work: Path, limit_mb: int) -> dict[str, Any]:
    """Open WORK/index and answer 20 questions (the --reopen step) in a memory cgroup of
    `limit_mb` (cgroup v1, as root): the library's index may be larger than that; its
    mapped files are then paged in and out, and only what the process allocates must fit."""
    root = Path("/sys/fs/cgroup/memory")
    if not (root / "cgroup.procs").is_file():
        raise SystemExit(f"--ram-limit-mb needs the cgroup v1 memory controller at {root}")
    group = root / f"papertrail-bench-{os.getpid()}"
    group.mkdir(exist_ok=True)
    try:
        (group / "memory.limit_in_bytes").write_text(str(limit_mb * 2**20))
        # Pages already cached were charged to whoever read them: start from none.
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        row = _run_step(tree, "reopen", work, 0, 0, cgroup=group)
        row["limit_mb"] = limit_mb
        row["index_mb"] = _disk_mb(work / "index")
        row["group_max_mb"] = int((group / "memory.max_usage_in_bytes").read_text()) / 2**20
        row["limit_hits"] = int((group / "memory.failcnt").read_text())
        return row
    finally:
        group.rmdir()


def _disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def measure(
    tree: Path,
    k: int,
    n: int,
    scratch: Path,
    keep: Path | None = None,
    *,
    reuse: bool = False,
    recall: int = 20,
) -> dict[str, Any]:
    work = scratch / f"{tree.name}-k{k}"
    shutil.rmtree(work, ignore_errors=True)
    row = _run_step(tree, "ingest", work, k, n, *(["reuse"] if reuse else []))
    row.update(_run_step(tree, "serve", work, k, n))
    if recall:
        row.update(_run_step(tree, "recall", work, k, recall))
    row["disk_mb"] = _disk_mb(work / "index")
    row["bytes_per_char"] = row["disk_mb"] * 1e6 / row["chars"]
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(keep / work.name, ignore_errors=True)
        shutil.move(work, keep / work.name)
    shutil.rmtree(work, ignore_errors=True)
    return row


def reopen(trees: dict[str, Path], source: Path, repeat: int, scratch: Path) -> str:
    """Open + first answer on copies of one index, systems alternating run by run."""
    times: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for name in trees:
        work = scratch / name.replace(" ", "-")
        shutil.copytree(source / "index", work / "index")
        _run_step(trees[name], "reopen", work, 0, 0)  # migrates the cache, warms the OS's
    for _ in range(repeat):
        for name, tree in trees.items():
            times[name].append(_run_step(tree, "reopen", scratch / name.replace(" ", "-"), 0, 0))
    lines = [
        "| system | open s | first answer after open s | next 19 answers p50 ms | peak RSS MB "
        "| first answer, each run s | the 20 answers (digest) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, rows in times.items():
        med = {c: sorted(r[c] for r in rows)[len(rows) // 2] for c in rows[0] if c != "answers"}
        runs = ", ".join(f"{r['first_answer_s']:.2f}" for r in rows)
        said = ", ".join(sorted({r["answers"] for r in rows}))
        lines.append(
            f"| {name} | {med['open_s']:.2f} | {med['first_answer_s']:.2f} "
            f"| {med['next_p50_ms']:.0f} | {med['rss_mb']:,.0f} | {runs} | {said} |"
        )
    lines.append("\n(medians of the runs)")
    return "\n".join(lines)


def _table(rows: list[dict[str, Any]]) -> str:
    head = ["system", "k", *[label for _, label, _ in _COLUMNS]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [fmt.format(row[key]) if key in row else "–" for key, _, fmt in _COLUMNS]
        lines.append(f"| {row['system']} | {row['k']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _html(rows: list[dict[str, Any]], stamp: str) -> str:
    plots = [
        ("ask_p50_ms", "answer p50 (ms)"),
        ("ask_p95_ms", "answer p95 (ms)"),
        ("first_answer_s", "first answer after open (s)"),
        ("add_answer_s", "adding one paper, to its first answer (s)"),
        ("rss_mb", "serve peak RSS (MB)"),
        ("bytes_per_char", "index bytes per source char"),
        ("ingest_chars_per_s", "ingest chars/s"),
        ("hit5", "hit@5 of the original questions"),
        ("hit5_originals_only", "hit@5, copy 0 of each article alone"),
        ("hit5_others_copied", "hit@5, own article once, the others' copies"),
        ("shortlist_recall50", "shortlist recall@50"),
    ]
    figs = "".join(_plot(rows, key, title) for key, title in plots)
    return (
        "<!doctype html><meta charset='utf-8'><title>PaperTrail at scale</title>"
        "<body style='font-family:sans-serif'><h1>PaperTrail at scale</h1>"
        f"<p>{escape(stamp)}</p>{figs}<pre>{escape(_table(rows))}</pre></body>"
    )


def _plot(rows: list[dict[str, Any]], key: str, title: str) -> str:
    w, h, pad = 420, 240, 40
    rows = [r for r in rows if key in r]
    ks = sorted({int(r["k"]) for r in rows})
    top = max((r[key] for r in rows), default=1) or 1
    kmax = max(ks, default=1)

    def xy(k: int, v: float) -> str:
        return f"{pad + (w - 2 * pad) * k / kmax:.1f},{h - pad - (h - 2 * pad) * v / top:.1f}"

    colours = ("#d1495b", "#1b6ca8")
    lines = []
    for i, system in enumerate(dict.fromkeys(r["system"] for r in rows)):
        mine = sorted((r for r in rows if r["system"] == system), key=lambda r: int(r["k"]))
        pts = " ".join(xy(int(r["k"]), r[key]) for r in mine)
        c = colours[i % 2]
        lines.append(f"<polyline fill='none' stroke='{c}' stroke-width='2' points='{pts}'/>")
        dots = "".join(
            f"<circle cx='{xy(int(r['k']), r[key]).split(',')[0]}' "
            f"cy='{xy(int(r['k']), r[key]).split(',')[1]}' r='3' fill='{c}'/>"
            for r in mine
        )
        lines.append(dots)
        lines.append(f"<text x='{w - 150}' y='{20 + 14 * i}' fill='{c}'>{escape(system)}</text>")
    ticks = "".join(f"<text x='{xy(k, 0).split(',')[0]}' y='{h - pad + 15}'>{k}</text>" for k in ks)
    return (
        f"<figure><figcaption>{escape(title)} against k (x 98 articles); "
        f"top of axis {top:.3g}</figcaption><svg width='{w}' height='{h}'>"
        f"<line x1='{pad}' y1='{h - pad}' x2='{w - pad}' y2='{h - pad}' stroke='#999'/>"
        f"<line x1='{pad}' y1='{pad}' x2='{pad}' y2='{h - pad}' stroke='#999'/>"
        f"{ticks}{''.join(lines)}</svg></figure>"
    )


def _update_readme(readme: Path, block: str) -> None:
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(_MARK[0]), text.find(_MARK[1])
    if start < 0 or end < start:
        raise SystemExit(f"{readme} has no {_MARK[0]} ... {_MARK[1]} markers")
    readme.write_text(text[: start + len(_MARK[0])] + "\n" + block + "\n" + text[end:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--k",
        type=int,
        nargs="+",
        default=[1, 4, 10],
        help="one: the curve up to it; several: those",
    )
    parser.add_argument("--baseline", type=Path, help="another source tree, run side by side")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("eval-out/scale"))
    parser.add_argument("--readme", type=Path, help="write the table into this README")
    parser.add_argument("--keep", type=Path, help="keep each last library and index here")
    parser.add_argument("--reopen", type=Path, help="only time opening WORK/index (--keep)")
    parser.add_argument("--repeat", type=int, default=5, help="--reopen runs per system")
    parser.add_argument(
        "--ram-limit-mb", type=int, help="with --reopen: open and answer within this memory"
    )
    parser.add_argument("--probe", type=Path, help="only sweep the lists probed on WORK/index")
    parser.add_argument("--hit5", type=Path, help="only hit@5 and its scoped parts on WORK/index")
    parser.add_argument("--only", action="store_true", help="a single --k alone, not the curve")
    parser.add_argument(
        "--reuse-vectors",
        action="store_true",
        help=f"above k = {_REAL_UP_TO}, copies' sentences reuse their originals' real vectors",
    )
    args = parser.parse_args(argv)
    trees = {"this tree": _ROOT}
    if args.baseline:
        trees = {"baseline": args.baseline.resolve(), **trees}
    if args.ram_limit_mb:
        if not args.reopen:
            raise SystemExit("--ram-limit-mb times --reopen WORK's index in a memory limit")
        for name, tree in trees.items():
            row = ram_limited(tree, args.reopen.resolve(), args.ram_limit_mb)
            print(name, json.dumps({c: _short(v) for c, v in row.items()}))
        return
    if args.hit5:
        for name, tree in trees.items():
            print(name, json.dumps(_run_step(tree, "hit5", args.hit5.resolve(), 0, args.questions)))
        return
    if args.probe:
        for name, tree in trees.items():
            print(
                name, json.dumps(_run_step(tree, "probe", args.probe.resolve(), 0, args.questions))
            )
        return
    if args.reopen:
        with tempfile.TemporaryDirectory(prefix="bench-reopen-") as scratch:
            print(reopen(trees, args.reopen.resolve(), args.repeat, Path(scratch)))
        return
    ks = (
        args.k
        if len(args.k) > 1 or args.only
        else sorted({*(k for k in _STEPS if k < args.k[0]), args.k[0]})
    )
    rows: list[dict[str, Any]] = []
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m eval.bench.scale " + " ".join(sys.argv[1:] if argv is None else argv)
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        for k in ks:
            for name, tree in trees.items():  # side by side, k by k
                load = os.getloadavg()[0]
                row = measure(
                    tree, k, args.questions, Path(scratch), args.keep, reuse=args.reuse_vectors
                )
                rows.append({"system": name, "k": k, **row, "load_before": load})
                print(f"{name} k={k}: " + json.dumps({c: _short(v) for c, v in row.items()}))
                # Written after each k: a long run's finished rows survive its end.
                (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    stamp = (
        f"`{command.strip()}`, {started:%Y-%m-%d %H:%M}-{datetime.now(UTC):%H:%M} UTC, "
        f"{os.cpu_count()} cores"
    )
    (out / "report.html").write_text(_html(rows, stamp), encoding="utf-8")
    table = _table(rows)
    print(table)
    if args.readme:
        _update_readme(args.readme, f"{stamp}:\n\n{table}")


def _short(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


if __name__ == "__worker__":
    _worker(sys.argv[2:])
elif __name__ == "__main__":
    main()
