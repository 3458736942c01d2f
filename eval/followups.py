"""Two-turn conversations: does the second answer hold the fact, and does it repeat the first?

Each conversation of `eval/datasets/conversations/conversations.jsonl` is asked in one index
(the bundled MSC article, five COVID-QA articles the conversations are about and five that
are not) under three policies for the second question:

- `previous`: the old engine: a question with at most three terms or a pronoun was searched
  as "<previous question> <question>", and nothing kept it from quoting the first answer again;
- `followup`: the engine as it is (`rag.followup`): only a question that leans on the last turn
  is searched with the last turn's topic words, and its answer leaves out what was quoted;
- `alone`: the second question asked with no history (what a self-contained question should get).

It reports answer_contains of the second answer, how many first-answer sentences it quotes
again, how often the question was rewritten, and for self-contained questions how often the
answer is the one asked alone, over all conversations and those needing context or not.

    python -m eval.followups [--split dev|test|all] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from eval.datasets import dev_half
from eval.metrics import contains_answer, mean, strip_citation_marks
from eval.models import Split
from index.errors import PaperTrailError
from index.keyword import terms
from index.settings import BUNDLED_CORPUS, Settings
from rag import Engine
from rag.followup import Turn

__all__ = [
    "POLICIES",
    "Conversation",
    "FollowupRun",
    "followup_metrics",
    "previous_query",
    "run_followups",
]

_DATA = Path(__file__).parent / "datasets"
CONVERSATIONS = _DATA / "conversations" / "conversations.jsonl"
POLICIES = ("previous", "followup", "alone")
_ABOUT = ("2432", "2555", "2459", "2643", "1545")  # the conversations' COVID-QA articles
_OTHERS = ("2554", "2466", "187", "2450", "1559")  # related articles, to be retrieved by mistake
_OLD_PRONOUN = r"\b(it|its|they|them|their|this|these|those|that|he|she|such)\b"


class Conversation(BaseModel):
    id: str
    doc_id: str
    turns: list[str]
    answers: list[str]
    needs_context: bool
    kind: str


class Second(BaseModel):
    """The second turn's answer under one policy."""

    id: str
    policy: str
    searched: str
    abstained: bool
    answer: str
    quotes: list[str]
    first_quotes: list[str]  # what the first answer quoted


class FollowupRun(BaseModel):
    split: Split
    conversations: list[Conversation]
    seconds: list[Second]


def previous_query(question: str, history: Sequence[Turn]) -> str:
    """The engine's follow-up rule before rag.followup (engine.py at 9b272aa)."""
    if not history:
        return question
    if len(terms(question)) <= 3 or re.search(_OLD_PRONOUN, question, re.I):
        return f"{history[-1][0]} {question}"
    return question


def read_conversations(path: Path = CONVERSATIONS) -> list[Conversation]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                out.append(Conversation.model_validate_json(line))
            except ValueError as exc:
                raise PaperTrailError(f"{path}:{n}: {exc}") from exc
    return out


def conversations(split: Split) -> list[Conversation]:
    rows = read_conversations()
    if split == "all":
        return rows
    dev = dev_half([c.id for c in rows])
    return [c for c in rows if (c.id in dev) == (split == "dev")]


