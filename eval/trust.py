"""The answer-trust set: does an answer hold up in a real library?

Each question of `eval/datasets/trust/questions.jsonl` is asked in four indexes:

- `alone`: the five home documents (the bundled MSC article, two COVID-QA test articles,
  the cold-plasma review, the sleep lecture notes);
- `unrelated`: the same plus 20 PubMedQA abstracts on other subjects (the first, by id, that
  name none of the home documents' topics: `UNRELATED_TOPICS`);
- `related`: the same plus related documents (eight other COVID-QA test articles and
  eleven PubMedQA abstracts on sleep, wounds and immunity), some of which answer a few of the
  questions themselves;
- `duplicates`: the same plus an exact copy of every home document under another name and
  a near-duplicate ("preprint", a few words edited) of two of them.

It reports false and correct abstention, answer_contains and lead_contains (the first cited
sentence holds the key fact) in each index, the share of the answers given that are marked
weak support (`answer.weak_support`) for questions answerable and not, and stability: the
share of questions whose answer (abstention, or the set of cited sentences) is the same
alone, with unrelated documents and with duplicates (the issue's measure), and the same alone
and with related documents (stricter: a related document may answer better).

    python -m eval.trust [--split dev|test|all] [--out DIR]
        [--systems extractive,judged,generative] [--conditions alone,...] [--llm local]

`--systems` asks the same questions of several answerers in one run (docs/llm.md):
`extractive` (the default answer), `judged` (it, with the LLM judging answerability),
`generative` (the LLM writes, judged) and `generative-unjudged`; the LLM is the one the
settings name, or the local model with `--llm local`.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from eval.datasets import dev_half, read_jsonl
from eval.metrics import contains_answer, mean, strip_citation_marks
from eval.models import EvalQuestion, Split
from index.embedding import load_embedder
from index.settings import BUNDLED_CORPUS, Settings
from rag import Engine

__all__ = ["CONDITIONS", "UNRELATED_TOPICS", "TrustRun", "corpora", "run_trust", "trust_metrics"]

_DATA = Path(__file__).parent / "datasets"
_TRUST = _DATA / "trust"
CONDITIONS = ("alone", "unrelated", "related", "duplicates")
# Each system's answer settings over the environment's.
SYSTEMS: dict[str, dict[str, str]] = {
    "extractive": {"mode": "extractive", "judge": "off"},
    "judged": {"mode": "extractive", "judge": "on"},
    "generative": {"mode": "generative", "judge": "on"},
    "generative-unjudged": {"mode": "generative", "judge": "off"},
}
_STABLE_IN = ("alone", "unrelated", "duplicates")  # the same answer expected in each
_HOME_COVID = ("2432", "2554")
_RELATED_COVID = ("2458", "2653", "2592", "2634", "188", "2668", "2439", "2450")
_RELATED_PUBMED = (
    "26852225",  # sleep disorders
    "17076091",  # sleep apnoea
    "24235894",  # sleep bruxism
    "20297950",  # sleep apnoea
    "23386371",  # sleep apnoea, CPAP
    "26418796",  # burn wound cultures
    "18269157",  # corneal wound healing
    "24901580",  # diabetic foot
    "27184293",  # haematopoietic cell transplantation
    "23337545",  # immune dysregulation
    "15223779",  # c-Kit, tumour cells
)
# An abstract naming any of these is about a home document's subject; the first 20 by id
# that name none are the unrelated documents.
UNRELATED_TOPICS = re.compile(
    r"(?i)sleep|wound|ulcer|plasma|stem cell|stromal|mesenchymal|autoimmun|lupus|arthritis|"
    r"crohn|immun|covid|coronavirus|sars|pneumonia|epidemic|outbreak|health care worker|"
    r"nurse|depress|anxiety|insomnia|memory|infect|burn"
)
_UNRELATED = 20
_OWN = ("cold-plasma-wound-healing.pdf", "sleep-memory-lecture-notes.txt")
_NEAR_COPIES = ("ijmms-2024-v14n2-msc-autoimmune-p128.txt", "sleep-memory-lecture-notes.txt")


class Asked(BaseModel):
    id: str
    condition: str
    abstained: bool
    evidence_score: float
    weak_support: bool = False
    answer: str
    quotes: list[str]  # cited sentences, in answer order
    documents: list[str] = []  # their documents
    support_features: dict[str, float] = {}
    mode: str = "extractive"
    judged_answerable: bool | None = None
    seconds: float = 0.0
    first_token_s: float | None = None  # generative: when the first words arrived
    verdicts: list[str] = []  # generative: each claim's verdict
    # Generative: each claim with its verdict, reason and quote, and the passages retrieved,
    # so that the verifier's verdicts can be checked by hand (docs/llm.md).
    claims: list[dict[str, Any]] = []
    passages: list[str] = []


class TrustRun(BaseModel):
    split: Split
    questions: list[EvalQuestion]
    asked: list[Asked]
    conditions: list[str] = list(CONDITIONS)


def run_trust(
    split: Split,
    work_dir: Path,
    settings: Settings | None = None,
    conditions: Sequence[str] = CONDITIONS,
) -> TrustRun:
    """Ask the split's questions in each of the conditions' indexes."""
    questions = _questions(split)
    files = corpora(work_dir / "files")
    embedder = load_embedder(settings or Settings())
    asked: list[Asked] = []
    for condition in conditions:
        base = settings or Settings()
        engine = Engine.open(
            base.model_copy(update={"index_dir": work_dir / condition}), embedder=embedder
        )
        report = engine.ingest(files[condition])
        if not report.ok:
            raise RuntimeError(f"{condition}: {[f.error for f in report.failed]}")
        for q in questions:
            began, first = time.perf_counter(), None
            for event in engine.ask_stream(q.question):
                if event.kind == "delta" and first is None:
                    first = time.perf_counter() - began
            a = event.answer
            asked.append(
                Asked(
                    id=q.id,
                    condition=condition,
                    abstained=a.abstained,
                    evidence_score=a.evidence_score,
                    weak_support=a.weak_support,
                    answer=a.answer,
                    quotes=[c.quote for c in a.citations],
                    documents=[c.doc_id for c in a.citations],
                    support_features=a.support_features,
                    mode=a.mode,
                    judged_answerable=a.judged_answerable,
                    seconds=round(time.perf_counter() - began, 3),
                    first_token_s=None if first is None else round(first, 3),
                    verdicts=[c.verdict for c in a.claims],
                    claims=[
                        {
                            "text": c.text,
                            "verdict": c.verdict,
                            "reason": c.reason,
                            "quote": c.quote.quote if c.quote else None,
                        }
                        for c in a.claims
                    ],
                    passages=[p.text for p in a.passages[:5]] if a.claims else [],
                )
            )
    return TrustRun(split=split, questions=questions, asked=asked, conditions=list(conditions))


def trust_metrics(run: TrustRun) -> dict[str, dict[str, float | None]]:
    """Per condition: abstention and answer figures; under `all`: stability."""
    by_q = {q.id: q for q in run.questions}
    out: dict[str, dict[str, float | None]] = {}
    for condition in run.conditions:
        rows = [a for a in run.asked if a.condition == condition]
        ok = [a for a in rows if by_q[a.id].answerable]
        no = [a for a in rows if not by_q[a.id].answerable]
        out[condition] = {
            "false_abstention_rate": mean([float(a.abstained) for a in ok]),
            "abstention_accuracy": mean([float(a.abstained) for a in no]),
            "answer_contains": mean(
                [
                    float(
                        not a.abstained
                        and contains_answer(strip_citation_marks(a.answer), by_q[a.id].answers)
                    )
                    for a in ok
                ]
            ),
            "lead_contains": mean(
                [
                    float(bool(a.quotes) and contains_answer(a.quotes[0], by_q[a.id].answers))
                    for a in ok
                ]
            ),
            # Of the answers given, the share marked weak support: wanted high for the
            # questions the documents do not answer, low for those they do.
            "weak_unanswerable": mean([float(a.weak_support) for a in no if not a.abstained]),
            "weak_answerable": mean([float(a.weak_support) for a in ok if not a.abstained]),
            # Generated answers: the share of claims verified, and the wait.
            "faithfulness": mean(
                [float(v == "supported") for a in rows if not a.abstained for v in a.verdicts]
            ),
            "seconds_p50": _percentile([a.seconds for a in rows], 50),
            "seconds_p95": _percentile([a.seconds for a in rows], 95),
            "first_token_p50": _percentile(
                [a.first_token_s for a in rows if a.first_token_s is not None], 50
            ),
        }
    out["all"] = {
        "stability": _stability(run, _STABLE_IN),
        "stability_related": _stability(run, ("alone", "related")),
        "questions": float(len(run.questions)),
        "unanswerable": float(sum(not q.answerable for q in run.questions)),
    }
    return out


def _percentile(values: Sequence[float], q: float) -> float | None:
    import numpy as np

    return round(float(np.percentile(values, q)), 3) if values else None


def _stability(run: TrustRun, conditions: Sequence[str]) -> float | None:
    """The share of questions answered alike (abstention, or the set of cited sentences) in
    every one of `conditions`."""
    if not set(conditions) <= set(run.conditions):
        return None  # not asked in every one of them
    answers: dict[str, set[tuple[bool, frozenset[str]]]] = {}
    for a in run.asked:
        if a.condition in conditions:
            answers.setdefault(a.id, set()).add((a.abstained, frozenset(a.quotes)))
    return mean([float(len(v) == 1) for v in answers.values()])


def _questions(split: Split) -> list[EvalQuestion]:
    questions = read_jsonl(_TRUST / "questions.jsonl")
    if split == "all":
        return questions
    dev = dev_half([q.id for q in questions])
    return [q for q in questions if (q.id in dev) == (split == "dev")]


def corpora(folder: Path) -> dict[str, list[Path]]:
    """The files of each condition, written under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    home = [BUNDLED_CORPUS]
    home += [_TRUST / "documents" / name for name in _OWN]
    covid = {
        str(a["paragraphs"][0]["document_id"]): a["paragraphs"][0]["context"]
        for a in json.loads((_DATA / "covid-qa" / "covid-qa-200423.json").read_text())["data"]
    }
    home += [_write(folder / f"covid-qa-{i}.txt", covid[i]) for i in _HOME_COVID]
    pubmed = json.loads((_DATA / "pubmedqa" / "ori_pqal.json").read_text())
    related = [_write(folder / f"covid-qa-{i}.txt", covid[i]) for i in _RELATED_COVID]
    related += [_abstract(folder, i, pubmed[i]) for i in _RELATED_PUBMED]
    unrelated = [
        _abstract(folder, i, pubmed[i])
        for i in sorted(pubmed)
        if not UNRELATED_TOPICS.search(" ".join(pubmed[i]["CONTEXTS"]))
    ][:_UNRELATED]
    copies = []
    for path in home:
        copy = folder / "copies" / f"copy-of-{path.name}"
        copy.parent.mkdir(exist_ok=True)
        shutil.copy(path, copy)
        copies.append(copy)
        if path.name in _NEAR_COPIES:
            copies.append(_write(folder / "copies" / f"preprint-{path.name}", _edited(path)))
    return {
        "alone": home,
        "unrelated": home + unrelated,
        "related": home + related,
        "duplicates": home + copies,
    }


