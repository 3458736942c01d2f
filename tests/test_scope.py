"""A question scoped to some documents: both retrieval sides search only those."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.errors import QuestionError
from index.settings import BUNDLED_CORPUS, RetrievalSettings
from rag import Engine

QUESTION = "Where are mesenchymal stem cells obtained from?"


@pytest.fixture
def two_documents(engine: Engine, tmp_path: Path) -> Engine:
    reef = tmp_path / "reef-notes.txt"
    reef.write_text(
        "Reef survey notes.\n\nCoral polyps host photosynthetic algae that feed them. "
        "Samples were obtained from the northern reef at low tide.\n"
    )
    assert engine.ingest([BUNDLED_CORPUS, reef]).ok
    return engine


@pytest.mark.parametrize("keyword_weight", [0.0, 0.55, 1.0])  # dense only, fused, BM25 only
def test_a_scoped_question_gets_passages_only_from_its_documents(
    two_documents: Engine, keyword_weight: float
) -> None:
    # One candidate per side: a top-1 filtered afterwards would be the MSC article's, and empty.
    retrieval = RetrievalSettings(candidates=1, keyword_weight=keyword_weight, rerank_depth=0)
    everything = two_documents.retrieve(QUESTION, retrieval=retrieval)
    assert {p.doc_id for p in everything} == {BUNDLED_CORPUS.name}
    scoped = two_documents.retrieve(QUESTION, retrieval=retrieval, doc_ids={"reef-notes.txt"})
    assert scoped and {p.doc_id for p in scoped} == {"reef-notes.txt"}


def test_a_scoped_answer_cites_only_its_documents(two_documents: Engine) -> None:
    answer = two_documents.ask(QUESTION, doc_ids=["reef-notes.txt"])
    assert {p.doc_id for p in answer.passages} == {"reef-notes.txt"}
    assert all(c.doc_id == "reef-notes.txt" for c in answer.citations)


def test_an_empty_scope_is_refused_not_read_as_everything(two_documents: Engine) -> None:
    with pytest.raises(QuestionError, match="no documents chosen"):
        two_documents.ask(QUESTION, doc_ids=[])
