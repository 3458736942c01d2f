"""Generated text -> claims, each checked against the passages its [n] markers cite.

A sentence of a generated answer is one claim. Its markers name passages (`[1]`, `[1, 2]`,
`[1][3]`, `[1-3]`; `[n]` is passages[n-1]). With the markers stripped it is scored as the
answerer scores evidence (rag/answer.py): the best cosine between its vector and a
sentence of the cited passages, averaged with the share of its idf-weighted terms that the
sentences backing it contain (`support_of`). Then hard checks, which no similarity outweighs:

- every number (and unit) it states must be in the cited passages, and in the sentences
  that support it: "14 days" where the passage says "7 days" (and mentions 14 elsewhere)
  is not supported;
- every named entity (a capitalised word inside the sentence, an acronym, a name with a
  digit such as ACE2 or IL-6) must be in the cited passages.

Verdicts: `uncited` (no marker), `supported`, `weak` (related but not clearly stated),
`unsupported` (a hard check failed, or little support). The quote is the cited passage's
sentence closest to the claim, with offsets in the passage as extractive citations have.
Thresholds: AnswerSettings.verify_supported / verify_weak, tuned on the COVID-QA dev split
by eval/bench/verifier.py (docs/verifier.md).
"""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from index.keyword import terms
from index.models import Citation, Claim, Passage
from index.sentences import Sentence, split_sentences
from index.settings import AnswerSettings
from rag.answer import Idf, SentencesIn, support_of
from rag.citations import cite

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

__all__ = ["Verifier", "markers", "split_claims", "strip_markers"]