def _abstract(folder: Path, pmid: str, entry: dict) -> Path:
    return _write(folder / f"pubmedqa-{pmid}.txt", "\n\n".join(entry["CONTEXTS"]))


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    title = text.strip().split("\n", 1)[0]
    path.with_name(path.name + ".meta.json").write_text(json.dumps({"title": title[:200]}))
    return path


def _edited(path: Path) -> str:
    """A preprint of the text: every 60th word changed, as a copy-editor would."""
    words = path.read_text(encoding="utf-8").split(" ")
    return " ".join(w + "s" if i % 60 == 30 and w.isalpha() else w for i, w in enumerate(words))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eval.trust", description=__doc__)
    parser.add_argument("--split", choices=["dev", "test", "all"], default="all")
    parser.add_argument("--out", type=Path, default=Path("eval-out/trust"))
    parser.add_argument("--systems", default="extractive", help=", ".join(SYSTEMS))
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--llm", choices=["local"], help="the local model as the LLM")
    args = parser.parse_args(argv)
    systems = [x for x in args.systems.split(",") if x]
    conditions = [x for x in args.conditions.split(",") if x]
    if bad := [x for x in systems if x not in SYSTEMS] + [
        x for x in conditions if x not in CONDITIONS
    ]:
        parser.error(f"unknown system or condition: {', '.join(bad)}")
    base = Settings()
    if args.llm == "local":
        base.llm = base.llm.model_copy(update={"local": True})
    results: dict[str, Any] = {}
    for system in systems:
        settings = base.model_copy(
            update={"answer": base.answer.model_copy(update=SYSTEMS[system])}
        )
        with tempfile.TemporaryDirectory(prefix="papertrail-trust-") as tmp:
            run = run_trust(args.split, Path(tmp), settings, conditions)
        metrics = trust_metrics(run)
        results[system] = {"metrics": metrics, "run": run.model_dump()}
        print(f"== {system}\n{_table(metrics, conditions)}", file=sys.stdout, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if systems == ["extractive"]:  # the file as before
        (args.out / "trust.json").write_text(json.dumps(results["extractive"], indent=1))
    else:
        out = {"date": stamp, "split": args.split, "systems": results}
        (args.out / "trust.json").write_text(json.dumps(out, indent=1))


def _table(
    metrics: dict[str, dict[str, float | None]], conditions: Sequence[str] = CONDITIONS
) -> str:
    keys = [
        "false_abstention_rate",
        "abstention_accuracy",
        "answer_contains",
        "lead_contains",
        "weak_unanswerable",
        "weak_answerable",
        "faithfulness",
        "first_token_p50",
        "seconds_p50",
        "seconds_p95",
    ]
    lines = [f"{'':24}" + "".join(f"{c:>12}" for c in conditions)]
    for k in keys:
        cells = "".join(
            f"{metrics[c][k]:>12.3f}" if metrics[c][k] is not None else f"{'-':>12}"
            for c in conditions
        )
        lines.append(f"{k:24}{cells}")
    whole = metrics["all"]

    def shown(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    lines.append(
        f"stability (same answer alone, with unrelated documents and with duplicates): "
        f"{shown(whole['stability'])}; alone and with related documents: "
        f"{shown(whole['stability_related'])}; over {whole['questions']:.0f} questions "
        f"({whole['unanswerable']:.0f} unanswerable)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
