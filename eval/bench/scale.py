"""Scale benchmark: the issue #13 table for a library of k x 98 COVID-QA articles.

    python -m eval.bench.scale [--k 1 4 10] [--baseline DIR] [--questions 100]
                               [--out eval-out/scale] [--readme README.md]
    python -m eval.bench.scale --reopen WORK [--baseline DIR] [--repeat 5]

--keep WORK keeps the last k's library and index (in WORK/<system>-k<k>); --reopen WORK
then times only "open the index, first answer" on a copy of WORK/index for each system,
alternating runs (the first, untimed, lets a system migrate the cache to its format), so
that an opening change is measured on one index without ingesting it again.

Each COVID-QA article is written k times: copy 0 as it is, copy r > 0 with its sentences
shuffled (seeded by r) into paragraphs of the original sizes and about one word in ten
swapped with the next, so that no two copies share 90 % of their word 5-grams and ingest
does not take them for duplicates (which would leave all but one copy out of search). For
each k and each system (this tree, and with --baseline another
source tree, e.g. `git worktree add /tmp/base main`), two fresh processes run:
- ingest: `Engine.ingest` of the whole library (chars/s);
- serve: open the index, first answer (cold), warm answers (p50/p95), then add one more
  document and ask (add = its ingest, ask = the answer after it; `embed` is that
  document's own embedding time, measured apart), and the process's peak RSS.
Both systems run side by side in one invocation, so their ratios share the machine's
load. Writes results.json and report.html (curves) in --out and, with --readme, the
table between the README's `bench-scale` markers.

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
    ("documents", "documents", "{:,}"),
    ("source_mchars", "source chars (M)", "{:.1f}"),
    ("ingest_s", "ingest s", "{:.0f}"),
    ("ingest_chars_per_s", "ingest chars/s", "{:,.0f}"),
    ("first_answer_s", "first answer after open s", "{:.2f}"),
    ("p50_ms", "answer p50 ms", "{:.0f}"),
    ("p95_ms", "answer p95 ms", "{:.0f}"),
    ("add_embed_s", "add one: its embedding s", "{:.2f}"),
    ("add_s", "add one: ingest s", "{:.2f}"),
    ("add_answer_s", "add one: next answer s", "{:.2f}"),
    ("disk_mb", "index on disk MB", "{:,.0f}"),
    ("bytes_per_char", "bytes/char", "{:.0f}"),
    ("serve_rss_gb", "serve peak RSS GB", "{:.2f}"),
    ("concurrent_max_s", "answer max s while another process ingests", "{:.2f}"),
    ("concurrent_seen_s", "its documents searchable after s", "{:.1f}"),
)
_CONCURRENT_DOCS = 5
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


# -- the library ------------------------------------------------------------------
def _articles() -> list[dict[str, Any]]:
    return [a["paragraphs"][0] for a in json.loads(_COVID.read_text())["data"]]


def _copy(context: str, r: int) -> str:
    """Copy r of an article: the title line, then (r > 0) its sentences, a few words of
    each swapped, shuffled into paragraphs of the original sentence counts."""
    title, _, body = context.partition("\n")
    if r == 0:
        return context
    paras = [_SENTENCE_END.split(p) for p in body.split("\n")]
    rng = random.Random(f"{r}:{title}")
    sentences = [_swapped(s, rng) for p in paras for s in p]
    rng.shuffle(sentences)
    out, i = [], 0
    for p in paras:
        out.append(" ".join(sentences[i : i + len(p)]))
        i += len(p)
    return "\n".join([title, *out])


def _swapped(sentence: str, rng: random.Random) -> str:
    """About one word in ten swapped with the next: the same words, other 5-grams."""
    words = sentence.split(" ")
    i = 0
    while i < len(words) - 1:
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
    out = [qa["question"] for a in _articles() for qa in a["qas"]]
    return out[:: max(len(out) // n, 1)][:n]


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


def _step_ingest(work: Path, k: int) -> dict[str, Any]:
    from rag import Engine

    paths, _, chars = _write_library(work / "library", k)
    engine = Engine.open(_settings(work / "index"))
    t0 = time.perf_counter()
    engine.ingest(paths)
    seconds = time.perf_counter() - t0
    return {
        "documents": len(paths),
        "source_mchars": chars / 1e6,
        "ingest_s": seconds,
        "ingest_chars_per_s": chars / seconds,
        "_chars": chars,
    }


def _step_serve(work: Path, k: int, n_questions: int) -> dict[str, Any]:
    from rag import Engine

    settings = _settings(work / "index")
    questions = _questions(n_questions)
    t0 = time.perf_counter()
    engine = Engine.open(settings)
    engine.ask(questions[0])
    first = time.perf_counter() - t0
    times = []
    for q in questions:
        t = time.perf_counter()
        engine.ask(q)
        times.append(time.perf_counter() - t)
    times.sort()
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
        "p50_ms": 1000 * times[len(times) // 2],
        "p95_ms": 1000 * times[min(int(len(times) * 0.95), len(times) - 1)],
        "add_embed_s": embed_s,
        "add_s": add,
        "add_answer_s": add_answer,
        "serve_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }


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


def _worker(argv: list[str]) -> None:
    step, work, k, n = argv[0], Path(argv[1]), int(argv[2]), int(argv[3])
    if step == "reopen":
        out = _step_reopen(work)
    else:
        out = _step_ingest(work, k) if step == "ingest" else _step_serve(work, k, n)
    print("RESULT " + json.dumps(out), flush=True)


# -- the driver -----------------------------------------------------------------
def _run_step(tree: Path, step: str, work: Path, k: int, n: int) -> dict[str, Any]:
    # runpy, not -m: the baseline tree has no eval.bench.scale, but its rag/index come first.
    code = "import runpy,sys; runpy.run_path(sys.argv[1], run_name='__worker__')"
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    args = [sys.executable, "-c", code, __file__, step, str(work), str(k), str(n)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, cwd=tree)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"{step} k={k} in {tree} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def _disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def measure(tree: Path, k: int, n: int, scratch: Path, keep: Path | None = None) -> dict[str, Any]:
    work = scratch / f"{tree.name}-k{k}"
    shutil.rmtree(work, ignore_errors=True)
    row = _run_step(tree, "ingest", work, k, n)
    row.update(_run_step(tree, "serve", work, k, n))
    row["disk_mb"] = _disk_mb(work / "index")
    row["bytes_per_char"] = row["disk_mb"] * 1e6 / row.pop("_chars")
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
        "| system | open s | first answer after open s | next 19 answers p50 ms "
        "| first answer, each run s | the 20 answers (digest) |",
        "|---|---|---|---|---|---|",
    ]
    for name, rows in times.items():
        med = {c: sorted(r[c] for r in rows)[len(rows) // 2] for c in rows[0] if c != "answers"}
        runs = ", ".join(f"{r['first_answer_s']:.2f}" for r in rows)
        said = ", ".join(sorted({r["answers"] for r in rows}))
        lines.append(
            f"| {name} | {med['open_s']:.2f} | {med['first_answer_s']:.2f} "
            f"| {med['next_p50_ms']:.0f} | {runs} | {said} |"
        )
    lines.append("\n(medians of the runs)")
    return "\n".join(lines)


def _table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    head = ["system", "k", *[label for _, label, _ in _COLUMNS]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for system, rows in results.items():
        for k, row in rows.items():
            cells = [fmt.format(row[key]) for key, _, fmt in _COLUMNS]
            lines.append(f"| {system} | {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _html(results: dict[str, dict[str, dict[str, Any]]], stamp: str) -> str:
    plots = [
        ("p50_ms", "answer p50 (ms)"),
        ("first_answer_s", "first answer after open (s)"),
        ("add_answer_s", "answer after adding one document (s)"),
        ("serve_rss_gb", "serve peak RSS (GB)"),
        ("bytes_per_char", "index bytes per source char"),
        ("ingest_chars_per_s", "ingest chars/s"),
    ]
    figs = "".join(_plot(results, key, title) for key, title in plots)
    return (
        "<!doctype html><meta charset='utf-8'><title>PaperTrail at scale</title>"
        "<body style='font-family:sans-serif'><h1>PaperTrail at scale</h1>"
        f"<p>{escape(stamp)}</p>{figs}<pre>{escape(_table(results))}</pre></body>"
    )


def _plot(results: dict[str, dict[str, dict[str, Any]]], key: str, title: str) -> str:
    w, h, pad = 420, 240, 40
    ks = sorted({int(k) for rows in results.values() for k in rows})
    top = max((r[key] for rows in results.values() for r in rows.values()), default=1) or 1
    kmax = max(ks, default=1)

    def xy(k: int, v: float) -> str:
        return f"{pad + (w - 2 * pad) * k / kmax:.1f},{h - pad - (h - 2 * pad) * v / top:.1f}"

    colours = ("#d1495b", "#1b6ca8")
    lines = []
    for i, (system, rows) in enumerate(results.items()):
        pts = " ".join(xy(int(k), r[key]) for k, r in sorted(rows.items(), key=lambda x: int(x[0])))
        c = colours[i % 2]
        lines.append(f"<polyline fill='none' stroke='{c}' stroke-width='2' points='{pts}'/>")
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
    parser.add_argument("--k", type=int, nargs="+", default=[1, 4, 10])
    parser.add_argument("--baseline", type=Path, help="another source tree, run side by side")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("eval-out/scale"))
    parser.add_argument("--readme", type=Path, help="write the table into this README")
    parser.add_argument("--keep", type=Path, help="keep each last library and index here")
    parser.add_argument("--reopen", type=Path, help="only time opening WORK/index (--keep)")
    parser.add_argument("--repeat", type=int, default=5, help="--reopen runs per system")
    args = parser.parse_args(argv)
    trees = {"this tree": _ROOT}
    if args.baseline:
        trees = {"baseline": args.baseline.resolve(), **trees}
    if args.reopen:
        with tempfile.TemporaryDirectory(prefix="bench-reopen-") as scratch:
            print(reopen(trees, args.reopen.resolve(), args.repeat, Path(scratch)))
        return
    results: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in trees}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        for k in args.k:
            for name, tree in trees.items():  # side by side, k by k
                results[name][str(k)] = row = measure(
                    tree, k, args.questions, Path(scratch), args.keep
                )
                print(f"{name} k={k}: " + json.dumps({c: round(v, 3) for c, v in row.items()}))
    command = "python -m eval.bench.scale " + " ".join(sys.argv[1:] if argv is None else argv)
    stamp = f"`{command.strip()}`, {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "report.html").write_text(_html(results, stamp), encoding="utf-8")
    table = _table(results)
    print(table)
    if args.readme:
        _update_readme(args.readme, f"{stamp}:\n\n{table}")


if __name__ == "__worker__":
    _worker(sys.argv[2:])
elif __name__ == "__main__":
    main()
