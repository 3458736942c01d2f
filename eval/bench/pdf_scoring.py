"""Pure scoring rules of `python -m eval.bench.pdfs`: strings and small records in, counts out.

Each rule is defined in docs/pdfs.md; the command (eval/bench/pdfs.py) applies them to the
pipeline's Document. Nothing here reads a PDF or knows a publisher.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

__all__ = [
    "FoundHeading",
    "GoldHeading",
    "HeadingMatch",
    "bad_symbols",
    "count_furniture",
    "furniture_patterns",
    "glued_words",
    "heading_key",
    "line_number_leftovers",
    "locate_headings",
    "match_headings",
    "plain",
    "splice_kinds",
    "squash",
    "title_score",
    "word_list",
]

_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−"})
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "′": "'", "“": '"', "”": '"', "„": '"'})
# "2.1 ", "3. ", "A.1 ": a bare letter ("A Appendix") is only tried as a variant, since
# "A good life" starts with a word.
_NUMBER_PREFIX = re.compile(r"^\s*(?:\d{1,2}(?:\.\d{1,2}){0,3}|[A-Z](?:\.\d{1,2})+)\.?\s+(?=\S)")


def plain(text: str) -> str:
    """Whitespace-normalised text with typographic variants folded: the 'verbatim' form.

    NFKC (ligatures, full-width forms), dashes and curly quotes to ASCII, and no space just
    inside brackets, because reference texts write "[ 1 ]" where the page prints "[1]".
    """
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).translate(_QUOTES)
    text = " ".join(text.split())
    return re.sub(r"(?<=[(\[]) | (?=[)\]])", "", text)


def squash(text: str) -> str:
    """Letters and digits only, case-folded: the 'ignoring spaces and punctuation' form."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


# ---------------------------------------------------------------------------------------------
# Headings and sections


@dataclass(frozen=True)
class GoldHeading:
    text: str
    level: int
    page: int
    number: str | None = None


@dataclass(frozen=True)
class FoundHeading:
    """A heading the pipeline reported: its SectionSpan's heading text, level and page."""

    text: str
    level: int
    page: int
    start: int = 0


@dataclass
class HeadingMatch:
    """Gold headings paired with found ones; unpaired found headings are false headings."""

    pairs: list[tuple[int, int]] = field(default_factory=list)  # (gold index, found index)
    gold: int = 0
    found: int = 0
    level_right: int = 0

    @property
    def false(self) -> int:
        return self.found - len(self.pairs)


def heading_key(text: str) -> str:
    """A heading compared by its words only: number prefix, case, spaces, punctuation dropped.

    Spacing is scored by the glued-word rule on body text, not here: "S CI D OCS" (small
    caps) is the heading "SCIDOCS".
    """
    return squash(_NUMBER_PREFIX.sub("", unicodedata.normalize("NFKC", text), count=1))


def _found_keys(text: str) -> set[str]:
    # "A Appendix A - Baseline Details": a letter numbering is only dropped as a variant.
    return {heading_key(text), squash(text), squash(re.sub(r"^[A-Z]\s+", "", text))}


def match_headings(gold: Sequence[GoldHeading], found: Sequence[FoundHeading]) -> HeadingMatch:
    """Pair each gold heading with the first unused found heading of the same text and page."""
    result = HeadingMatch(gold=len(gold), found=len(found))
    used: set[int] = set()
    keys = [_found_keys(f.text) for f in found]
    for gi, g in enumerate(gold):
        want = heading_key(g.text)
        for fi, f in enumerate(found):
            if fi not in used and f.page == g.page and want in keys[fi]:
                used.add(fi)
                result.pairs.append((gi, fi))
                result.level_right += f.level == g.level
                break
    return result


