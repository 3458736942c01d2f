"""What PDF reading does to answers: the nine vendored PDFs indexed together, the question
set in eval/datasets/pdfs/questions.jsonl asked, and the answers' material counted.

`python -m eval.bench.pdf_answers [--json]`. Reported: how often the answer holds a reference
answer, what kinds the top-5 passages are, how many quoted sentences sit in non-body text
(captions, footnotes, references, front matter), and how many citations name a section.
Retrieval and answer quality in general are `papertrail eval` figures; this counts what
the issue about journal PDFs counted.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from eval.datasets import DATASETS_DIR, read_jsonl
from eval.metrics import contains_answer
from rag import Engine, Settings

__all__ = ["measure"]

PDF_DIR = DATASETS_DIR / "pdfs"


def measure(index_dir: Path) -> dict[str, object]:
    """Index the vendored PDFs into `index_dir`, ask every question, count."""
    engine = Engine.open(Settings(index_dir=index_dir))
    report = engine.ingest(sorted(PDF_DIR.glob("*.pdf")))
    if not report.ok:
        raise RuntimeError("; ".join(f.error or f.path for f in report.failed))
    questions = read_jsonl(PDF_DIR / "questions.jsonl")
    kinds: Counter[str] = Counter()
    contains = quoted = quoted_nonbody = with_section = 0
    for q in questions:
        answer = engine.ask(q.question)
        contains += contains_answer(answer.answer, q.answers)
        kinds.update(p.kind for p in answer.passages[:5])
        for c in answer.citations:
            document = engine.document(c.doc_id)
            passage = next(p for p in answer.passages if p.chunk_id == c.chunk_id)
            quoted += 1
            if document is not None:
                quoted_nonbody += document.kind_at(passage.start + c.quote_start) != "body"
            with_section += bool(c.section)
    top = sum(kinds.values())
    return {
        "questions": len(questions),
        "answer_contains": round(contains / len(questions), 3),
        "top5_passages_by_kind": dict(kinds.most_common()),
        "top5_nonbody_share": round(1 - kinds["body"] / top, 3) if top else 0.0,
        "quoted_sentences": quoted,
        "quoted_nonbody": quoted_nonbody,
        "citations_with_section": with_section,
    }


def run(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(Path(tmp) / "index")
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
        return
    for key, value in figures.items():
        typer.echo(f"{key:26} {value}")


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    typer.run(run)


if __name__ == "__main__":
    main()
