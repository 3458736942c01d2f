"""A streamed generated answer -> verified claims and the Answer's text and citations.

The LLM's markers name prompt passages ([k] = passages[k-1]). Each sentence, once complete,
is checked by rag.verify; its markers are then renumbered so that every [n] of the final
answer is one Citation quoting the sentence of its passage closest to the claim, exactly as
an extractive citation does (so clicking a marker highlights that quote). With
`unsupported="remove"` an unsupported sentence leaves the text; its claim stays in
`Answer.claims` for whoever checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.keyword import terms
from index.models import Answer, Citation, Claim, Passage
from index.settings import AnswerSettings
from rag.verify import Verifier, markers, split_claims, strip_markers

__all__ = ["ClaimBuilder"]

_MARKER_GROUP = re.compile(r"\s*(?:\[\d+(?:\s*[,;–-]\s*\d+)*\]\s*)+")


class ClaimBuilder:
    """Feed it the generated text as it streams; it returns each sentence once complete."""

    def __init__(
        self, verifier: Verifier, passages: Sequence[Passage], settings: AnswerSettings
    ) -> None:
        self._verifier = verifier
        self._passages = list(passages)
        self._settings = settings
        self._remove = settings.unsupported == "remove"
        self.raw = ""  # what the LLM wrote so far
        self._done = 0  # raw[:_done] is checked
        self.text = ""  # the answer's text: checked sentences, renumbered
        self.claims: list[Claim] = []  # every checked sentence, removed ones too
        self.citations: list[Citation] = []

    @property
    def pending(self) -> str:
        """Generated text not yet checked (the sentence being written)."""
        return self.raw[self._done :].lstrip()

    def feed(self, delta: str) -> list[Claim]:
        """Add streamed text; the claims of the sentences it completed."""
        self.raw += delta
        spans = [(a, b) for a, b in split_claims(self.raw) if b > self._done]
        # The last sentence may still grow (its markers often come after the full stop).
        return self._check(spans[:-1])

    def finish(self) -> list[Claim]:
        """The stream ended: check what is left."""
        return self._check([(a, b) for a, b in split_claims(self.raw) if b > self._done])

    def answer(self, base: Answer) -> Answer:
        """`base` (the extractive answer: question, passages, evidence) as the generated one."""
        return base.model_copy(
            update={
                "answer": self.text,
                "mode": "generative",
                "claims": list(self.claims),
                "citations": list(self.citations),
                "abstained": False,
            }
        )

    def _check(self, spans: Sequence[tuple[int, int]]) -> list[Claim]:
        out = []
        for a, b in spans:
            a = max(a, self._done)
            self._done = b
            if not terms(strip_markers(self.raw[a:b])):
                continue  # a stray marker or a closing quote: nothing a reader could check
            checked = self._verifier.claim(self.raw, a, b, self._passages, settings=self._settings)
            claim = self._place(checked)
            self.claims.append(claim)
            out.append(claim)
        return out

    def _place(self, checked: Claim) -> Claim:
        """The checked claim renumbered into the answer's text (or left out of it)."""
        sentence = " ".join(checked.text.split())
        dropped = self._remove and checked.verdict == "unsupported"
        numbers: dict[int, int] = {}  # passage k -> the answer's citation n
        citations: list[Citation] = []
        if not dropped:
            for k in checked.cites:
                quote = self._quote(checked, k)
                if quote is None:
                    continue
                numbers[k] = len(self.citations) + len(citations) + 1
                citations.append(quote.model_copy(update={"n": numbers[k]}))
        final = _renumber(sentence, numbers)
        shown = set(markers(sentence))
        added = [numbers[k] for k in checked.cites if k in numbers and k not in shown]
        if added:  # attributed by the verifier, not by the writer's markers
            final += " " + "".join(f"[{n}]" for n in added)
        quote = None
        if checked.quote is not None:
            n = numbers.get(checked.quote.n, checked.quote.n)
            quote = checked.quote.model_copy(update={"n": n})
        if dropped:
            start = end = len(self.text)
        else:
            start = len(self.text) + (1 if self.text else 0)
            self.text = f"{self.text} {final}" if self.text else final
            end = len(self.text)
            self.citations += citations
        return checked.model_copy(
            update={
                "text": final,
                "start": start,
                "end": end,
                "cites": [numbers[k] for k in checked.cites if k in numbers],
                "quote": quote,
                "reason": _renumber_reason(checked.reason, numbers),
            }
        )

    def _quote(self, checked: Claim, k: int) -> Citation | None:
        """The sentence of passage k closest to the claim: the verifier's own quote when it
        is from k, else the claim checked against k alone."""
        if checked.quote is not None and checked.quote.n == k:
            return checked.quote
        alone = f"{strip_markers(checked.text)} [{k}]"
        again = self._verifier.claim(alone, 0, len(alone), self._passages, settings=self._settings)
        return again.quote


def _renumber(sentence: str, numbers: dict[int, int]) -> str:
    """Each marker group as the answer's citation numbers; a marker naming no passage goes."""

    def group(match: re.Match[str]) -> str:
        found = [numbers[k] for k in markers(match.group()) if k in numbers]
        space = " " if match.group()[:1].isspace() else ""
        tail = " " if match.group()[-1:].isspace() else ""
        return space + "".join(f"[{n}]" for n in found) + tail if found else tail or space

    text = _MARKER_GROUP.sub(group, sentence)
    return re.sub(r"\s+([.,;:!?])", r"\1", text).strip()


def _renumber_reason(reason: str | None, numbers: dict[int, int]) -> str | None:
    """The verifier's reason ("number 42 not in [2]") in the answer's numbering."""
    if not reason:
        return reason

    def one(match: re.Match[str]) -> str:
        k = int(match.group(1))
        return f"[{numbers[k]}]" if k in numbers else match.group()

    return re.sub(r"\[(\d+)\]", one, reason)