def locate_headings(
    text: str, gold: Sequence[GoldHeading], page_starts: Sequence[int]
) -> list[int | None]:
    """Offset of each gold heading in the document text, searched in order on its own page.

    A heading is looked for by its letters and digits (case-sensitive first, at a paragraph
    start first), so "Results" finds the heading and not "results" in a sentence before it.
    None when its words are not on the page (the pipeline lost or broke them).
    """
    index = [i for i, ch in enumerate(text) if ch.isalnum()]
    letters = "".join(text[i] for i in index)
    out: list[int | None] = []
    cursor = 0
    for g in gold:
        lo = _index_at(index, page_starts[g.page - 1]) if g.page - 1 < len(page_starts) else 0
        hi = _index_at(index, page_starts[g.page]) if g.page < len(page_starts) else len(letters)
        lo = max(lo, cursor)
        hit = _find_heading(text, index, letters, g.text, lo, hi)
        out.append(index[hit] if hit is not None else None)
        if hit is not None:
            cursor = hit + 1
    return out


def _index_at(index: list[int], offset: int) -> int:
    return bisect_left(index, offset)


def _find_heading(
    text: str, index: list[int], letters: str, heading: str, lo: int, hi: int
) -> int | None:
    exact = "".join(ch for ch in unicodedata.normalize("NFKC", heading) if ch.isalnum())
    hits: list[int] = []
    for needle, hay in ((exact, letters), (exact.casefold(), letters.casefold())):
        pos = hay.find(needle, lo, hi)
        while pos >= 0 and needle:
            hits.append(pos)
            if _starts_paragraph(text, index[pos]):
                return pos
            pos = hay.find(needle, pos + 1, hi)
    return hits[0] if hits else None


def _starts_paragraph(text: str, offset: int) -> bool:
    before = text[max(0, offset - 12) : offset]
    return bool(re.search(r"(^|\n)\s*(?:[\dA-Z](?:\.\d+)*\.?\s+)?$", before)) or offset == 0


# ---------------------------------------------------------------------------------------------
# Title


def title_score(found: str, gold: str) -> tuple[bool, bool]:
    """(exact, contains): equal after plain() and case-folding, or one contains the other."""
    a, b = plain(found).casefold().strip(" ."), plain(gold).casefold().strip(" .")
    return a == b, bool(a) and (a in b or b in a)


# ---------------------------------------------------------------------------------------------
# Glued words


@cache
def word_list() -> frozenset[str]:
    """English words: the unigram list of the `wordsegment` package (333k words, Apache-2.0).

    A dev/test-only dependency ([project.optional-dependencies] test): scoring needs it,
    the product does not.
    """
    text = (resources.files("wordsegment") / "unigrams.txt").read_text(encoding="utf-8")
    return frozenset(line.split("\t", 1)[0] for line in text.splitlines() if line)


def glued_words(text: str, words: frozenset[str], min_letters: int = 25) -> list[str]:
    """Letter runs of at least `min_letters` that are no word but split into two or more.

    A run is a maximal sequence of letters (digits and punctuation end it). It is glued when
    the run, lower-cased, is not in `words` and can be cut into words of `words` of at least
    two letters ("a" and "i" excepted): "preventionofDVTaftertraumawereidentifiedusing".
    """
    out = []
    for m in re.finditer(r"[^\W\d_]+", text):
        run = m.group().lower()
        if len(run) >= min_letters and run not in words and _splits(run, words):
            out.append(m.group())
    return out


def _splits(run: str, words: frozenset[str]) -> bool:
    reach = [False] * (len(run) + 1)  # reach[i]: run[:i] is a sequence of words
    reach[0] = True
    for end in range(1, len(run) + 1):
        for start in range(max(0, end - 30), end):
            piece = run[start:end]
            if reach[start] and piece in words and (len(piece) >= 2 or piece in "ai"):
                reach[end] = True
                break
    return reach[-1]


# ---------------------------------------------------------------------------------------------
# Line numbers


