"""Question sets: the vendored benchmarks, the seed set, and users' own JSONL files.

The benchmarks' articles are written out as one text file per document, named after the
document id PaperTrail will give it (`covid-qa-<n>.txt`, `pubmedqa-<pmid>.txt`), and read
back (`read_corpus`) cleaned exactly as ingestion cleans them.
Dev/test splits follow one rule: sort the units (COVID-QA articles; question ids
elsewhere) by the SHA-256 of their id and give the first half to dev. PubMedQA keeps
its official 500-question test set; its other 500 questions are dev.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, ValidationError

from eval.models import EvalQuestion, EvalSet, Gold, Split
from index.cleaning import clean
from index.errors import PaperTrailError
from index.loaders import doc_id_for, expand_paths, load_file
from index.models import Document
from index.settings import BUNDLED_CORPUS

__all__ = [
    "BENCHMARKS",
    "DATASETS_DIR",
    "CorpusFile",
    "dev_half",
    "load_eval_set",
    "read_corpus",
    "read_jsonl",
]

DATASETS_DIR = Path(__file__).resolve().parent / "datasets"
BENCHMARKS = ("covid-qa", "pubmedqa", "seed")
_COVID_FILE = DATASETS_DIR / "covid-qa" / "covid-qa-200423.json"
_PUBMED_FILE = DATASETS_DIR / "pubmedqa" / "ori_pqal.json"
_PUBMED_TEST = DATASETS_DIR / "pubmedqa" / "test_ground_truth.json"
_SEED_FILE = DATASETS_DIR / "seed" / "questions.jsonl"
_HELDOUT_EVERY = 5  # PubMedQA: every fifth question is asked again without its abstract


def load_eval_set(
    dataset: str,
    *,
    work_dir: Path,
    split: Split | None = None,
    limit: int | None = None,
    distractors: int = 3,
    corpus: Sequence[Path] = (),
    sample: int | None = None,
) -> EvalSet:
    """Questions and corpus files for `dataset` (a benchmark name or a JSONL path)."""
    if dataset == "covid-qa":
        full = _covid_qa(split or "test", work_dir)
    elif dataset == "pubmedqa":
        full = _pubmedqa(split or "test", work_dir)
    elif dataset == "seed":
        full = _from_questions("seed", read_jsonl(_SEED_FILE), split or "all", [BUNDLED_CORPUS])
    elif dataset.endswith(".jsonl"):
        if not corpus:
            raise PaperTrailError(f"{dataset}: name the documents to index with --corpus PATH")
        files = list(expand_paths(corpus))  # folders stand for the files inside them
        full = _from_questions(Path(dataset).stem, read_jsonl(Path(dataset)), split or "all", files)
    else:
        raise PaperTrailError(
            f"unknown dataset {dataset!r}; use {', '.join(BENCHMARKS)} or a .jsonl file"
        )
    if sample:
        full = full.model_copy(update={"questions": fixed_sample(full.questions, sample)})
        limit = limit or sample
    return _limited(full, limit, distractors) if limit else full


def fixed_sample(questions: Sequence[EvalQuestion], n: int) -> list[EvalQuestion]:
    """`n` questions spread over the whole set, the same on every machine and for every
    system: the first `n` by SHA-256 of "sample:" + id, kept in the set's order."""
    ranked = sorted(questions, key=lambda q: hashlib.sha256(f"sample:{q.id}".encode()).digest())
    keep = {q.id for q in ranked[:n]}
    return [q for q in questions if q.id in keep]


class CorpusFile(BaseModel):
    """A source file as extracted (`raw`) and as cleaned (`document`)."""

    path: str
    raw: str
    document: Document


def read_corpus(paths: Iterable[str | Path]) -> list[CorpusFile]:
    """Load and clean files exactly as ingestion does; `raw` joins the pages with form feeds."""
    out = []
    for path in expand_paths(paths):
        raw = load_file(path)
        out.append(CorpusFile(path=str(path), raw="\f".join(raw.pages), document=clean(raw)))
    return out


