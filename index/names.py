"""Personal names as printed or exported -> Creator (family and given), by BibTeX's rules."""

from __future__ import annotations

import re

from bibtexparser.middlewares.names import parse_single_name_into_parts

from index.models import Creator

__all__ = ["creator_from_name"]


def creator_from_name(text: str, role: str = "author") -> Creator:
    """'Daniel S. Weld', 'Weld, Daniel S.', 'Madeleine van Zuylen', '{World Health Org}'.

    bibtexparser splits first/von/last/jr as BibTeX does; a braced name stays literal and an
    all-capitals family name ('DOUGLAS', as some journals print it) is title-cased."""
    text = " ".join(text.split()).strip(" ,;")
    if text.startswith("{") and text.endswith("}"):
        return Creator(name=text[1:-1].strip(), role=role)
    try:
        parts = parse_single_name_into_parts(text, strict=False)
    except Exception:  # an odd brace or comma: keep the name whole rather than lose it
        return Creator(name=text, role=role)
    family = " ".join([*parts.von, *parts.last])
    given = " ".join(parts.first)
    if parts.jr:
        given = f"{given}, {' '.join(parts.jr)}" if given else " ".join(parts.jr)
    return Creator(family=_uncap(family.replace("{", "").replace("}", "")), given=given, role=role)


def _uncap(family: str) -> str:
    if re.fullmatch(r"[A-Z][A-Z'’\- ]+", family):
        return family.title().replace("’S", "’s")
    return family
