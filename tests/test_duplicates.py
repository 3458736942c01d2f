"""Duplicate documents: named at ingest, listed, kept, and shown once in retrieval."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.duplicates import DUPLICATE_OVERLAP, overlap, signature
from index.settings import BUNDLED_CORPUS
from rag import Engine

DATA = Path(__file__).parent / "data"
PLASMA = DATA / "cold-plasma-wound-healing.pdf"
HEADLINE = "What are the barriers to MSC standardisation?"

_WORDS = (
    "mesenchymal stem cells were isolated from bone marrow and expanded in culture before "
    "infusion into patients with refractory disease while the control arm received placebo"
).split()


def _text(n: int, seed: int) -> str:
    return " ".join(_WORDS[(i * seed + i // 7) % len(_WORDS)] + str(i % 97) for i in range(n))


def test_identical_text_overlaps_fully_and_unrelated_text_not_at_all() -> None:
    a = signature(_text(3000, 5))
    assert overlap(a, signature(_text(3000, 5))) == 1.0
    assert overlap(a, signature(_text(3000, 11))) < 0.2


def test_a_few_edited_words_stay_a_near_duplicate_but_half_a_document_does_not() -> None:
    words = _text(3000, 5).split()
    edited = [w + "x" if i % 200 == 0 else w for i, w in enumerate(words)]  # 0.5 % of words
    full = signature(" ".join(words))
    assert overlap(full, signature(" ".join(edited))) >= DUPLICATE_OVERLAP
    assert overlap(full, signature(" ".join(words[:1500]))) < DUPLICATE_OVERLAP


@pytest.fixture
def twice(engine: Engine, tmp_path: Path) -> Engine:
    """The bundled article and the cold-plasma review indexed under two names."""
    copy = tmp_path / "cap-review-2025.pdf"
    shutil.copy(PLASMA, copy)
    first = engine.ingest([BUNDLED_CORPUS, PLASMA])
    assert first.ok and all(f.duplicate_of is None for f in first.files)
    second = engine.ingest([copy])
    assert second.ok
    return engine


def test_ingesting_a_copy_names_the_document_it_repeats(engine: Engine, tmp_path: Path) -> None:
    copy = tmp_path / "cap-review-2025.pdf"
    shutil.copy(PLASMA, copy)
    engine.ingest([PLASMA])
    result = engine.ingest([copy]).files[0]
    assert result.status == "indexed"
    assert result.duplicate_of == "cold-plasma-wound-healing.pdf"
    assert any("cold-plasma-wound-healing.pdf" in w.message for w in result.warnings)


def test_the_copy_is_kept_and_listed_as_a_duplicate(twice: Engine) -> None:
    docs = {d.doc_id: d for d in twice.documents()}
    assert docs["cap-review-2025.pdf"].duplicate_of == "cold-plasma-wound-healing.pdf"
    assert docs["cold-plasma-wound-healing.pdf"].duplicate_of is None


def test_retrieval_shows_each_passage_of_the_two_copies_once(twice: Engine) -> None:
    passages = twice.retrieve("How much did the wound area decrease with plasma?", k=5)
    texts = [p.text for p in passages]
    assert len(texts) == len(set(texts)) == 5
    assert "cap-review-2025.pdf" not in {p.doc_id for p in passages}  # the first copy is cited


def test_the_copy_the_user_prefers_is_the_one_cited(twice: Engine) -> None:
    assert twice.prefer("cap-review-2025.pdf")
    passages = twice.retrieve("How much did the wound area decrease with plasma?", k=5)
    plasma = {p.doc_id for p in passages if "wound" in p.text.lower()}
    assert plasma == {"cap-review-2025.pdf"}
    assert not twice.prefer("no-such-document.pdf")


def test_headline_answer_leads_alike_with_the_plasma_review_indexed_once_or_twice(
    engine: Engine, tmp_path: Path
) -> None:
    engine.ingest([BUNDLED_CORPUS, PLASMA])
    once = engine.ask(HEADLINE)
    copy = tmp_path / "cap-review-2025.pdf"
    shutil.copy(PLASMA, copy)
    engine.ingest([copy])
    twice = engine.ask(HEADLINE)
    assert not once.abstained and not twice.abstained  # issue #14: the copy made it abstain
    assert twice.citations[0].quote == once.citations[0].quote
    assert {c.doc_id for c in twice.citations} == {"ijmms-2024-v14n2-msc-autoimmune-p128.txt"}


def test_the_command_line_names_the_copy_at_ingest_and_marks_it_in_the_list(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from ui.cli import app

    runner = CliRunner()
    copy = tmp_path / "cap-review-2025.pdf"
    shutil.copy(PLASMA, copy)
    index = str(tmp_path / "index")
    assert runner.invoke(app, ["ingest", str(PLASMA), "--index-dir", index]).exit_code == 0
    second = runner.invoke(app, ["ingest", str(copy), "--index-dir", index])
    assert second.exit_code == 0
    assert "same text as" in second.output and "cold-plasma-wound-healing.pdf" in second.output
    listed = runner.invoke(app, ["list", "--index-dir", index]).output
    line = next(x for x in listed.splitlines() if x.startswith("cap-review-2025.pdf"))
    assert line.endswith("duplicate of cold-plasma-wound-healing.pdf")