def dev_half(ids: Sequence[str]) -> set[str]:
    """The documented split rule: the first half of the ids sorted by SHA-256."""
    ranked = sorted(ids, key=lambda i: hashlib.sha256(i.encode()).hexdigest())
    return set(ranked[: len(ranked) // 2])


def read_jsonl(path: Path) -> list[EvalQuestion]:
    """Validated questions; an error names the file and line."""
    if not path.is_file():
        raise PaperTrailError(f"{path}: no such file")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(EvalQuestion.model_validate_json(line))
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise PaperTrailError(f"{path}:{n}: {problem}") from exc
    if len({q.id for q in out}) != len(out):
        raise PaperTrailError(f"{path}: question ids must be unique")
    return out


def _in_split(key: str, dev: set[str], split: Split) -> bool:
    return split == "all" or (key in dev) == (split == "dev")


def _from_questions(
    name: str, questions: list[EvalQuestion], split: Split, corpus: Sequence[Path]
) -> EvalSet:
    dev = dev_half([q.id for q in questions])
    return EvalSet(
        name=name,
        split=split,
        questions=[q for q in questions if _in_split(q.id, dev, split)],
        corpus=[str(p) for p in corpus],
    )


def _covid_qa(split: Split, work_dir: Path) -> EvalSet:
    articles = [a["paragraphs"][0] for a in json.loads(_COVID_FILE.read_text())["data"]]
    dev = dev_half([str(a["document_id"]) for a in articles])
    folder = work_dir / "covid-qa"
    folder.mkdir(parents=True, exist_ok=True)
    questions, corpus = [], []
    for a in articles:
        if not _in_split(str(a["document_id"]), dev, split):
            continue
        path = folder / f"covid-qa-{a['document_id']}.txt"
        corpus.append(_write(path, a["context"], title=a["context"].split("\n", 1)[0]))
        questions += [_covid_question(qa, a["context"], path.name) for qa in a["qas"]]
    return EvalSet(name="covid-qa", split=split, questions=questions, corpus=corpus)


def _covid_question(qa: dict, context: str, doc_id: str) -> EvalQuestion:
    answers = [a for a in qa["answers"] if a["text"].strip()]
    return EvalQuestion(
        id=f"covid-qa-{qa['id']}",
        question=qa["question"],
        answers=[a["text"].strip() for a in answers],
        gold=Gold(doc_id=doc_id, spans=[_answer_span(context, a) for a in answers]),
    )


def _answer_span(context: str, answer: dict) -> tuple[int, int]:
    """The answer text's occurrence nearest `answer_start`, which is off by a few
    characters for some COVID-QA answers."""
    text, hint = answer["text"].strip(), answer["answer_start"]
    starts, i = [], context.find(text)
    while i >= 0:
        starts.append(i)
        i = context.find(text, i + 1)
    start = min(starts, key=lambda s: abs(s - hint), default=hint)
    return start, start + len(text)


def _pubmedqa(split: Split, work_dir: Path) -> EvalSet:
    items = json.loads(_PUBMED_FILE.read_text())
    test_ids = set(json.loads(_PUBMED_TEST.read_text()))
    folder = work_dir / "pubmedqa"
    folder.mkdir(parents=True, exist_ok=True)
    questions, corpus = [], []
    for pmid, item in items.items():  # every abstract is indexed, whatever the split
        path = folder / f"pubmedqa-{pmid}.txt"
        corpus.append(_write(path, _abstract(item)))
        if split == "all" or (pmid in test_ids) == (split == "test"):
            questions.append(
                EvalQuestion(
                    id=f"pubmedqa-{pmid}",
                    question=item["QUESTION"],
                    answers=[item["LONG_ANSWER"]],
                    gold=Gold(doc_id=path.name),
                )
            )
    heldout = [q.id for q in questions[::_HELDOUT_EVERY]]
    return EvalSet(
        name="pubmedqa", split=split, questions=questions, corpus=corpus, heldout=heldout
    )


def _abstract(item: dict) -> str:
    """The abstract without its conclusion (which is the reference answer)."""
    labels = item.get("LABELS") or [""] * len(item["CONTEXTS"])
    return "\n\n".join(
        f"{label.title()}: {text}" if label else text
        for label, text in zip(labels, item["CONTEXTS"], strict=True)
    )


def _write(path: Path, text: str, *, title: str | None = None) -> str:
    path.write_text(text, encoding="utf-8")
    if title:
        path.with_name(path.name + ".meta.json").write_text(json.dumps({"title": title}))
    return str(path)


def _limited(full: EvalSet, limit: int, distractors: int) -> EvalSet:
    """The first `limit` questions, their documents and `distractors` other documents."""
    questions = full.questions[:limit]
    by_id = {doc_id_for(Path(p)): p for p in full.corpus}
    golds = [q.gold for q in questions if q.answerable and q.gold is not None]
    if any(g.doc_id is None for g in golds):
        corpus = full.corpus  # evidence may be anywhere: keep every document
    else:
        needed = {g.doc_id for g in golds if g.doc_id in by_id}
        others = [p for name, p in by_id.items() if name not in needed][:distractors]
        corpus = [by_id[d] for d in sorted(needed)] + others  # type: ignore[index]
    ids = {q.id for q in questions}
    return full.model_copy(
        update={
            "questions": questions,
            "corpus": corpus,
            "heldout": [i for i in full.heldout if i in ids],
        }
    )