_MARKER = re.compile(r"\[(\d+(?:\s*[,;–-]\s*\d+)*)\]")
_MARKERS_AROUND = re.compile(r"\s*(?:\[\d+(?:\s*[,;–-]\s*\d+)*\]\s*)+")
_LEADING_MARKERS = re.compile(r"^(?:\[\d+(?:\s*[,;–-]\s*\d+)*\]\s*)+")
_MAX_RANGE = 20  # "[1-300]" is not a citation range anyone means
# List bullets and markdown emphasis; an underscore inside a name (NC_018871) stays.
_MARKUP = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+|[*`#]+|(?<!\w)_+|_+(?!\w)")
_MIN_FRAGMENT_WORDS = 3
_CACHE = 64  # passages whose sentence vectors are kept (a streamed answer re-cites them)
# A number must be in a supporting sentence: one whose cosine to the claim is within this
# of the best one's, or above _PART_COSINE, or a neighbour of the best one.
_SUPPORTING_MARGIN = 0.12
_PART_COSINE = 0.5  # or this close: a claim may fuse several sentences
_COPY_COSINE = 0.9  # a claim this close to one sentence, with _COPY_SHARE of its words
_COPY_SHARE = 0.9  # in it, restates it: its numbers are counted in that sentence alone

# Numbers: "1,000", "0.5", "12"; not the digits inside names (IL-10, COVID-19, CD34, ACE2).
_NUMBER = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?![.,]?\d)(?![\w-]*[A-Za-z])"
)
_ENUMERATION = re.compile(r"\((?:\d{1,2}|[ivx]{1,4}|[a-h])\)")  # "(1) ..., (2) ..." lists
_NAME_WITH_DIGITS = re.compile(r"\b[^\W\d_]+(?:-[^\W\d_]+)*-?\d+[\w-]*")
_WORD_NUMBERS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_UNITS = {
    "%": "%", "percent": "%", "per cent": "%",
    "mg": "mg", "g": "g", "kg": "kg", "µg": "µg", "μg": "µg", "ug": "µg", "ng": "ng",
    "ml": "ml", "l": "l", "µl": "µl", "μl": "µl",
    "mm": "mm", "cm": "cm", "m": "m", "km": "km", "nm": "nm", "µm": "µm", "μm": "µm",
    "h": "hour", "hr": "hour", "hrs": "hour", "hour": "hour", "hours": "hour",
    "min": "minute", "mins": "minute", "minute": "minute", "minutes": "minute",
    "s": "second", "sec": "second", "second": "second", "seconds": "second",
    "d": "day", "day": "day", "days": "day", "wk": "week", "week": "week", "weeks": "week",
    "month": "month", "months": "month", "yr": "year", "yrs": "year", "year": "year",
    "years": "year", "°c": "°c", "°f": "°f", "kda": "kda", "bp": "bp", "kb": "kb",
    "iu": "iu", "mmol": "mmol", "µmol": "µmol", "mm hg": "mmhg", "mmhg": "mmhg",
    "fold": "fold",
}  # fmt: skip
# Looked up lower-cased: lower() turns the micro sign into a Greek mu, so both spellings.
_UNIT_NAMES = _UNITS | {k.lower(): v for k, v in _UNITS.items()}
_UNIT = re.compile(
    r"\s?(" + "|".join(sorted(map(re.escape, _UNIT_NAMES), key=len, reverse=True)) + r")(?!\w)",
    re.IGNORECASE,
)
# Named entities: an acronym or a name with digits (ACE2, SARS-CoV-2, mRNA), or a
# capitalised word that does not open the sentence (Wuhan, Pfizer).
_ENTITY = re.compile(
    r"\b(?:[A-Z][A-Za-z]*[A-Z0-9][\w-]*|[a-z]+[A-Z][\w-]*|[A-Z][a-z]+(?:-[A-Z]?[a-z]+)*)\b"
)
# Capitalised words that are not names: openers and words capitalised after a colon.
_NOT_ENTITIES = frozenset(
    "the a an in on at of for to by with from as this these that those it its they their "
    "there here however moreover furthermore also and or but both while when where which "
    "who what how why than then thus therefore hence overall finally first second third "
    "although because since after before during among between within without according "
    "figure fig table tables figures section supplementary et al i we our one two".split()
)


def markers(sentence: str) -> list[int]:
    """The passage numbers a sentence cites, in order, once each: [1], [1, 2], [1][3], [1-3]."""
    out: list[int] = []
    for group in _MARKER.finditer(sentence):
        for part in re.split(r"\s*[,;]\s*", group.group(1)):
            bounds = [int(b) for b in re.split(r"\s*[–-]\s*", part)]
            lo, hi = bounds[0], bounds[-1]
            numbers = list(range(lo, hi + 1)) if 0 <= hi - lo < _MAX_RANGE else [lo]
            out += [n for n in numbers if n not in out]
    return out


def strip_markers(sentence: str) -> str:
    """The sentence without its [n] markers and markdown emphasis, as it is scored."""
    text = _MARKERS_AROUND.sub(" ", sentence)
    text = _MARKUP.sub("", text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return " ".join(text.split())


def split_claims(text: str) -> list[tuple[int, int]]:
    """Sentence spans of generated text; markers after a full stop stay with its sentence."""
    spans: list[list[int]] = []
    for s in split_sentences(text):
        lead = _LEADING_MARKERS.match(s.text)
        if lead and spans:
            spans[-1][1] = s.start + len(lead.group().rstrip())
            rest = s.start + lead.end()
            if rest < s.end:
                spans.append([rest, s.end])
            continue
        spans.append([s.start, s.end])
    return [(a, b) for a, b in spans]


@dataclass(frozen=True)
class _Quote:
    n: int  # the marker number
    passage: Passage
    sentence: Sentence  # offsets in passage.text
    vector: np.ndarray


class Verifier:
    """Checks generated sentences against the passages they cite."""

    def __init__(
        self,
        embedder: BaseEmbedding,
        sentences_in: SentencesIn,
        idf: Idf,
        settings: AnswerSettings,
    ) -> None:
        self._embedder = embedder
        self._sentences_in = sentences_in
        self._idf = idf
        self.settings = settings
        self._cache: OrderedDict[tuple[str, str, int, int], list[tuple[Sentence, np.ndarray]]]
        self._cache = OrderedDict()
        self._lock = threading.Lock()

    def claims(
        self, text: str, passages: Sequence[Passage], *, settings: AnswerSettings | None = None
    ) -> list[Claim]:
        """Every sentence of `text` as a checked claim; `settings` overrides for one call."""
        spans = [(a, b) for a, b in split_claims(text) if terms(strip_markers(text[a:b]))]
        bare = [strip_markers(text[a:b]) for a, b in spans]
        vectors = self._embed(bare)
        return [
            self._claim(text, a, b, passages, vector, settings or self.settings)
            for (a, b), vector in zip(spans, vectors, strict=True)
        ]

    def claim(
        self,
        text: str,
        start: int,
        end: int,
        passages: Sequence[Passage],
        *,
        settings: AnswerSettings | None = None,
    ) -> Claim:
        """text[start:end], one sentence of an answer, checked against what it cites."""
        return self._claim(text, start, end, passages, None, settings or self.settings)

    # -- scoring ----------------------------------------------------------------
    def _claim(
        self,
        text: str,
        start: int,
        end: int,
        passages: Sequence[Passage],
        vector: np.ndarray | None,
        settings: AnswerSettings,
    ) -> Claim:
        sentence = text[start:end]
        cited = markers(sentence)
        valid = [n for n in cited if 1 <= n <= len(passages)]
        beyond = [n for n in cited if n not in valid]
        notes = (
            [f"{_marks(beyond)} names no passage (only {len(passages)} given)"] if beyond else []
        )
        base = {"text": sentence, "start": start, "end": end}
        bare = strip_markers(sentence)
        if not terms(bare):
            why = notes or ["nothing to check once the markers are removed"]
            return Claim(**base, cites=valid, verdict="unsupported", reason="; ".join(why))
        if vector is None:
            vector = self._embed([bare])[0]
        claim = None
        if valid:
            claim = self._against(base, bare, vector, valid, passages, settings, notes)
            if claim.verdict == "supported":
                return claim
        # The markers are the writer's guess (a small model often leaves them out): the
        # claim is attributed to the one given passage that states it best.
        tried = [
            self._against(base, bare, vector, [n], passages, settings, [])
            for n in range(1, len(passages) + 1)
            if [n] != valid
        ]
        found = max(tried, key=lambda c: (_RANK[c.verdict], c.support), default=None)
        if claim is not None and (found is None or _RANK[found.verdict] <= _RANK[claim.verdict]):
            return claim
        if found is None or found.verdict == "unsupported":
            closest = (
                f" (closest {_marks(found.cites)}, support {found.support:.2f})" if found else ""
            )
            why = [f"no passage given states this{closest}", *notes]
            return Claim(
                **base,
                cites=[],
                verdict="unsupported",
                support=found.support if found else 0.0,
                reason="; ".join(why),
            )
        said = f"cited {_marks(valid)}, but" if valid else "no marker;"
        moved = f"{said} {_marks(found.cites)} states it"
        return found.model_copy(
            update={"reason": "; ".join(x for x in (moved, found.reason, *notes) if x)}
        )

    def _against(
        self,
        base: dict[str, Any],
        bare: str,
        vector: np.ndarray,
        valid: list[int],
        passages: Sequence[Passage],
        settings: AnswerSettings,
        notes: list[str],
    ) -> Claim:
        """The claim checked against passages `valid` alone."""
        quotes = [q for n in valid for q in self._quotes(n, passages[n - 1])]
        if not quotes:
            why = [f"{_marks(valid)} has no sentence to check against", *notes]
            return Claim(**base, cites=valid, verdict="unsupported", reason="; ".join(why))
        cosines = np.array([float(q.vector @ vector) for q in quotes])
        best = int(np.argmax(cosines))
        quote = quotes[best]
        near = _near(quotes, cosines, best)
        score = self._support(bare, float(cosines[best]), [quotes[i] for i in near])
        problem = _hard_check(bare, quotes, cosines, best, valid, passages)
        if problem:
            verdict, notes = "unsupported", [problem, *notes]
        elif score >= settings.verify_supported:
            verdict = "supported"
        elif score >= settings.verify_weak:
            verdict = "weak"
            notes = [f"{_marks(valid)} only partly states this (support {score:.2f})", *notes]
        else:
            verdict = "unsupported"
            notes = [f"{_marks(valid)} does not state this (support {score:.2f})", *notes]
        return Claim(
            **base,
            cites=valid,
            verdict=verdict,
            support=round(max(0.0, min(1.0, score)), 4),
            quote=_citation(quote),
            reason="; ".join(notes) or None,
        )

    def _support(self, bare: str, cosine: float, backing: Sequence[_Quote]) -> float:
        """The answerer's support score with the claim in the question's place: cosine to
        the closest cited sentence averaged with the claim's idf-weighted terms the
        sentences backing it hold (with their passages' titles)."""
        weights = self._idf(sorted(set(terms(bare))))
        held: set[str] = set()
        for q in backing:
            held.update(terms(q.passage.title))
            held.update(terms(q.sentence.text))
        return support_of(cosine, [held], weights, ())

    def _quotes(self, n: int, passage: Passage) -> list[_Quote]:
        return [_Quote(n, passage, s, v) for s, v in self._sentences(passage)]

    def _sentences(self, passage: Passage) -> list[tuple[Sentence, np.ndarray]]:
        """The passage's sentences (offsets in passage.text) with vectors: the index's
        stored ones, plus the pieces at the passage's edges that no stored sentence covers
        (a chunk boundary cuts a sentence), embedded now."""
        key = (passage.doc_id, passage.chunk_id, passage.start, len(passage.text))
        with self._lock:  # one engine's verifier serves every session
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        text = passage.text
        found: list[tuple[Sentence, np.ndarray]] = []
        for stored, vector in self._sentences_in(passage.doc_id, passage.start, passage.end):
            a, b = stored.start - passage.start, stored.end - passage.start
            if 0 <= a < b <= len(text) and text[a:b] == stored.text:
                found.append((Sentence(a, b, stored.text), np.asarray(vector, dtype=np.float32)))
        found.sort(key=lambda sv: sv[0].start)
        gaps, at = [], 0
        for s, _ in [*found, (Sentence(len(text), len(text), ""), None)]:
            if s.start > at:
                gaps += [
                    Sentence(at + g.start, at + g.end, g.text)
                    for g in split_sentences(text[at : s.start])
                    if len(g.text.split()) >= _MIN_FRAGMENT_WORDS
                ]
            at = max(at, s.end)
        if gaps:
            vectors = self._embed([g.text for g in gaps])
            found = sorted([*found, *zip(gaps, vectors, strict=True)], key=lambda sv: sv[0].start)
        with self._lock:
            self._cache[key] = found
            if len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
        return found

    def _embed(self, texts: list[str]) -> list[np.ndarray]:
        if not texts:
            return []
        vectors = self._embedder.get_text_embedding_batch(texts)
        return [np.asarray(v, dtype=np.float32) for v in vectors]


def _hard_check(
    bare: str,
    quotes: list[_Quote],
    cosines: np.ndarray,
    best: int,
    valid: list[int],
    passages: Sequence[Passage],
) -> str | None:
    """The first number, unit or named entity of the claim the cited passages lack."""
    where = _marks(valid)
    haystack = " ".join(f"{passages[n - 1].title}\n{passages[n - 1].text}" for n in valid)
    numbers = set(_numbers(haystack))
    near = _near(quotes, cosines, best)
    stated = Counter(n for n, _ in _quantities(" ".join(quotes[i].sentence.text for i in near)))
    # Counted in the sentence a claim copies: "the 2005-2006 epidemic" is not "the
    # 2006-2006 epidemic", nor "from 10 to 10 January" what "from 10 to 20 January" says.
    counted = stated
    if cosines[best] >= _COPY_COSINE and _restates(bare, quotes[best].sentence.text):
        counted = Counter(n for n, _ in _quantities(quotes[best].sentence.text))
    quantities = _quantities(bare)
    claimed = Counter(number for number, _ in quantities)
    for number, unit in quantities:
        if number not in numbers:
            return f"number {number} not in {where}"
        if not stated[number]:
            return f"number {number} is not in the sentences of {where} that state this"
        if claimed[number] > counted[number]:
            return f"number {number} is stated more often than {where} does"
        if unit and unit not in _units(haystack):
            return f"unit {unit} not in {where}"
    lowered = _fold(haystack)
    known = _acronyms(haystack)  # "WHO" in the passage vouches for "World Health Organization"
    for run in _name_runs(bare):
        if _initials(run) in known:
            continue
        for entity in run:
            if not _mentions(lowered, entity) and not _expanded(entity, haystack):
                return f"{entity!r} not in {where}"
    return None


_RANK = {"unsupported": 0, "uncited": 0, "weak": 1, "supported": 2}


def _near(quotes: list[_Quote], cosines: np.ndarray, best: int) -> list[int]:
    """The sentences that back the claim: the closest, its neighbours, and any nearly as
    close (or close enough to be one part of a claim that fuses several)."""
    return sorted(
        i
        for i, q in enumerate(quotes)
        if cosines[i] >= min(cosines[best] - _SUPPORTING_MARGIN, _PART_COSINE)
        or (q.passage is quotes[best].passage and abs(i - best) <= 1)
    )


def _restates(claim: str, sentence: str) -> bool:
    """Whether one sentence holds (nearly) all the claim's words: the claim copies it."""
    words = {t for t in terms(claim) if not t.isdigit()}
    held = set(terms(sentence))
    return bool(words) and len(words & held) >= _COPY_SHARE * len(words)


def _numbers(text: str) -> list[str]:
    """Numbers a text states, normalised (1,000 -> 1000; five -> 5), names' digits too:
    a claim's name is checked as an entity, but a passage number may sit in one."""
    found = [m.replace(",", "") for m in re.findall(r"\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?", text)]
    words = re.findall(r"[a-z]+", text.lower())
    return found + [_WORD_NUMBERS[w] for w in words if w in _WORD_NUMBERS]


def _quantities(text: str) -> list[tuple[str, str | None]]:
    """(number, canonical unit or None) for each number the claim states."""
    cleaned = _NAME_WITH_DIGITS.sub(lambda m: " " * len(m.group()), text)
    cleaned = _ENUMERATION.sub(lambda m: " " * len(m.group()), cleaned)
    out = []
    for m in _NUMBER.finditer(cleaned):
        unit = _UNIT.match(cleaned, m.end())
        out.append((m.group(1).replace(",", ""), _unit(unit.group(1)) if unit else None))
    for w in re.findall(r"\b[a-z]+\b", text.lower()):
        if w in _WORD_NUMBERS and w not in ("one", "zero"):  # "one of the" is not a count
            out.append((_WORD_NUMBERS[w], None))
    return out


def _unit(raw: str) -> str:
    return _UNIT_NAMES.get(raw.lower(), raw.lower())


def _units(text: str) -> set[str]:
    """Units the text puts after a number."""
    out = set()
    for m in re.finditer(r"\d", text):
        unit = _UNIT.match(text, m.end())
        if unit:
            out.add(_unit(unit.group(1)))
    return out


def _entities(text: str) -> list[str]:
    """Names the claim uses: acronyms, names with digits, capitalised words after the first."""
    out: list[str] = []
    opener = re.match(r"\W*\w+", text)
    first = opener.end() if opener else 0
    for m in _ENTITY.finditer(text):
        word = m.group()
        plain = (word[0].isupper() and word[1:].islower()) or ("-" in word and word.istitle())
        if plain and (m.start() < first or word.lower() in _NOT_ENTITIES):
            continue
        if plain and text[: m.start()].rstrip().endswith((":", ".")):
            continue
        if word not in out:
            out.append(word)
    return out


def _name_runs(text: str) -> list[list[str]]:
    """The claim's entities, neighbours grouped: [["World", "Health", "Organization"]]."""
    names = _entities(text)
    runs: list[list[str]] = []
    last_end = -2
    for m in _ENTITY.finditer(text):
        if m.group() not in names:
            continue
        if runs and text[last_end : m.start()].strip() == "":
            runs[-1].append(m.group())
        else:
            runs.append([m.group()])
        last_end = m.end()
    return runs


def _initials(run: list[str]) -> str:
    return "".join(w[0] for w in run).lower() if len(run) > 1 else ""


def _acronyms(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"\b[A-Z]{2,}s?\b", text)} | {
        w.lower()[:-1] for w in re.findall(r"\b[A-Z]{2,}s\b", text)
    }


def _expanded(entity: str, haystack: str) -> bool:
    """Whether an acronym of the claim is spelt out in the passage (WHO: World Health
    Organization, ignoring small words between)."""
    letters = re.sub(r"s$", "", entity) if entity[:-1].isupper() else entity
    if not (letters.isupper() and letters.isalpha() and 3 <= len(letters) <= 8):
        return False  # two letters spell too many word pairs by chance
    words = r"[\s-]+(?:(?:of|and)\s+)?".join(f"{c}[a-z]{{2,}}" for c in letters)
    return bool(re.search(rf"\b{words}", haystack, re.IGNORECASE))


def _fold(text: str) -> str:
    return " ".join(text.lower().replace("-", " ").split())


def _mentions(haystack: str, entity: str) -> bool:
    """Whether the folded passage text names `entity` (any case; hyphens as spaces;
    a plural or possessive of it counts)."""
    word = re.sub(r"(?:'s|s)$", "", _fold(entity))  # ACEs ~ ACE, Wuhan's ~ Wuhan
    return bool(re.search(rf"(?<!\w){re.escape(word)}(?:s|es|'s)?(?!\w)", haystack))


def _marks(numbers: Sequence[int]) -> str:
    return "".join(f"[{n}]" for n in numbers)


def _citation(q: _Quote) -> Citation:
    return cite(q.n, q.passage, q.sentence)
