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
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

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


class TrustRun(BaseModel):
    split: Split
    questions: list[EvalQuestion]
    asked: list[Asked]


def run_trust(split: Split, work_dir: Path, settings: Settings | None = None) -> TrustRun:
    """Ask the split's questions in each of the three indexes."""
    questions = _questions(split)
    files = corpora(work_dir / "files")
    embedder = load_embedder(settings or Settings())
    asked: list[Asked] = []
    for condition in CONDITIONS:
        base = settings or Settings()
        engine = Engine.open(
            base.model_copy(update={"index_dir": work_dir / condition}), embedder=embedder
        )
        report = engine.ingest(files[condition])
        if not report.ok:
            raise RuntimeError(f"{condition}: {[f.error for f in report.failed]}")
        for q in questions:
            a = engine.ask(q.question)
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
                )
            )
    return TrustRun(split=split, questions=questions, asked=asked)


def trust_metrics(run: TrustRun) -> dict[str, dict[str, float | None]]:
    """Per condition: abstention and answer figures; under `all`: stability."""
    by_q = {q.id: q for q in run.questions}
    out: dict[str, dict[str, float | None]] = {}
    for condition in CONDITIONS:
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
        }
    out["all"] = {
        "stability": _stability(run, _STABLE_IN),
        "stability_related": _stability(run, ("alone", "related")),
        "questions": float(len(run.questions)),
        "unanswerable": float(sum(not q.answerable for q in run.questions)),
    }
    return out


def _stability(run: TrustRun, conditions: Sequence[str]) -> float | None:
    """The share of questions answered alike (abstention, or the set of cited sentences) in
    every one of `conditions`."""
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
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="papertrail-trust-") as tmp:
        run = run_trust(args.split, Path(tmp))
    metrics = trust_metrics(run)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "trust.json").write_text(
        json.dumps({"metrics": metrics, "run": run.model_dump()}, indent=1)
    )
    print(_table(metrics), file=sys.stdout)


def _table(metrics: dict[str, dict[str, float | None]]) -> str:
    keys = [
        "false_abstention_rate",
        "abstention_accuracy",
        "answer_contains",
        "lead_contains",
        "weak_unanswerable",
        "weak_answerable",
    ]
    lines = [f"{'':24}" + "".join(f"{c:>12}" for c in CONDITIONS)]
    for k in keys:
        cells = "".join(
            f"{metrics[c][k]:>12.3f}" if metrics[c][k] is not None else f"{'-':>12}"
            for c in CONDITIONS
        )
        lines.append(f"{k:24}{cells}")
    whole = metrics["all"]
    lines.append(
        f"stability (same answer alone, with unrelated documents and with duplicates): "
        f"{whole['stability']:.3f}; alone and with related documents: "
        f"{whole['stability_related']:.3f}; over {whole['questions']:.0f} questions "
        f"({whole['unanswerable']:.0f} unanswerable)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