def corpus(folder: Path) -> list[Path]:
    """The bundled article and the COVID-QA articles, written under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    articles = {
        str(a["paragraphs"][0]["document_id"]): a["paragraphs"][0]["context"]
        for a in json.loads((_DATA / "covid-qa" / "covid-qa-200423.json").read_text())["data"]
    }
    files = [BUNDLED_CORPUS]
    for i in (*_ABOUT, *_OTHERS):
        path = folder / f"covid-qa-{i}.txt"
        path.write_text(articles[i], encoding="utf-8")
        title = articles[i].strip().split("\n", 1)[0]
        path.with_name(path.name + ".meta.json").write_text(json.dumps({"title": title[:200]}))
        files.append(path)
    return files


def run_followups(split: Split, work_dir: Path, settings: Settings | None = None) -> FollowupRun:
    base = settings or Settings()
    engine = Engine.open(base.model_copy(update={"index_dir": work_dir / "index"}))
    report = engine.ingest(corpus(work_dir / "files"))
    if not report.ok:
        raise RuntimeError(f"ingest failed: {[f.error for f in report.failed]}")
    rows = conversations(split)
    seconds = []
    for c in rows:
        first = engine.ask(c.turns[0])
        history = [(first.question, first.answer)]
        said = [x.quote for x in first.citations]
        question = c.turns[1]
        old = previous_query(question, history)
        asked = {
            "previous": engine.ask(old),  # the old engine searched and composed from `old`
            "followup": engine.ask(question, history),
            "alone": engine.ask(question),
        }
        for policy, a in asked.items():
            searched = old if policy == "previous" else a.searched or question
            seconds.append(
                Second(
                    id=c.id,
                    policy=policy,
                    searched=searched,
                    abstained=a.abstained,
                    answer=a.answer,
                    quotes=[x.quote for x in a.citations],
                    first_quotes=said,
                )
            )
    return FollowupRun(split=split, conversations=rows, seconds=seconds)


def followup_metrics(run: FollowupRun) -> dict[str, dict[str, float | None]]:
    """Per policy: answer_contains (all, needing context, self-contained), sentences repeated
    from the first answer, rewrite rates, and self-contained answers equal to asked-alone."""
    by_id = {c.id: c for c in run.conversations}
    alone = {s.id: s for s in run.seconds if s.policy == "alone"}
    out: dict[str, dict[str, float | None]] = {}
    for policy in POLICIES:
        rows = [s for s in run.seconds if s.policy == policy]
        ctx = [s for s in rows if by_id[s.id].needs_context]
        own = [s for s in rows if not by_id[s.id].needs_context]

        def hit(s: Second) -> float:
            ok = contains_answer(strip_citation_marks(s.answer), by_id[s.id].answers)
            return float(not s.abstained and ok)

        def repeats(s: Second) -> int:
            return len(set(s.quotes) & set(s.first_quotes))

        def rewritten(s: Second) -> float:
            return float(s.searched != by_id[s.id].turns[1])

        out[policy] = {
            "answer_contains": mean([hit(s) for s in rows]),
            "answer_contains_follow_ups": mean([hit(s) for s in ctx]),
            "answer_contains_self_contained": mean([hit(s) for s in own]),
            "repeated_sentences": mean([float(repeats(s)) for s in rows]),
            "answers_repeating": mean([float(repeats(s) > 0) for s in rows]),
            "rewritten_follow_ups": mean([rewritten(s) for s in ctx]),
            "rewritten_self_contained": mean([rewritten(s) for s in own]),
            "self_contained_as_alone": mean([float(s.quotes == alone[s.id].quotes) for s in own]),
        }
    out["all"] = {
        "conversations": float(len(run.conversations)),
        "needing_context": float(sum(c.needs_context for c in run.conversations)),
    }
    return out


def format_table(metrics: dict[str, dict[str, float | None]]) -> str:
    keys = [k for k in metrics[POLICIES[0]]]
    lines = [f"{'':32}" + "".join(f"{p:>11}" for p in POLICIES)]
    for k in keys:
        cells = "".join(
            f"{metrics[p][k]:>11.3f}" if metrics[p][k] is not None else f"{'-':>11}"
            for p in POLICIES
        )
        lines.append(f"{k:32}{cells}")
    whole = metrics["all"]
    lines.append(
        f"{whole['conversations']:.0f} conversations, {whole['needing_context']:.0f} of them "
        "needing the first turn"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m eval.followups", description=__doc__)
    parser.add_argument("--split", choices=["dev", "test", "all"], default="all")
    parser.add_argument("--out", type=Path, default=Path("eval-out/followups"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="papertrail-followups-") as tmp:
        run = run_followups(args.split, Path(tmp))
    metrics = followup_metrics(run)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "followups.json").write_text(
        json.dumps({"metrics": metrics, "run": run.model_dump()}, indent=1)
    )
    table = format_table(metrics)
    print(table, file=sys.stdout)
    return table


if __name__ == "__main__":
    main()
