"""Gold evidence is found in the cleaned text, and question sets load with fixed splits."""

import json
from pathlib import Path

import pytest

from eval.datasets import dev_half, load_eval_set, read_corpus, read_jsonl
from eval.gold import is_relevant, locate_evidence
from eval.models import EvalQuestion, Gold, Span
from index.errors import PaperTrailError
from index.settings import BUNDLED_CORPUS

RAW = (
    "A Study Title\n\nhttps://example.org/paper\n\n"
    "1 Introduction\n"
    "Mesenchymal  stem cells are\nobtained from bone marrow.  They are immuno-\n"
    "modulatory and widely studied.\n\n"
    "2 Results\n"
    "Bone marrow yields were low. Adipose tissue was an alternative source.\n"
)


@pytest.fixture
def corpus(tmp_path: Path) -> list:
    path = tmp_path / "study.txt"
    path.write_text(RAW, encoding="utf-8")
    return read_corpus([path])


def _question(gold: Gold, answerable: bool = True) -> EvalQuestion:
    return EvalQuestion(
        id="q1", question="Where are MSCs obtained from?", gold=gold, answerable=answerable
    )


def test_raw_span_maps_to_the_same_words_in_the_cleaned_text(corpus: list) -> None:
    raw_start = RAW.index("obtained from bone marrow")
    gold = Gold(
        doc_id="study.txt", spans=[(raw_start, raw_start + len("obtained from bone marrow"))]
    )
    evidence, unresolved = locate_evidence([_question(gold)], corpus)
    (span,) = evidence["q1"]
    text = corpus[0].document.text
    assert text[span.start : span.end] == "obtained from bone marrow"
    assert not unresolved


def test_span_across_a_wrapped_line_and_a_hyphen_break_is_found(corpus: list) -> None:
    raw_start = RAW.index("They are immuno-")
    raw_end = RAW.index("modulatory and") + len("modulatory")
    gold = Gold(doc_id="study.txt", spans=[(raw_start, raw_end)])
    (span,) = locate_evidence([_question(gold)], corpus)[0]["q1"]
    assert corpus[0].document.text[span.start : span.end] == "They are immunomodulatory"


def test_repeated_answer_picks_the_occurrence_nearest_its_raw_position(corpus: list) -> None:
    raw_start = RAW.lower().rindex("bone marrow")  # the second, in Results
    gold = Gold(doc_id="study.txt", spans=[(raw_start, raw_start + len("bone marrow"))])
    (span,) = locate_evidence([_question(gold)], corpus)[0]["q1"]
    text = corpus[0].document.text
    assert span.start == text.rindex("Bone marrow")


def test_section_gold_covers_the_section_up_to_the_next_heading(corpus: list) -> None:
    (span,) = locate_evidence([_question(Gold(section="2"))], corpus)[0]["q1"]
    text = corpus[0].document.text
    assert text[span.start :].startswith("2 Results")
    assert "Adipose tissue" in text[span.start : span.end]
    assert "Mesenchymal" not in text[span.start : span.end]


def test_unknown_section_or_document_is_reported_unresolved(corpus: list) -> None:
    questions = [
        _question(Gold(section="9.9 Nowhere")),
        _question(Gold(doc_id="missing.txt")).model_copy(update={"id": "q2"}),
    ]
    evidence, unresolved = locate_evidence(questions, corpus)
    assert evidence == {}
    assert unresolved == ["q1", "q2"]


def test_unanswerable_questions_have_no_evidence(corpus: list) -> None:
    evidence, unresolved = locate_evidence([_question(Gold(), answerable=False)], corpus)
    assert evidence == {} and unresolved == []


@pytest.mark.parametrize(
    ("passage", "relevant"),
    [
        ((100, 200), True),  # holds the whole gold span
        ((100, 155), True),  # holds half of it
        ((100, 154), False),  # holds less than half
        ((155, 300), True),  # the second half
        ((0, 150), False),  # ends where it starts
    ],
)
def test_passage_is_relevant_when_it_overlaps_half_the_shorter_span(
    passage: tuple[int, int], relevant: bool
) -> None:
    gold = [Span(doc_id="a", start=150, end=160)]
    assert is_relevant(Span(doc_id="a", start=passage[0], end=passage[1]), gold) is relevant
    assert not is_relevant(Span(doc_id="b", start=passage[0], end=passage[1]), gold)


