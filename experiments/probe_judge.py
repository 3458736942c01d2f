"""Judge prompts for the local model, side by side on the trust set (issue #25, item 3).

    python -m experiments.probe_judge [--split dev|test|all] [--variants a,b] [--out DIR]

Each trust question (condition `alone`) is answered as `papertrail ask --judge local`
answers it up to the judge: the extractive answer with the support score cut at
`judge_floor`, then the passages the local model reads. Every variant below is then asked
over the same prompt prefix (system, passages, question; only the task differs, so
llama.cpp's cache makes each variant after the first cost little more than its output),
and scored as the engine would use it: false abstention (answerable questions refused)
and correct abstention (unanswerable ones refused; those below the floor count as refused
by every variant). `shipped` is rag.generate.JUDGE_TASK (yes/no); `quote-first` copies the
answer's words before it decides. Variants that ask for a quote
accept only when the quote is found in the passages (spacing and case aside), so an
invented quote counts as a refusal. Tune on dev, report test.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

from eval.trust import _questions, corpora
from index.models import Passage
from index.settings import Settings
from rag.engine import Engine
from rag.generate import JUDGE_SCHEMA, JUDGE_TASK, LLMError
from rag.generate import _reading as reading_messages

_QUOTE_SCHEMA = {
    "type": "object",
    "properties": {
        "asked": {"type": "string", "maxLength": 80},
        "quote": {"type": "string", "maxLength": 300},
        "answerable": {"type": "boolean"},
    },
    "required": ["asked", "quote", "answerable"],
}
_STRICT_SCHEMA = {
    "type": "object",
    "properties": {
        "asked": {"type": "string", "maxLength": 80},
        "answerable": {"type": "boolean"},
    },
    "required": ["asked", "answerable"],
}


@dataclass(frozen=True)
class Variant:
    task: str
    schema: dict[str, Any]
    max_tokens: int
    decide: Callable[[dict[str, Any], Sequence[Passage]], bool]


def _fold(text: str) -> str:
    return " ".join(text.lower().split())


def _quoted(data: dict[str, Any], passages: Sequence[Passage]) -> bool:
    quote = _fold(str(data.get("quote") or "")).strip(" .\"'")
    if not data.get("answerable") or len(quote) < 3:
        return False
    return any(quote in _fold(p.text) for p in passages)


_QUOTE_FIRST_TASK = (
    'Copy into "quote" the words of a passage that answer the question, exactly as written, '
    'or an empty string if no passage answers it; "asked" says what the question asks for; '
    '"answerable" is true only if the quote answers the question. Reply in JSON.'
)

VARIANTS: dict[str, Variant] = {
    "shipped": Variant(JUDGE_TASK, JUDGE_SCHEMA, 24, lambda d, _: bool(d["answerable"])),
    # The answer's words copied before the decision, decided by "answerable" alone.
    "quote-first": Variant(
        _QUOTE_FIRST_TASK, _QUOTE_SCHEMA, 120, lambda d, _: bool(d["answerable"])
    ),
    "strict": Variant(
        'First say in "asked" what exact fact the question asks for (for example "the dose '
        'of X in trial Y"). Then "answerable": true only if a passage states that very fact; '
        "false if the passages only discuss the topic, give a related fact, or give it for "
        "something else than what the question names. Reply in JSON.",
        _STRICT_SCHEMA,
        48,
        lambda d, _: bool(d["answerable"]),
    ),
    "quote": Variant(
        'First say in "asked" what exact fact the question asks for. Then copy into "quote" '
        "the words of a passage that state that very fact, exactly as written, or an empty "
        'string if no passage states it. "answerable" is true only if you copied a quote '
        "that states the fact the question asks for. Reply in JSON.",
        _QUOTE_SCHEMA,
        120,
        _quoted,
    ),
    # quote-first, accepted only when its quote is found in the passages.
    "quote-plain": Variant(_QUOTE_FIRST_TASK, _QUOTE_SCHEMA, 120, _quoted),
}


def run(split: str, variants: Sequence[str], work: Path) -> dict[str, Any]:
    settings = Settings()
    settings.llm = settings.llm.model_copy(update={"local": True})
    answer = settings.answer.model_copy(update={"mode": "extractive", "judge": "on"})
    settings.answer = answer
    engine = Engine.open(settings.model_copy(update={"index_dir": work / "index"}))
    report = engine.ingest(corpora(work / "files")["alone"])
    if not report.ok:
        raise SystemExit(f"ingest failed: {[f.error for f in report.failed]}")
    generator, why = engine._llm()
    if generator is None:
        raise SystemExit(why or "no LLM")
    floor = answer.model_copy(update={"min_evidence": answer.judge_floor})
    rows = []
    for q in _questions(split):  # type: ignore[arg-type]
        extractive = engine._compose(q.question, None, floor, None)
        row: dict[str, Any] = {"id": q.id, "answerable": q.answerable, "floor": False}
        if extractive.abstained:
            row["floor"] = True
            rows.append(row)
            continue
        reading = engine._reading(q.question, extractive, answer)
        for name in variants:
            v = VARIANTS[name]
            began = perf_counter()
            try:
                response = generator.llm().chat(
                    reading_messages(q.question, reading, v.task),
                    response_format={"type": "json_object", "schema": v.schema},
                    temperature=0.0,
                    max_tokens=v.max_tokens,
                )
                data = json.loads(response.message.content or "")
                accept = v.decide(data, reading)
            except (LLMError, ValueError, KeyError, TypeError) as exc:
                data, accept = {"error": str(exc)[:120]}, True  # the engine keeps the answer
            row[name] = {"accept": accept, "data": data, "s": round(perf_counter() - began, 2)}
        rows.append(row)
    return {"split": split, "variants": list(variants), "rows": rows}


def table(result: dict[str, Any]) -> str:
    rows = result["rows"]
    good = [r for r in rows if r["answerable"]]
    bad = [r for r in rows if not r["answerable"]]
    lines = [f"{'variant':14}{'false abst.':>12}{'correct abst.':>15}{'s/question':>12}"]
    for name in result["variants"]:

        def refused(r: dict[str, Any], name: str = name) -> bool:
            return r["floor"] or not r[name]["accept"]

        asked = [r[name]["s"] for r in rows if not r["floor"]]
        lines.append(
            f"{name:14}{sum(map(refused, good)) / max(1, len(good)):>12.3f}"
            f"{sum(map(refused, bad)) / max(1, len(bad)):>15.3f}"
            f"{sum(asked) / max(1, len(asked)):>12.2f}"
        )
    lines.append(f"{len(good)} answerable, {len(bad)} unanswerable ({result['split']})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["dev", "test", "all"], default="dev")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("eval-out/probe-judge"))
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    if bad := [v for v in variants if v not in VARIANTS]:
        parser.error(f"unknown variant: {', '.join(bad)}")
    with tempfile.TemporaryDirectory(prefix="papertrail-judge-") as tmp:
        result = run(args.split, variants, Path(tmp))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"results-{args.split}.json").write_text(json.dumps(result, indent=1))
    print(table(result))


if __name__ == "__main__":
    main()
