"""HTML of the Documents screen: the table of indexed documents and an upload's report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from index.models import DocumentInfo, FileResult
from rag.cite import doi_url, reference
from ui.render.common import count_of, esc

__all__ = ["documents_html", "report_html"]


def documents_html(docs: Sequence[DocumentInfo]) -> str:
    if not docs:
        return (
            '<p class="pt-empty">No documents indexed yet. Upload PDF, text, Markdown or '
            "HTML files below.</p>"
        )
    rows = "".join(
        f'<tr data-doc-id="{esc(d.doc_id)}"><td class="pt-doc-title">{esc(d.title)}'
        f"{_bibliographic(d)}"
        f'<div class="pt-file">{esc(d.doc_id)}{_copy_of(d)}</div></td>'
        f'<td class="pt-num">{d.pages}</td>'
        f'<td class="pt-num">{d.chunks}</td><td class="pt-added">{esc(_date(d.ingested_at))}</td>'
        "</tr>"
        for d in docs
    )
    count = f"{count_of(len(docs), 'document')} indexed"
    return (
        f'<p class="pt-doc-count">{count}</p><div class="pt-docs-box"><table class="pt-docs">'
        "<thead><tr><th>Document</th><th>Pages</th><th>Chunks</th><th>Added</th></tr>"
        f"</thead><tbody>{rows}</tbody></table></div>"
    )


def _bibliographic(d: DocumentInfo) -> str:
    """Who, when and where it was published, its DOI and collections, as a reader cites it."""
    m = d.metadata
    bits = []
    if m is not None and (m.creators or m.year or m.venue):
        bits.append(esc(reference(m, fallback_title=d.title, markdown=False)))
    if m is not None and m.doi:
        url = esc(doi_url(m.doi))
        bits.append(f'<a href="{url}" target="_blank" rel="noopener">doi:{esc(m.doi)}</a>')
    if d.collections:
        bits.append("in " + esc(", ".join(d.collections)))
    return f'<div class="pt-doc-meta">{" · ".join(bits)}</div>' if bits else ""


def _copy_of(d: DocumentInfo) -> str:
    """The duplicate marker: answers cite one copy of the same text."""
    return f" · duplicate of {esc(d.duplicate_of)}" if d.duplicate_of else ""


def _date(iso: str) -> str:
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    zone = when.tzname() or ""
    return when.strftime("%Y-%m-%d %H:%M") + (f" {zone}" if zone else "")


_STATUS = {
    "indexed": "indexed",
    "replaced": "replaced the earlier version",
    "unchanged": "unchanged, already indexed",
    "reread": "read again: PaperTrail reads this kind of file better since it was indexed",
}


def report_html(files: Sequence[FileResult]) -> str:
    """Per-file outcome of an upload; paths are shown by file name, not temp location."""
    items = []
    for f in files:
        name = Path(f.path).name
        if f.status == "failed":
            error = (f.error or "could not be indexed").replace(f.path, name)
            if name not in error:
                error = f"{name}: {error}"
            items.append(f'<li class="pt-fail"><strong>Failed</strong> {esc(error)}</li>')
            continue
        chunks = f", {count_of(f.chunks, 'passage')}" if f.chunks else ""
        items.append(
            f'<li class="pt-ok"><strong>{esc(name)}</strong>: {_STATUS[f.status]}{chunks}</li>'
        )
        for w in f.warnings:
            lost = "; that page cannot be searched or cited" if w.page is not None else ""
            note = f"{esc(name)}: {esc(w.message)}{lost}"
            items.append(f'<li class="pt-warn"><strong>Note</strong> {note}.</li>')
    ok = sum(f.status != "failed" for f in files)
    failed = len(files) - ok
    parts = [f"{count_of(ok, 'file')} ready to search"] if ok else []
    if failed:
        parts.append(f"{failed} failed" if ok else f"{count_of(failed, 'file')} failed")
    summary = ", ".join(parts) or "No files"
    return f'<div class="pt-report" role="status"><p>{summary}.</p><ul>{"".join(items)}</ul></div>'
