"""The optional cross-encoder: off by default, re-orders the head when a local model is set."""

from __future__ import annotations

from pathlib import Path

import pytest
from sentence_transformers import CrossEncoder

from index.embedding import resolve_model_path
from index.errors import PaperTrailError
from index.settings import RetrievalSettings
from rag import Engine, Settings
from rag.rerank import load_cross_encoder

QUESTION = "Which receptor does the coronavirus spike protein bind?"
NOTES = {
    "spike.txt": "The coronavirus spike protein binds the ACE2 receptor on airway cells.",
    "entry.txt": "Viral entry needs a receptor and a protease such as TMPRSS2.",
    "bats.txt": "Bats carry many coronaviruses, whose spike proteins differ.",
    "masks.txt": "Masks reduced the spread of the coronavirus in hospitals.",
    "vaccine.txt": "Vaccines train antibodies to recognise the spike protein.",
}


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real CrossEncoder on this machine: MiniLM with a fresh, seeded relevance head.

    No trained cross-encoder can be installed here; this one scores arbitrarily but really,
    which is what checking the wiring needs.
    """
    import torch

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("cross") / "minilm-ce"
    CrossEncoder(str(resolve_model_path("all-MiniLM-L6-v2")), num_labels=1).save(str(folder))
    return str(folder)


@pytest.fixture
def notes_engine(engine: Engine, tmp_path: Path) -> Engine:
    for name, text in NOTES.items():
        (tmp_path / name).write_text(text)
    assert engine.ingest([tmp_path / n for n in NOTES]).ok
    return engine


def test_no_cross_encoder_is_configured_by_default() -> None:
    assert Settings().retrieval.cross_encoder is None


def test_the_cross_encoder_orders_the_leading_passages_by_its_own_scores(
    notes_engine: Engine, cross_encoder: str
) -> None:
    plain = notes_engine.retrieve(QUESTION, k=5)
    crossed = notes_engine.retrieve(
        QUESTION,
        k=5,
        retrieval=RetrievalSettings(cross_encoder=cross_encoder, cross_encoder_depth=5),
    )
    model = CrossEncoder(cross_encoder)
    relevance = model.predict([(QUESTION, p.text) for p in crossed])
    assert list(relevance) == sorted(relevance, reverse=True)
    # The same passages, re-ordered; the scores keep the fused scale, best first.
    assert {p.chunk_id for p in crossed} == {p.chunk_id for p in plain}
    assert [p.score for p in crossed] == sorted((p.score for p in plain), reverse=True)


def test_a_cross_encoder_that_is_not_on_this_machine_is_a_clear_error(
    settings: Settings, tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-such-model")
    wanted = settings.model_copy(update={"retrieval": RetrievalSettings(cross_encoder=missing)})
    with pytest.raises(PaperTrailError, match=r"retrieval\.cross_encoder: cannot load"):
        Engine.open(wanted)
    load_cross_encoder.cache_clear()
