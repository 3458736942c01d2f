"""Abbreviations: keyword search that sees "CBCT" and "cone beam computed tomography" as one.

Biomedical text defines an abbreviation once ("double balloon enteroscopy (DBE)") and then
uses the short form; a question may use either.
- Chunks: definitions are found with the Schwartz-Hearst algorithm (the `abbreviations`
  package) in each document, and each chunk's keyword terms gain the missing form of every
  abbreviation it holds. A document that uses a short form it never defines (its title
  did) borrows the definition most documents give.
- Questions: a run of words whose initials spell a corpus term also asks for that term
  ("hepatitis B virus" -> hbv), for abbreviations no document defines.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache
from types import ModuleType

from index.keyword import terms, with_bigrams

__all__ = ["Abbreviations", "definitions", "initialisms"]

Terms = tuple[str, ...]
_RAW_WORD = re.compile(r"[A-Za-z0-9]+")
_INITIALISM_WORDS = range(3, 6)  # two-letter initialisms collide with too many words


def definitions(text: str) -> dict[Terms, Terms]:
    """Short form -> long form, as keyword terms, for each abbreviation `text` defines."""
    found = {}
    for short, long in _schwartz_hearst(text).items():
        s, lf = tuple(terms(str(short))), tuple(terms(str(long)))
        if s and len(lf) > len(s):  # "OR" is a stopword; a long form must say more
            found[s] = lf
    return found


def initialisms(text: str) -> list[str]:
    """Terms spelt by the initials of 3-5 neighbouring words, each a content word or a letter.

    Words such as "of" or "the" break a run: "cone beam computed tomography" gives cbct,
    "hepatitis B virus" hbv, "risk of death" nothing.
    """
    words = _RAW_WORD.findall(text)
    usable = [len(w) == 1 or bool(terms(w)) for w in words]
    out = []
    for n in _INITIALISM_WORDS:
        for i in range(len(words) - n + 1):
            if all(usable[i : i + n]):
                out += terms("".join(w[0] for w in words[i : i + n]))
    return out


class Abbreviations:
    """Definitions by document, and the corpus's most frequent long form of each short form."""

    def __init__(self, by_doc: dict[str, dict[Terms, Terms]]) -> None:
        self._by_doc = by_doc
        votes = Counter((s, lf) for defs in by_doc.values() for s, lf in defs.items())
        corpus: dict[Terms, Terms] = {}
        for (s, lf), _ in votes.most_common():
            corpus.setdefault(s, lf)
        # Pairs by the first term of either form, so a chunk looks up only what it may hold.
        self._by_first: dict[str, list[tuple[Terms, Terms]]] = {}
        for s, lf in corpus.items():
            self._by_first.setdefault(s[0], []).append((s, lf))
            self._by_first.setdefault(lf[0], []).append((s, lf))

    @classmethod
    def from_texts(cls, texts: Iterable[tuple[str, str]]) -> Abbreviations:
        """From (doc_id, text) pairs; a document's chunks may come as several texts."""
        by_doc: dict[str, dict[Terms, Terms]] = {}
        for doc_id, text in texts:
            by_doc.setdefault(doc_id, {}).update(definitions(text))
        return cls(by_doc)

    def expand(self, doc_id: str, unigrams: Sequence[str]) -> list[str]:
        """Extra keyword terms for a chunk: the missing form of each abbreviation it holds."""
        starts: dict[str, list[int]] = {}
        for i, t in enumerate(unigrams):
            starts.setdefault(t, []).append(i)
        pairs = dict(p for t in starts for p in self._by_first.get(t, ()))
        pairs.update(self._by_doc.get(doc_id, {}))  # the document's own definition wins
        extra: list[str] = []
        for s, lf in pairs.items():
            has_short, has_long = _holds(unigrams, starts, s), _holds(unigrams, starts, lf)
            if has_short and not has_long:
                extra += with_bigrams(lf)
            elif has_long and not has_short:
                extra += with_bigrams(s)
        return extra


def _holds(seq: Sequence[str], starts: dict[str, list[int]], phrase: Terms) -> bool:
    """Whether `phrase` occurs in `seq`; `starts` gives each term's positions in `seq`."""
    n = len(phrase)
    return any(tuple(seq[i : i + n]) == phrase for i in starts.get(phrase[0], ()))


def _schwartz_hearst(text: str) -> dict[str, str]:
    return _extractor().extract_abbreviation_definition_pairs(doc_text=text)


@cache
def _extractor() -> ModuleType:
    """The package's module, imported once with the root logger guarded."""
    root = logging.getLogger()
    guard = logging.NullHandler()
    root.addHandler(guard)  # the package calls logging.basicConfig(level=INFO) at import
    try:
        from abbreviations import schwartz_hearst
    finally:
        root.removeHandler(guard)
    return schwartz_hearst