def test_split_rule_is_a_fixed_half_by_hash() -> None:
    ids = [f"doc-{i}" for i in range(10)]
    dev = dev_half(ids)
    assert len(dev) == 5
    assert dev == dev_half(list(reversed(ids)))  # order of input does not matter


def test_covid_qa_splits_by_article_into_disjoint_halves(tmp_path: Path) -> None:
    dev = load_eval_set("covid-qa", work_dir=tmp_path / "d", split="dev")
    test = load_eval_set("covid-qa", work_dir=tmp_path / "t", split="test")
    dev_docs = {Path(p).name for p in dev.corpus}
    test_docs = {Path(p).name for p in test.corpus}
    assert not dev_docs & test_docs
    assert abs(len(dev_docs) - len(test_docs)) <= 1
    assert {q.gold.doc_id for q in test.questions} <= test_docs


def test_limit_keeps_the_needed_documents_plus_fixed_distractors(tmp_path: Path) -> None:
    full = load_eval_set("pubmedqa", work_dir=tmp_path, split="test")
    small = load_eval_set("pubmedqa", work_dir=tmp_path, split="test", limit=4, distractors=2)
    assert [q.id for q in small.questions] == [q.id for q in full.questions[:4]]
    needed = {q.gold.doc_id for q in small.questions}
    names = [Path(p).name for p in small.corpus]
    assert needed <= set(names) and len(names) == len(needed) + 2
    assert set(small.heldout) <= {q.id for q in small.questions}


def test_pubmedqa_indexes_abstracts_without_their_conclusions(tmp_path: Path) -> None:
    s = load_eval_set("pubmedqa", work_dir=tmp_path, split="test", limit=1, distractors=0)
    q = s.questions[0]
    text = Path(s.corpus[0]).read_text()
    assert q.answers and q.answers[0] not in text


def test_seed_set_has_gold_sections_and_unanswerables() -> None:
    s = load_eval_set("seed", work_dir=Path("unused"))
    assert s.corpus == [str(BUNDLED_CORPUS)]
    answerable = [q for q in s.questions if q.answerable]
    assert len(s.questions) >= 20 and len(s.questions) - len(answerable) >= 5
    evidence, unresolved = locate_evidence(s.questions, read_corpus(s.corpus))
    assert not unresolved and set(evidence) == {q.id for q in answerable}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"id": "x"}, "question"),
        ({"id": "x", "question": "Why?", "gold": {"pages": 2}}, "pages"),
        ({"id": "x", "question": "Why?", "gold": {"page": 0}}, "page"),
    ],
)
def test_bad_jsonl_line_names_file_line_and_field(tmp_path: Path, line: dict, message: str) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"id": "ok", "question": "Fine?"}) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(PaperTrailError, match=rf"set\.jsonl:2: .*{message}"):
        read_jsonl(path)


def test_jsonl_set_needs_a_corpus(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"id": "a", "question": "Why?"}) + "\n")
    with pytest.raises(PaperTrailError, match="--corpus"):
        load_eval_set(str(path), work_dir=tmp_path)


def test_limit_on_a_jsonl_set_finds_documents_inside_a_corpus_folder(tmp_path: Path) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    for name in ("A.txt", "B File.txt", "C.txt", "D.txt"):
        (folder / name).write_text(f"Text of {name}.")
    path = tmp_path / "set.jsonl"
    line = {"id": "q", "question": "Why?", "gold": {"doc_id": "b-file.txt"}}
    path.write_text(json.dumps(line) + "\n")
    s = load_eval_set(str(path), work_dir=tmp_path, corpus=[folder], limit=1, distractors=1)
    names = [Path(p).name for p in s.corpus]
    assert names[0] == "B File.txt" and len(names) == 2
