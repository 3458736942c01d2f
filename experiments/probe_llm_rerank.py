"""The local model as a listwise re-ranker of PaperTrail's top passages, on COVID-QA dev.

    python -m experiments.probe_llm_rerank --sample N [--depth 10] [--chars 300] [--out DIR]

Issue #25, deliverable 4. One run scores two systems side by side through the project's
own eval (`eval.evaluate.evaluate`, so hit@k and MRR@10 are `papertrail eval`'s):
`papertrail` as shipped, and `papertrail-llm-rerank`, the same retrieval with its top
`--depth` passages shown to the local model (Qwen2.5-Coder-1.5B-Instruct through
llama.cpp), each cut to a window of at most `--chars` characters around its sentence
closest to the question, and asked once, in constrained JSON, which numbered passage
states the answer; that passage moves to rank 1, the others keep their order. The
questions are `--sample N` of COVID-QA dev (eval.datasets.fixed_sample: the same on every
machine). Writes DIR/results.json (default eval-out/probe-llm-rerank) and prints the
table with the seconds each LLM call took, the date and the load average (the model reads
~70 tokens/s on 2 idle cores, so a busy machine shows in the timings, not in the scores).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from time import perf_counter
from typing import Any

import eval.evaluate as evaluate_module
import eval.runner as runner_module
from eval.baselines import SYSTEMS, PaperTrailSystem, System
from eval.datasets import load_eval_set
from eval.evaluate import Evaluation, evaluate
from eval.metrics import percentile
from index.models import Passage
from index.settings import Settings
from rag.generate import LLMError, reading_passages

# The product's prompt builder (numbered passages, READ_SYSTEM): the re-ranker reads the
# passages exactly as the judge and the writer do, only the task differs.
from rag.generate import _reading as reading_messages

NAME = "papertrail-llm-rerank"
BASELINE = "papertrail"
RERANK_TASK = (
    "Which passage states the answer to the question? Reply in JSON: "
    '"passage" is the number of the passage that states the answer, or 0 if none does '
    "(a passage on the same topic that does not give the answer is not enough)."
)


@dataclass
class Call:
    """One question's LLM call."""

    question: str
    seconds: float
    shown: int  # windows the model read (reading_passages drops near-repeats)
    choice: int | None  # the [n] it named; None for 0 (none) or a failed call
    error: str | None = None


def schema(n: int) -> dict[str, Any]:
    """`{"passage": int}` with the int limited to 0..n, so the grammar cannot name a
    passage that is not there (llama-cpp-python turns `enum` into alternatives)."""
    return {
        "type": "object",
        "properties": {"passage": {"type": "integer", "enum": list(range(n + 1))}},
        "required": ["passage"],
    }


