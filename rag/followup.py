"""Follow-up questions without an LLM: what to search, and what not to say again.

A question is searched as asked unless it leans on the conversation: an ellipsis ("What
about the ethical ones?", "And in children?", "Why?"), a pronoun or demonstrative with
nothing before it in the question to point to ("What are their sources?"), or a fragment
with almost no words of its own ("Side effects?"). Only then is it searched together with
the previous turn's topic words (its content words, not the whole question), and its
answer leaves out the sentences the previous answer already quoted. A question that names
its own topic ("Where are MSCs obtained from?") is left alone, so it gets the answer it
would get asked first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.keyword import terms
from rag.answer import states_quantity

__all__ = ["Turn", "already_said", "is_follow_up", "quoted", "standalone", "topic_words"]

Turn = tuple[str, str]  # (question, answer) of an earlier exchange

# Opens by leaning on the last turn: "What about ...", "And ...", "Why?", "What else?".
_ELLIPSIS = re.compile(
    r"^\W*(?:(?:(?:what|how) about|and|also|but|or|as for|same for|what else|anything else)\b|"
    r"(?:why|how|how so|really|such as|for example|which ones?|tell me more|more|"
    r"in what way|any others?|what for)\W*$)",
    re.I,
)
# Words standing for something said before.
_PRONOUN = re.compile(
    r"\b(?:it|its|they|them|their|theirs|he|she|his|her|him|this|these|those|such(?! as)|"
    r"ones|other(?! than)|another|the others?|the rest|the same|the former|the latter|"
    r"(?:the|which|that|this) (?:\w+ )?one(?! of)|(?:is|was|does|did|why|how) that|"
    r"that(?=\s*(?:[?.!,;]|$|(?:is|was|does|do|mean|means|work|works|happen)\b)))\b",
    re.I,
)
# A pronoun after a clause boundary with a content word before it refers within the
# question: "What are MSCs and how are they obtained?".
_BOUNDARY = re.compile(r"[,;:]|\b(?:and|or|but|while|whereas|because|so|if|when)\b", re.I)
_OPENS_QUESTION = re.compile(
    r"^\W*(?:what|which|who|whom|whose|why|how|when|where|is|are|was|were|do|does|did|can|"
    r"could|should|would|will|has|have|had|may|might|list|name|describe|explain|give|"
    r"tell|summari[sz]e|compare)\b",
    re.I,
)
_OPENER = re.compile(r"^\W*(?:(?:what|how) about|as for)\s+", re.I)
_FILLER = re.compile(r"\b(?:ones|else)\b", re.I)
_HOW_MUCH = re.compile(
    r"\bhow (?:much|many|long|often|large|big|high)\b|\b(?:percentage|proportion)\b", re.I
)
_WORD = re.compile(r"(?u)\b\w[\w-]*\w\b|\b\w\b")
_SUBSTITUTES = frozenset(terms("ones one other others rest same former latter else about"))
_FRAGMENT_TERMS = 2  # a fragment ("Side effects?") with at most this many terms leans back


def standalone(question: str, history: Sequence[Turn]) -> str:
    """What to search for `question` asked after `history` (oldest first): the question
    itself, or, for a follow-up, the question followed by the last turn's topic words."""
    if not history or not is_follow_up(question):
        return question
    previous = standalone(history[-1][0], history[:-1])  # a chain of follow-ups keeps its topic
    own = set(terms(question))
    carried = [w for w in topic_words(previous) if not own.intersection(terms(w))]
    # "about" and "ones" would be searched as words; the topic stands in for them.
    asked = " ".join(_FILLER.sub(" ", _OPENER.sub("", question)).split())
    asked = re.sub(r"\s+(?=[?.!,;])", "", asked) or question
    return f"{asked} {' '.join(carried)}" if carried else question


def already_said(question: str, history: Sequence[Turn]) -> list[str]:
    """The sentences the last answer quoted that the follow-up `question` does not ask about
    again: those holding none of its own new terms ("And anxiety?" may quote again the
    sentence giving both the depression and the anxiety figures), nor, when it asks "how
    much?", a sentence stating a number."""
    if not history:
        return []
    previous = set(terms(standalone(history[-1][0], history[:-1])))
    new = {t for t in terms(question) if t not in previous and t not in _SUBSTITUTES}
    figure = _HOW_MUCH.search(question) is not None
    return [
        s
        for s in quoted(history[-1][1])
        if not new.intersection(terms(s)) and not (figure and states_quantity(s))
    ]


def is_follow_up(question: str) -> bool:
    """Whether `question` cannot be searched alone (see the module docstring)."""
    if _ELLIPSIS.search(question):
        return True
    own = [t for t in terms(question) if t not in _SUBSTITUTES]
    if not own:
        return True
    if not _OPENS_QUESTION.search(question) and len(own) <= _FRAGMENT_TERMS:
        return True
    return any(_dangling(question, m) for m in _PRONOUN.finditer(question))


def _dangling(question: str, pronoun: re.Match[str]) -> bool:
    """No content word before the pronoun, across a clause boundary, for it to refer to."""
    before = question[: pronoun.start()]
    boundaries = list(_BOUNDARY.finditer(before))
    if not boundaries:
        return True
    return not terms(before[: boundaries[-1].start()])


def topic_words(query: str) -> list[str]:
    """The query's content words as written (stopwords and question words left out), once each."""
    seen: set[str] = set()
    out = []
    for word in _WORD.findall(query):
        stems = terms(word)
        if not stems or stems[0] in _SUBSTITUTES or stems[0] in seen:
            continue
        seen.add(stems[0])
        out.append(word)
    return out


def quoted(answer: str) -> list[str]:
    """The sentences an extractive answer quoted ("<sentence> [1] <sentence> [2]"); the
    markers run 1, 2, ... so a reference inside a sentence ("[4, 5]", "[12]") is not one."""
    out, start, n = [], 0, 1
    while (end := answer.find(f" [{n}]", start)) >= 0:
        out.append(answer[start:end].strip())
        start, n = end + len(f" [{n}]"), n + 1
    return [s for s in out if s]
