"""eval.bench.claim_labels: hand labels joined to a trust run's generated sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.bench.claim_labels import ClaimLabel, labelled, load_labels, main, score, todo
from eval.trust import Asked, TrustRun


def _run() -> TrustRun:
    claims = [
        {"text": "MSCs lack a standard.", "verdict": "supported", "reason": "", "quote": "q1"},
        {"text": "The dose is 100 units.", "verdict": "supported", "reason": "", "quote": "q2"},
        {"text": "They come  from bone marrow.", "verdict": "weak", "reason": "", "quote": None},
        {"text": "Never labelled.", "verdict": "unsupported", "reason": "no", "quote": None},
    ]
    asked = Asked(
        id="q-1",
        condition="alone",
        abstained=False,
        evidence_score=0.5,
        answer=" ".join(c["text"] for c in claims),
        quotes=[],
        claims=claims,
        passages=["MSCs lack a standard. They come from bone marrow."],
    )
    return TrustRun(split="dev", questions=[], asked=[asked])


def _labels() -> list[ClaimLabel]:
    return [
        ClaimLabel(id="q-1", claim="MSCs lack a standard.", label="supported"),
        ClaimLabel(id="q-1", claim="The dose is 100 units.", label="unsupported", note="no dose"),
        ClaimLabel(id="q-1", claim="They come from bone marrow.", label="supported"),
        ClaimLabel(id="q-2", claim="MSCs lack a standard.", label="unsupported"),
    ]


def test_labels_match_sentences_of_the_same_question_whatever_their_spacing() -> None:
    pairs, rest = labelled(_run(), _labels())
    assert [(p.claim, v) for p, v in pairs] == [
        ("MSCs lack a standard.", "supported"),
        ("The dose is 100 units.", "supported"),
        ("They come from bone marrow.", "weak"),
    ]
    assert rest == [{"id": "q-1", "condition": "alone", "claim": "Never labelled."}]


def test_score_counts_missed_unsupported_and_wrongly_flagged_supported_claims() -> None:
    pairs, rest = labelled(_run(), _labels())
    result = score(pairs, unlabelled=len(rest))
    assert (result.unsupported, result.unsupported_flagged) == (1, 0)
    assert (result.supported, result.supported_flagged) == (2, 1)
    assert result.supported_marked_unsupported == 0
    assert result.unlabelled == 1


def test_todo_rows_carry_the_passages_to_read() -> None:
    run = _run()
    _, rest = labelled(run, _labels())
    [row] = todo(run, rest)
    assert row["label"] is None and row["verdict"] == "unsupported"
    assert row["passages"] == run.asked[0].passages


def test_a_malformed_label_line_names_its_number(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(
        json.dumps({"id": "q", "claim": "x", "label": "supported"})
        + "\n"
        + json.dumps({"id": "q", "claim": "x", "label": "maybe"})
        + "\n"
    )
    with pytest.raises(ValueError, match=r"labels\.jsonl:2: not a claim label"):
        load_labels(path)


def test_main_reads_one_system_of_a_multi_system_trust_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"systems": {"generative": {"run": _run().model_dump()}}}))
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(label.model_dump_json() + "\n" for label in _labels()))
    todo_file = tmp_path / "todo.jsonl"
    main(["--trust", str(trust), "--labels", str(labels), "--todo", str(todo_file)])
    assert "3 labelled sentences (1 unlabelled)" in capsys.readouterr().out
    assert len(todo_file.read_text().splitlines()) == 1


def test_the_shipped_labels_cover_at_least_fifty_sentences() -> None:
    labels = load_labels()
    assert len(labels) >= 50
    assert len({label.key for label in labels}) == len(labels)
    assert {label.label for label in labels} == {"supported", "unsupported"}
