"""Reference body sentences of the PDF set, from other tools' text of the same articles.

GROBID TEI (abstract and body paragraphs), eLife JATS (abstract and body paragraphs) and,
only when the user points at it, CERMINE's content XML (body paragraphs; AGPL, never
vendored). These are those tools' outputs, not gold transcriptions: a sentence they get
wrong counts against the pipeline too, so the rates are a floor, not a truth.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from eval.bench.pdf_scoring import word_list
from index.sentences import split_sentences

__all__ = ["MIN_WORDS", "reference_sentences"]

MIN_WORDS = 5  # shorter pieces ("such as:") say nothing about extraction quality
_TEI = "{http://www.tei-c.org/ns/1.0}"
_CITATION = "\x00"  # stands in for a GROBID <ref> until its sentence is dropped
# Where GROBID removed a citation it leaves "applications ." or "(Tu et al., 2017;)".
_DROPPED_CITATION = re.compile(r"\s[.,;:)]|\(\s*[;)]|;\)")


def reference_sentences(stem: str, vendored: Path, extra: Path | None) -> tuple[list[str], str]:
    """Sentences for one PDF and the name of their source ("" when there is none)."""
    tei = vendored / f"{stem}.grobid.tei.xml"
    jats = vendored / f"{stem}.jats.xml"
    cermine = extra / f"{stem}.cermine-content.xml" if extra else None
    if tei.is_file():
        return [x for x in _sentences(_tei_paragraphs(tei)) if _grobid_clean(x)], "GROBID TEI"
    if jats.is_file():
        return _sentences(_jats_paragraphs(jats, ("abstract", "body"))), "eLife JATS"
    if cermine is not None and cermine.is_file():
        return _sentences(_jats_paragraphs(cermine, ("body",))), "CERMINE (--reference-dir)"
    return [], ""


def _text(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _tei_paragraphs(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    out: list[str] = []
    for part in ("abstract", "body"):
        for container in root.iter(f"{_TEI}{part}"):
            # Paragraphs of the running text; footnotes (<note>) and figures hold their own.
            skip = {
                id(p)
                for tag in ("note", "figure")
                for el in container.iter(f"{_TEI}{tag}")
                for p in el.iter(f"{_TEI}p")
            }
            for p in container.iter(f"{_TEI}p"):
                if id(p) not in skip:
                    for ref in p.iter(f"{_TEI}ref"):
                        ref.text = _CITATION + (ref.text or "")
                    out.append(_text(p))
    return out


def _grobid_clean(sentence: str) -> bool:
    """Whether GROBID's sentence is free of its known artefacts, so a miss is ours.

    Dropped: sentences with a citation (GROBID loses characters in and around citation
    groups: "(Radford et al., 2018;Devlin et al., 2019;." for three citations), with a
    citation removed ("applications ."), and with a line-end hyphen kept inside a word
    ("cita-tions", "Trans-formERs") or a space lost after one ("token-and sentence-level").
    """
    if _CITATION in sentence or _DROPPED_CITATION.search(sentence):
        return False
    words = word_list()
    for left, right in re.findall(r"([^\W\d_]+)-([^\W\d_]+)", sentence):
        if (left + right).lower() in words or right in {"and", "or", "to", "of", "in", "for"}:
            return False
    return True


def _jats_paragraphs(path: Path, parts: tuple[str, ...]) -> list[str]:
    root = ET.parse(path).getroot()
    out: list[str] = []
    for part in parts:
        for container in root.iter(part):
            skip = {
                id(p)
                for tag in ("fig", "table-wrap", "boxed-text", "fn")
                for el in container.iter(tag)
                for p in el.iter("p")
            }
            out += [_text(p) for p in container.iter("p") if id(p) not in skip]
    return out


def _sentences(paragraphs: list[str]) -> list[str]:
    out = []
    for para in paragraphs:
        for s in split_sentences(para):
            if len(re.findall(r"\w+", s.text)) >= MIN_WORDS:
                out.append(s.text)
    return out
