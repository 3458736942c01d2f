"""Abbreviations: a question in either form finds the passage written in the other."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from index.abbreviations import Abbreviations, definitions, initialisms
from index.keyword import terms
from rag import Engine

DEFINES = "Double balloon enteroscopy (DBE) reaches the whole small bowel."
USES = "DBE found a bleeding source in 41 of 52 patients."


def _terms(text: str) -> tuple[str, ...]:
    return tuple(terms(text))


def test_a_definition_pairs_the_short_form_with_its_long_form() -> None:
    found = definitions("We used cone beam computed tomography (CBCT) in 79 teeth.")
    assert found == {_terms("CBCT"): _terms("cone beam computed tomography")}


def test_a_short_form_that_is_a_stopword_is_not_kept() -> None:
    assert definitions("The odds ratio (OR) was 2.1.") == {}


def test_a_chunk_using_only_the_short_form_gains_the_long_form() -> None:
    abbreviations = Abbreviations.from_texts([("a.txt", DEFINES), ("a.txt", USES)])
    extra = abbreviations.expand("a.txt", terms(USES))
    assert set(_terms("double balloon enteroscopy")) <= set(extra)
    assert "balloon_enteroscopi" in extra  # bigrams too, as the text's own terms have


def test_a_chunk_using_only_the_long_form_gains_the_short_form() -> None:
    abbreviations = Abbreviations.from_texts([("a.txt", DEFINES)])
    text = "Double balloon enteroscopy was repeated after a year."
    assert abbreviations.expand("b.txt", terms(text)) == list(_terms("DBE"))


def test_a_chunk_holding_both_forms_or_neither_gains_nothing() -> None:
    abbreviations = Abbreviations.from_texts([("a.txt", DEFINES)])
    assert abbreviations.expand("a.txt", terms(DEFINES)) == []
    assert abbreviations.expand("a.txt", terms("Capsules were swallowed.")) == []


def test_a_document_borrows_a_definition_only_other_documents_give() -> None:
    abbreviations = Abbreviations.from_texts([("a.txt", DEFINES), ("b.txt", USES)])
    assert set(_terms("double balloon enteroscopy")) <= set(
        abbreviations.expand("b.txt", terms(USES))
    )


def test_a_documents_own_definition_wins_over_the_corpus() -> None:
    others = [(f"{i}.txt", "Pulmonary embolism (PE) was ruled out.") for i in range(3)]
    own = ("x.txt", "Pleural effusion (PE) was drained. PE recurred in two patients.")
    abbreviations = Abbreviations.from_texts([*others, own])
    extra = abbreviations.expand("x.txt", terms("PE recurred in two patients."))
    assert "pleural" in extra and "pulmonari" not in extra


def test_initialisms_spell_runs_of_content_words_and_single_letters() -> None:
    assert "cbct" in initialisms("Should caries be reported in cone beam computed tomography?")
    assert "hbv" in initialisms("Is hepatitis B virus infection common?")
    assert initialisms("What is the risk of death?") == []  # "of", "the" break the run


def test_the_extractor_leaves_the_root_logger_alone() -> None:
    code = (
        "import logging, json\n"
        "from index.abbreviations import definitions\n"
        "definitions('Computed tomography (CT) was used.')\n"
        "root = logging.getLogger()\n"
        "print(json.dumps([len(root.handlers), root.level]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [0, 30]  # no handler added, level still WARNING


def test_a_question_in_the_long_form_finds_a_passage_using_only_the_short_form(
    engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "definitions.txt").write_text(
        "Abbreviations used in gastroenterology.\n\n" + DEFINES + " Capsule endoscopy (CE) "
        "is swallowed. Magnetic resonance enterography (MRE) images the bowel wall."
    )
    (folder / "cohort.txt").write_text(
        "A community hospital cohort.\n\nIn our unit, DBE found a bleeding source in 41 of 52 "
        "patients, and no perforation occurred in 61 procedures."
    )
    (folder / "capsule.txt").write_text(
        "Capsule study.\n\nCapsules found a bleeding source in 30 of 50 patients with obscure "
        "bleeding; retention occurred twice."
    )
    assert engine.ingest([folder]).ok
    engine.search.refresh()
    question = "Did double balloon enteroscopy find the bleeding source?"
    hits = [
        engine.search.chunk(row).metadata["doc_id"] for row, _ in engine.search.keyword(question, 3)
    ]
    assert hits[0] == "cohort.txt"


def test_a_question_in_initials_words_finds_an_undefined_initialism(
    engine: Engine, tmp_path: Path
) -> None:
    # Both show proximal surfaces; the longer CBCT text would lose on length alone.
    (tmp_path / "dental.txt").write_text(
        "Cavitation.\n\nCBCT scans show proximal surfaces of molars, with cavitation in 12 of "
        "79 teeth examined by two observers."
    )
    (tmp_path / "radiograph.txt").write_text(
        "Shadows.\n\nBitewing radiographs show proximal surfaces of molars."
    )
    assert engine.ingest([tmp_path / "dental.txt", tmp_path / "radiograph.txt"]).ok
    engine.search.refresh()
    question = "Does cone beam computed tomography show proximal surfaces?"
    hits = [
        engine.search.chunk(row).metadata["doc_id"] for row, _ in engine.search.keyword(question, 2)
    ]
    assert hits[0] == "dental.txt"
