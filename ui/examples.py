"""Example questions made from the indexed documents: section headings turned into questions.

Until other documents arrive, the bundled MSC article keeps its hand-written examples.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.models import Document
from index.settings import BUNDLED_CORPUS

__all__ = ["BUNDLED_EXAMPLES", "example_questions"]

BUNDLED_EXAMPLES = (
    "What are the barriers to MSC standardisation?",
    "Where are MSCs obtained from?",
    "How could MSCs help in systemic lupus erythematosus?",
    "What legal and ethical issues affect MSC therapy?",
)
# Headings every paper has: as questions they would not tell one document from another.
_GENERIC = re.compile(
    r"(?i)^(abstract|introduction|background|overview|summary|conclusions?|discussion|results?|"
    r"(materials and )?methods?|methodology|references|bibliography|acknowledge?ments?|funding|"
    r"author(s’|s'|s)? (contributions?|details)|competing interests|conflicts? of interest|"
    r"additional information.*|grant disclosures|supplementary.*|appendix.*|keywords|"
    r"ethics.*|data availability.*|clinical perspectives|setting|analyses and statistics)$"
)


def example_questions(documents: Sequence[Document], n: int = 4) -> list[str]:
    """Up to `n` questions, taken in turn from each document (newest first)."""
    if not documents:
        return []
    if all(d.doc_id == BUNDLED_CORPUS.name for d in documents):
        return list(BUNDLED_EXAMPLES[:n])
    per_doc = [_questions(d) for d in documents]
    out: list[str] = []
    for i in range(max(map(len, per_doc))):
        out += [qs[i] for qs in per_doc if i < len(qs) and qs[i] not in out]
    return out[:n]


def _questions(doc: Document) -> list[str]:
    if doc.doc_id == BUNDLED_CORPUS.name:
        return list(BUNDLED_EXAMPLES)
    name = _short_name(doc.title)
    found = [
        f"What does {name} say about {_topic(s.title)}?"
        if name
        else f"What is said about {_topic(s.title)}?"
        for s in doc.sections
        if not _GENERIC.match(s.title.strip())
        and s.title.strip() != doc.title.strip()
        and 1 <= len(s.title.split()) <= 6
    ]
    words = doc.title.split()
    title = " ".join(words[:8]) + ("…" if len(words) > 8 else "")
    return found or [f"What are the main findings of “{title}”?"]


def _short_name(title: str) -> str:
    """ "SPECTER" from "SPECTER: Document-level …"; nothing when the title has no short name."""
    head = title.split(":", 1)[0].strip()
    return head if head != title.strip() and len(head.split()) <= 3 else ""


def _topic(heading: str) -> str:
    """A heading as words inside a sentence: lower case, unless it is an acronym or a name."""
    words = heading.strip().rstrip(".").split()
    if heading.isupper():
        words = [w.lower() for w in words]
    return " ".join(w if any(c.isupper() for c in w[1:]) else w.lower() for w in words)