def parse_choice(text: str, n: int) -> int | None:
    """The passage number in the model's JSON, None for 0; ValueError for anything else."""
    try:
        value = json.loads(text)["passage"]
    except (ValueError, TypeError, KeyError):
        raise ValueError(f"not the JSON asked: {text[:80]!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= n:
        raise ValueError(f"not a passage number 0..{n}: {value!r}")
    return value or None


def moved_first(passages: Sequence[Passage], chunk_id: str | None) -> list[Passage]:
    """`passages` with the chunk `chunk_id` at rank 1, the rest in their order. By chunk,
    not by [n]: the windows the model reads may skip a passage that repeats another."""
    i = next((i for i, p in enumerate(passages) if p.chunk_id == chunk_id), None)
    if i is None:
        return list(passages)
    return [passages[i], *passages[:i], *passages[i + 1 :]]


class LLMRerankSystem(PaperTrailSystem):
    """PaperTrail whose top `depth` passages the local model re-orders (answers unchanged:
    `ask` is PaperTrail's own, so only the retrieval rows differ from `papertrail`)."""

    name = NAME

    def __init__(self, settings: Settings, *, depth: int, chars: int) -> None:
        super().__init__(settings)
        self.depth = depth
        self.chars = chars
        self.calls: dict[str, Call] = {}
        self._ranked: dict[str, list[Passage]] = {}

    def retrieve(self, question: str, k: int) -> list[Passage]:
        # Kept per question: the runner's warm-up retrieves the first question again, and
        # asking twice would time the second call off llama.cpp's prompt cache.
        if question not in self._ranked or len(self._ranked[question]) < k:
            self._ranked[question] = self._rerank(question, max(k, self.depth))
        return self._ranked[question][:k]

    def _rerank(self, question: str, k: int) -> list[Passage]:
        engine = self._engine
        ranked = engine.retrieve(question, k)
        top = ranked[: self.depth]
        if not top:
            return ranked
        windows = reading_passages(
            top,
            query_vector=engine._retriever.embed_query(question),
            sentences_in=engine.search.sentences,
            count=self.depth,
            chars=self.chars,
        )
        generator, why = engine._llm()  # starts the server: before the clock, not in it
        if generator is None:
            raise LLMError(why or "no LLM")
        # llama-cpp-python's form of a JSON-schema response, as Generator.judge sends it.
        fmt = {"type": "json_object", "schema": schema(len(windows))}
        started = perf_counter()
        choice, error = None, None
        try:
            response = generator.llm().chat(
                reading_messages(question, windows, RERANK_TASK),
                response_format=fmt,
                temperature=0.0,
                max_tokens=24,  # '{"passage": 10}' is ~7 tokens; room for the grammar's spaces
            )
        except Exception as exc:  # a failed call keeps PaperTrail's order and is counted
            error = generator._describe(exc)
        else:
            try:
                choice = parse_choice((response.message.content or "").strip(), len(windows))
            except ValueError as exc:
                error = str(exc)
        seconds = perf_counter() - started
        self.calls[question] = Call(question, seconds, len(windows), choice, error)
        chosen = windows[choice - 1].chunk_id if choice else None
        return moved_first(top, chosen) + ranked[self.depth :]


@contextmanager
def registered(made: list[System], *, depth: int, chars: int) -> Iterator[None]:
    """The eval runner opens `papertrail-llm-rerank` too, for this run only: the factory
    lookup and the allowed names are patched here, not in the product."""
    open_system = runner_module.open_system

    def opening(name: str, settings: Settings) -> System:
        if name == NAME:
            system: System = LLMRerankSystem(settings, depth=depth, chars=chars)
        else:
            system = open_system(name, settings)
        made.append(system)
        return system

    allowed = evaluate_module.SYSTEMS
    runner_module.open_system = opening  # type: ignore[assignment]
    evaluate_module.SYSTEMS = (*SYSTEMS, NAME)
    try:
        yield
    finally:
        runner_module.open_system = open_system
        evaluate_module.SYSTEMS = allowed


def table(evaluation: Evaluation, calls: Sequence[Call]) -> list[str]:
    seconds = [c.seconds for c in calls]
    rows = [
        "| system | hit@1 | hit@3 | hit@5 | MRR@10 | LLM s p50 | LLM s p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in (BASELINE, NAME):
        m = evaluation.results.systems[name]
        timed = name == NAME and seconds
        p50 = f"{percentile(seconds, 50):.1f}" if timed else "-"
        p95 = f"{percentile(seconds, 95):.1f}" if timed else "-"
        scores = " | ".join(_score(x) for x in (m.hit_1, m.hit_3, m.hit_5, m.mrr_10))
        rows.append(f"| {name} | {scores} | {p50} | {p95} |")
    return rows


def _score(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, required=True, help="COVID-QA dev questions")
    parser.add_argument("--depth", type=int, default=10, help="passages the model reads")
    parser.add_argument("--chars", type=int, default=300, help="longest window per passage")
    parser.add_argument("--out", type=Path, default=Path("eval-out/probe-llm-rerank"))
    args = parser.parse_args(argv)
    if args.sample < 1 or args.depth < 1 or args.chars < 1:
        parser.error("--sample, --depth and --chars must be at least 1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

    base = Settings()
    settings = base.model_copy(update={"llm": base.llm.model_copy(update={"local": True})})
    started_at = datetime.now().astimezone().isoformat(timespec="seconds")
    load_before = _load()
    made: list[System] = []
    with tempfile.TemporaryDirectory(prefix="probe-llm-rerank-") as tmp:
        work = Path(tmp)
        eval_set = load_eval_set(
            "covid-qa", work_dir=work / "corpus", split="dev", sample=args.sample
        )
        print(
            f"covid-qa (dev): {len(eval_set.questions)} questions, {len(eval_set.corpus)} "
            f"documents; depth {args.depth}, {args.chars} characters a passage",
            file=sys.stderr,
        )
        with registered(made, depth=args.depth, chars=args.chars):
            evaluation = evaluate(
                eval_set, settings, systems=[BASELINE, NAME], work_dir=work, isolate=False
            )
    load_after = _load()
    reranker = next(s for s in made if isinstance(s, LLMRerankSystem))
    calls = list(reranker.calls.values())
    first_hit = {
        name: {r.id: r.first_hit for r in rows if r.phase == "main"}
        for name, rows in evaluation.rows.items()
    }
    ids = {q.question: q.id for q in eval_set.questions}

    lines = [
        f"{started_at}, load average {load_before} at the start, {load_after} at the end",
        f"{len(eval_set.questions)} questions, depth {args.depth}, {args.chars} chars; "
        f"{len(calls)} LLM calls, {sum(c.choice is None and not c.error for c in calls)} "
        f"named no passage, {sum(bool(c.error) for c in calls)} failed",
        "",
        *table(evaluation, calls),
    ]
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "started": started_at,
        "load_average": {"start": load_before, "end": load_after},
        "args": {"sample": args.sample, "depth": args.depth, "chars": args.chars},
        "n_questions": len(eval_set.questions),
        "systems": {
            name: {
                **evaluation.results.systems[name].model_dump(
                    by_alias=True, include={"hit_1", "hit_3", "hit_5", "hit_10", "mrr_10"}
                ),
                **(
                    {
                        "llm_s_p50": percentile([c.seconds for c in calls], 50),
                        "llm_s_p95": percentile([c.seconds for c in calls], 95),
                    }
                    if name == NAME
                    else {}
                ),
            }
            for name in (BASELINE, NAME)
        },
        "calls": [
            {
                "id": ids.get(c.question),
                **asdict(c),
                "first_hit": {n: first_hit[n].get(ids.get(c.question, "")) for n in first_hit},
            }
            for c in calls
        ],
        "results": evaluation.results.model_dump(by_alias=True),
    }
    (args.out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}/results.json", file=sys.stderr)


if __name__ == "__main__":
    main()
