"""An answer's sentences judged by rag.verify: faithfulness and ALCE-style citation scores.

Both PaperTrail modes are judged the same way, from the final answer: its [n] markers name
its citations, and each citation's passage is what the sentence is checked against. ALCE
(Gao et al., 2023) asks an NLI model whether the cited passages entail a sentence; here the
verifier is the judge, so these scores measure agreement with it, not with people.
"""

from __future__ import annotations

from collections.abc import Sequence

from eval.models import ClaimCheck
from index.models import Answer, Passage
from rag.engine import Engine
from rag.verify import Verifier, strip_markers

__all__ = ["check_answer"]


def check_answer(engine: Engine, answer: Answer) -> list[ClaimCheck] | None:
    """Each sentence's verdict and, per citation, whether it is precise; None when the
    answer's citations do not name its passages (nothing to judge against)."""
    if answer.abstained:
        return []
    by_chunk = {p.chunk_id: p for p in answer.passages}
    ordered = sorted(answer.citations, key=lambda c: c.n)
    if [c.n for c in ordered] != list(range(1, len(ordered) + 1)):
        return None
    if any(c.chunk_id not in by_chunk for c in ordered):
        return None
    cited = [by_chunk[c.chunk_id] for c in ordered]
    verifier = engine.verifier
    out = []
    for claim in verifier.claims(answer.answer, cited):
        whole = claim.verdict == "supported"
        bare = strip_markers(claim.text)
        precise = []
        for n in claim.cites:
            rest = [m for m in claim.cites if m != n]
            alone = _supported(verifier, bare, [n], cited)
            precise.append(
                alone or (whole and not (rest and _supported(verifier, bare, rest, cited)))
            )
        out.append(ClaimCheck(text=bare, verdict=claim.verdict, precise=precise))
    return out


def _supported(
    verifier: Verifier, bare: str, cites: list[int], passages: Sequence[Passage]
) -> bool:
    text = bare + " " + "".join(f"[{n}]" for n in cites)
    return verifier.claim(text, 0, len(text), passages).verdict == "supported"
