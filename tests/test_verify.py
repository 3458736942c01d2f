"""The claim verifier on the real model and index: verdicts, reasons, quotes, markers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from index.models import Claim, Passage
from rag import Engine
from rag.verify import markers, split_claims, strip_markers
from ui.cli import app

_SOURCES = "Sources of MSCs are limited"
_CHEN = "Chen et al. (2019) argued"


@pytest.fixture(scope="module")
def passages(bundled_engine: Engine) -> list[Passage]:
    found = bundled_engine.retrieve("What are the barriers to MSC standardisation?", k=5)
    found += bundled_engine.retrieve("Why did MSC efficacy vary across clinical trials?", k=5)
    unique = list({p.chunk_id: p for p in found}.values())
    assert any(_SOURCES in p.text for p in unique) and any(_CHEN in p.text for p in unique)
    return unique


def _n(passages: list[Passage], text: str) -> int:
    """The marker number of the first passage holding `text`."""
    return next(i for i, p in enumerate(passages, start=1) if text in p.text)


def _other(passages: list[Passage], *absent: str) -> int:
    return next(i for i, p in enumerate(passages, start=1) if not any(a in p.text for a in absent))


def _check(engine: Engine, passages: list[Passage], sentence: str) -> Claim:
    return engine.verifier.claim(sentence, 0, len(sentence), passages)


def test_markers_are_parsed_in_every_form() -> None:
    assert markers("Cells grow [1].") == [1]
    assert markers("Cells grow [1, 2] and die [1][3].") == [1, 2, 3]
    assert markers("Cells grow [1-3] or [2–4].") == [1, 2, 3, 4]
    assert markers("Cells grow; see 2019 and IL-10.") == []
    assert strip_markers("**Cells** grow [1] fast [2, 3].") == "Cells grow fast."
    assert strip_markers("_NC_018871_ is a name [1].") == "NC_018871 is a name."


def test_split_claims_keeps_a_marker_after_the_full_stop_with_its_sentence() -> None:
    text = "Cells grow fast. [1] They divide daily [2].\nGrowth stops when fed [1, 3]."
    spans = split_claims(text)
    assert [text[a:b] for a, b in spans] == [
        "Cells grow fast. [1]",
        "They divide daily [2].",
        "Growth stops when fed [1, 3].",
    ]


def test_a_paraphrase_of_its_passage_is_supported_with_an_exact_quote(
    bundled_engine: Engine, passages: list[Passage]
) -> None:
    n = _n(passages, _SOURCES)
    claim = _check(
        bundled_engine,
        passages,
        f"MSCs come from few sources, such as bone marrow, fat and cord blood [{n}].",
    )
    assert claim.verdict == "supported", claim
    assert claim.cites == [n] and claim.support >= bundled_engine.settings.answer.verify_supported
    quote = claim.quote
    assert quote is not None and quote.n == n
    assert quote.passage == passages[n - 1].text
    assert quote.passage[quote.quote_start : quote.quote_end] == quote.quote
    assert "bone marrow" in quote.quote


def test_a_changed_number_is_unsupported_and_named(
    bundled_engine: Engine, passages: list[Passage]
) -> None:
    n = _n(passages, _CHEN)
    true = f"Chen et al. (2019) argued that MSC efficacy varied across clinical trials [{n}]."
    changed = true.replace("2019", "2017")
    assert _check(bundled_engine, passages, true).verdict == "supported"
    claim = _check(bundled_engine, passages, changed)
    assert claim.verdict == "unsupported"
    assert claim.reason is not None and "2017" in claim.reason


def test_a_named_entity_the_passage_lacks_is_unsupported(
    bundled_engine: Engine, passages: list[Passage]
) -> None:
    n = _n(passages, _SOURCES)
    claim = _check(
        bundled_engine,
        passages,
        f"Sources of MSCs are limited and are usually obtained from Pfizer's bone marrow [{n}].",
    )
    assert claim.verdict == "unsupported"
    assert claim.reason is not None and "Pfizer" in claim.reason


def test_a_true_sentence_cited_to_the_wrong_passage_moves_to_the_passage_that_states_it(
    bundled_engine: Engine, passages: list[Passage]
) -> None:
    wrong = _other(passages, _SOURCES, "bone marrow", "cord blood")
    n = _n(passages, _SOURCES)
    sentence = (
        "Sources of MSCs are limited and are usually obtained from tissues such as bone "
        f"marrow, fat, and cord blood [{wrong}]."
    )
    claim = _check(bundled_engine, passages, sentence)
    assert claim.verdict == "supported" and claim.cites == [n], claim
    assert claim.reason is not None and f"cited [{wrong}], but [{n}] states it" in claim.reason
    assert claim.quote is not None and "bone marrow" in claim.quote.quote


def test_a_sentence_without_a_marker_is_attributed_to_the_passage_that_states_it(
    bundled_engine: Engine, passages: list[Passage]
) -> None:
    n = _n(passages, _SOURCES)
    claim = _check(bundled_engine, passages, "Sources of MSCs are limited.")
    assert claim.verdict == "supported" and claim.cites == [n], claim
    assert claim.quote is not None and claim.quote.n == n


def test_a_sentence_no_passage_states_is_unsupported_with_no_citation(
    bundled_engine: Engine, passages: list[Passage]
) -> None:
    claim = _check(bundled_engine, passages, "MSC therapy was approved in Japan in 1850.")
    assert claim.verdict == "unsupported" and claim.cites == [] and claim.quote is None
    assert claim.reason is not None and "no passage given states this" in claim.reason


def test_markers_alone_are_no_claim(bundled_engine: Engine, passages: list[Passage]) -> None:
    claims = bundled_engine.verifier.claims("Sources of MSCs are limited [1].\n\n```", passages)
    assert [c.text for c in claims] == ["Sources of MSCs are limited [1]."]


def test_a_marker_beyond_the_passages_is_ignored_and_reported(
    bundled_engine: Engine, passages: list[Passage]
) -> None:
    n = _n(passages, _SOURCES)
    beyond = len(passages) + 4
    claim = _check(
        bundled_engine,
        passages,
        f"Sources of MSCs are limited, such as bone marrow, fat and cord blood [{n}][{beyond}].",
    )
    assert claim.cites == [n] and claim.verdict == "supported"
    assert claim.reason is not None and f"[{beyond}]" in claim.reason
    only_beyond = _check(bundled_engine, passages, f"Sources of MSCs are limited [{beyond}].")
    assert only_beyond.cites == [n] and only_beyond.verdict == "supported"
    assert only_beyond.reason is not None and f"[{beyond}] names no passage" in only_beyond.reason


def test_claims_checks_every_sentence_of_an_answer(
    bundled_engine: Engine, passages: list[Passage]
) -> None:
    n, c = _n(passages, _SOURCES), _n(passages, _CHEN)
    text = (
        f"MSCs come from few sources, such as bone marrow, fat and cord blood [{n}]. "
        f"Chen et al. (2017) argued that MSC efficacy varied across clinical trials [{c}]. "
        "This matters."
    )
    claims = bundled_engine.verifier.claims(text, passages)
    assert [c.verdict for c in claims] == ["supported", "unsupported", "unsupported"]
    assert claims[2].cites == []
    assert all(text[c.start : c.end] == c.text for c in claims)


def test_the_verifier_benchmark_runs_on_a_slice(tmp_path: Path) -> None:
    out = tmp_path / "verifier"
    result = CliRunner().invoke(
        app, ["eval", "verifier", "--split", "dev", "--limit", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "changed_number" in result.output and "wrong_passage" in result.output
    saved = json.loads((out / "verifier.json").read_text())
    kinds = {c["kind"] for c in saved["run"]["claims"]}
    assert {"gold", "wrong_passage", "other_article"} <= kinds
    assert len(saved["run"]["verdicts"]) == len(saved["run"]["claims"]) > 0
    assert saved["metrics"]["gold"]["n"] > 0


def test_a_passage_outside_the_index_is_checked_too(bundled_engine: Engine) -> None:
    """Sentences the index does not hold are embedded on the spot; names are matched by
    their acronym, and a unit the passage does not give a number makes the claim fail."""
    text = (
        "The WHO declared the outbreak a pandemic on 11 March 2020. Patients were isolated "
        "for 14 days after their last contact with a confirmed case."
    )
    passage = Passage(
        chunk_id="notes#0", doc_id="notes", title="Pandemic notes", source="notes.txt",
        text=text, start=0, end=len(text), page=1, score=1.0,
    )  # fmt: skip
    verifier = bundled_engine.verifier

    def verdict(sentence: str) -> Claim:
        return verifier.claim(sentence, 0, len(sentence), [passage])

    named = verdict("The World Health Organization declared a pandemic on 11 March 2020 [1].")
    assert named.verdict == "supported", named
    assert named.quote is not None and named.quote.quote.startswith("The WHO declared")
    assert text[named.quote.quote_start : named.quote.quote_end] == named.quote.quote
    unit = verdict("Patients were isolated for 14 weeks after their last contact [1].")
    assert unit.verdict == "unsupported" and unit.reason is not None and "week" in unit.reason
    year = verdict("The WHO declared the outbreak a pandemic on 11 March 2021 [1].")
    assert year.verdict == "unsupported" and year.reason is not None and "2021" in year.reason