# A bare number after a space that follows no digit (or glued to a hyphenated word's first
# half), before a space. Reference-list numbers ("9008 5 Natesh") and runs of table cells
# ("2 3 4 5") follow a digit, so they are not candidates.
_NUMBER_TOKEN = re.compile(r"(?:(?<=[^\d\s]\s)|(?<=[^\W\d_]-))(\d{1,4})(?=\s|$)")
# Words after which a number is a reference, not a line number ("Figure 3 ... Figure 4").
_LABELS = frozenset(
    "figure figures fig figs table tables section sections sect eq eqs equation equations step "
    "steps phase phases chapter appendix panel panels scheme box experiment experiments group "
    "groups model models day days week weeks month months year years lane lanes file files "
    "n p page pages version release".split()
)


def line_number_leftovers(text: str, *, window: int = 400, min_run: int = 6) -> list[int]:
    """Offsets of numbers that look like manuscript line numbers left inside the text.

    A candidate is a bare number of 1-4 digits between spaces, not after another number or a
    label word such as "Figure", or glued after a hyphen ("rank-112 sum"). Candidates are
    line numbers when at least `min_run` of them count up by one to three, each within
    `window` characters of the previous: "many 24 studies ... guided 25 movements ...
    value, 27 also ...". Shorter runs occur in prose ("for 2 h ... within 3 days") and in
    numbered table rows.
    """
    cands = [
        (m.start(1), int(m.group(1)))
        for m in _NUMBER_TOKEN.finditer(text)
        if _previous_word(text, m.start(1)) not in _LABELS
    ]
    flagged: set[int] = set()
    for i, (pos, value) in enumerate(cands):
        run = [pos]
        last_pos, last_value = pos, value
        for nxt_pos, nxt_value in cands[i + 1 :]:
            if nxt_pos - last_pos > window:
                break
            if 1 <= nxt_value - last_value <= 3:
                run.append(nxt_pos)
                last_pos, last_value = nxt_pos, nxt_value
        if len(run) >= min_run:
            flagged.update(run)
    return sorted(flagged)


def _previous_word(text: str, pos: int) -> str:
    m = re.search(r"([^\W\d_]+)\.?\s*$", text[max(0, pos - 30) : pos])
    return m.group(1).lower() if m else ""


# ---------------------------------------------------------------------------------------------
# Running heads and page furniture


def furniture_patterns(raw_pages: Sequence[str], *, min_letters: int = 4) -> list[re.Pattern[str]]:
    """Lines repeated across pages of a raw extraction, as patterns that ignore spacing.

    A line is furniture when it appears (digits ignored) on at least 30 % of the pages and on
    two or more, and has at least `min_letters` letters. The pattern matches the line with any
    digits in place of its digits and any spacing (or none) between its characters' runs,
    so "Page 3 of 10" matches "Page7of10" as well.
    """
    counts: Counter[str] = Counter()
    for page in raw_pages:
        keys = {_furniture_key(line) for line in page.split("\n")}
        counts.update(k for k in keys if sum(ch.isalpha() for ch in k) >= min_letters)
    needed = max(2, 0.3 * len(raw_pages))
    return [_furniture_regex(k) for k, n in sorted(counts.items()) if n >= needed]


def _furniture_key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(plain(line).split()))


def _furniture_regex(key: str) -> re.Pattern[str]:
    tokens = [t for t in re.split(r"(#|\s+)", key) if t and not t.isspace()]
    return re.compile(r"\s*".join(r"\d+" if t == "#" else re.escape(t) for t in tokens))


# ---------------------------------------------------------------------------------------------
# Symbols


# PostScript glyph names that leak into text when a font has no Unicode map ("/Sigma1h").
_GLYPH_NAMES = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
    "sigma tau upsilon phi chi psi omega plusminus degree multiply minus similar"
).split()
_SYMBOL_RULES: dict[str, re.Pattern[str]] = {
    "control or private-use character": re.compile(
        r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff\ufffd]"
    ),
    "unmapped glyph (cid:N)": re.compile(r"\(cid:\d+\)"),
    "split plus-minus (+−)": re.compile(r"\d\s*\+\s*[-−–]\s*\d"),
    "flat exponent (x 10-11)": re.compile(r"[x×]\s?10\s?[-−–]\s?\d"),
    "bullet as degree (◦C)": re.compile(r"◦"),
    "detached accent ( ̊A)": re.compile(r"(?:^|\s)[\u0300-\u036f\u02d8-\u02dd\u00b4\u00a8]"),
    "glyph name (/Sigma)": re.compile(
        r"/(?:" + "|".join(f"[{n[0].upper()}{n[0]}]{n[1:]}" for n in _GLYPH_NAMES) + r")(?![a-z])"
    ),
    "mojibake (Ã, â€)": re.compile(r"Ã.|Â[^\w]|â€|ï¬"),
    "math-font letter (Œ)": re.compile(r"[ŒœŁł](?=\w)"),
}


def bad_symbols(text: str) -> Counter[str]:
    """Counts of suspicious symbol shapes, by rule name (docs/pdfs.md, "Leftovers")."""
    counts: Counter[str] = Counter()
    for name, rule in _SYMBOL_RULES.items():
        n = len(rule.findall(text))
        if n:
            counts[name] = n
    return counts


# ---------------------------------------------------------------------------------------------
# Splices: non-body material inside a body sentence

_CAPTION = re.compile(
    r"(?:^|(?<=\s))(?:Figure|Fig\.|Table|Scheme)\s+S?\d+[A-Za-z]?"
    r"(?:\s*[:.|]\s*|\s+)(?=[A-Z][a-z])"
)
_SPLICE_RULES: dict[str, re.Pattern[str]] = {
    "e-mail": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "licence or copyright": re.compile(
        r"©|\bcopyright\b|licen[cs]ed under|creative commons|\blicensee\b|open access article"
        r"|distributed under the terms",
        re.I,
    ),
    "doi": re.compile(r"\bdoi:?\s*10\.\d{4,}|\b10\.\d{4,9}/\S+", re.I),
    "front matter": re.compile(
        r"\b(?:Key ?words|Abbreviations|Correspondence|E-?mail|Phone|Fax|Tel)\s*:"
        r"|\b(?:Received|Accepted|Published)(?: online)?:?\s+\d{1,2}\s+[A-Z][a-z]+\s+\d{4}"
        r"|\b(?:equal contribution|contributed equally|to whom correspondence)\b",
        re.I,
    ),
    "reference entry": re.compile(
        # Vancouver "Kudsk KA, Fabian TC, Baum S", APA "Bolam, J.P., Hanley, J.J.",
        # "2001, 119:1-9" / "2001;119(2):1-9", ACL "2019. Title. In NAACL".
        r"\b[A-Z][a-z]+ [A-Z]{1,3}(?:, [A-Z][a-z]+(?:-[A-Z][a-z]+)? [A-Z]{1,3}){2,}\b"
        r"|\b[A-Z][a-z]+, (?:[A-Z]\.\s?){1,3}, [A-Z][a-z]+, (?:[A-Z]\.\s?){1,3}"
        r"|\b(?:19|20)\d\d[,;]\s?\d{1,4}(?:\(\w+\))?:\s?[A-Z]?\d+[-–][A-Z]?\d+"
        r"|\b(?:19|20)\d\d[a-z]?\. [A-Z][^.]{10,200}\. In (?:Proceedings|[A-Z]{2,})"
    ),
}


def splice_kinds(sentence: str) -> list[str]:
    """Which kinds of non-body material a body sentence carries (empty: none found)."""
    kinds = [name for name, rule in _SPLICE_RULES.items() if rule.search(sentence)]
    for m in _CAPTION.finditer(sentence):
        if _previous_word(sentence, m.start()) not in _CAPTION_LEADS:
            kinds.append("caption")
            break
    return kinds


# "as shown in Figure 2 Panel..." is a reference to a figure, not its caption.
_CAPTION_LEADS = frozenset(
    "in see of and from to as with by also under on than that the are is both see shown "
    "listed given summarised summarized presented reported depicted described cf".split()
)


def count_furniture(text: str, patterns: Iterable[re.Pattern[str]]) -> int:
    """Occurrences of page-furniture patterns in a text."""
    return sum(len(p.findall(text)) for p in patterns)
