"""The Documents screen: the indexed documents, upload, and two-step removal.

`DocumentHandlers` writes through `rag.Engine`, one write at a time; `documents_tab` lays
the screen out and wires its events. The HTML comes from ui.render.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from index.models import FileResult
from rag import Engine, PaperTrailError
from ui import render
from ui.widgets import gradio, html_block

__all__ = ["OCR_CHOICES", "UPLOAD_TYPES", "DocumentHandlers", "documents_tab"]

UPLOAD_TYPES = [".pdf", ".txt", ".md", ".markdown", ".html", ".htm"]
OCR_CHOICES = ("auto", "always", "never")


class DocumentHandlers:
    """Event handlers of the Documents screen; one instance per app, shared by all sessions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writes = engine.writes  # shared with the API and MCP: one write at a time

    def documents(self) -> tuple[str, Any]:
        """The document table and the removal dropdown's choices (or why they are missing)."""
        gr = gradio()
        try:
            docs = self.engine.documents()
        except PaperTrailError as exc:  # e.g. the Chroma server is down: say so, plainly
            return render.notice_html(_sentence(exc)), gr.Dropdown(choices=[], value=None)
        choices = [(f"{d.title} ({d.doc_id})", d.doc_id) for d in docs]
        return render.documents_html(docs), gr.Dropdown(choices=choices, value=None)

    def upload(
        self,
        files: Sequence[str] | None,
        ocr: str | None = None,
        progress: Callable[..., object] | None = None,
    ) -> tuple[str, str, Any, None]:
        """Index uploaded files; each file's outcome is listed, a bad file fails alone.

        `ocr` (auto, always, never; None: the settings') says which PDF pages are OCR'd."""
        if ocr not in (None, *OCR_CHOICES):
            return (render.notice_html(f"OCR must be one of {', '.join(OCR_CHOICES)}."),
                    *self.documents(), None)  # fmt: skip
        refused: list[FileResult] = []
        paths = []
        for f in files or []:
            # Gradio's temporary copy goes either way: kept files live in the index folder.
            try:
                paths.append(self._keep(Path(f)))
            except PaperTrailError as exc:
                refused.append(FileResult(path=Path(f).name, status="failed", error=str(exc)))
            finally:
                Path(f).unlink(missing_ok=True)
        if not paths and not refused:
            return (
                render.notice_html("Choose one or more files first.", "info"),
                *self.documents(),
                None,
            )
        if not paths:
            return (render.report_html(refused), *self.documents(), None)

        files = render.count_of(len(paths), "file")

        def on_progress(done: int, total: int) -> None:
            if progress is not None:
                progress((done, total), desc=f"Embedding the passages of {files}", unit="passages")

        def on_ocr_page(path: Path, done: int, total: int) -> None:
            if progress is not None:
                progress(
                    (done, total), desc=f"OCR {path.name}: page {done} of {total}", unit="pages"
                )

        if progress is not None:
            progress(0, desc=f"Reading {files}")
        try:
            with self._writes:
                report = self.engine.ingest(
                    paths,
                    on_progress=on_progress,
                    ocr_mode=ocr,  # type: ignore[arg-type]
                    on_ocr_page=on_ocr_page,
                )
        except PaperTrailError as exc:
            for path in paths:
                Path(path).unlink(missing_ok=True)
            return (render.notice_html(_sentence(exc)), *self.documents(), None)
        for result in report.failed:
            Path(result.path).unlink(missing_ok=True)
        return (render.report_html(refused + report.files), *self.documents(), None)

    def _keep(self, upload: Path) -> str:
        """Copy an upload out of Gradio's temporary folder, so citations keep a real source."""
        limit = self.engine.settings.max_file_mb
        if upload.stat().st_size > limit * 1_000_000:  # Gradio's max_file_size stops most
            raise PaperTrailError(
                f"{upload.name}: file is {upload.stat().st_size / 1e6:.3g} MB; "
                f"the limit is {limit:g} MB"
            )
        kept = self.engine.settings.index_dir / "uploads" / upload.name
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(upload, kept)
        return str(kept)

    def ask_remove(self, doc_id: str | None) -> tuple[Any, str, str]:
        """First step of removal: show what will be removed and ask to confirm."""
        gr = gradio()
        try:
            info = next((d for d in self.engine.documents() if d.doc_id == doc_id), None)
        except PaperTrailError as exc:
            return gr.Column(visible=False), "", render.notice_html(_sentence(exc))
        if info is None:
            return gr.Column(visible=False), "", render.notice_html("Choose a document to remove.")
        question = (
            f"Remove “{render.esc(info.title)}” ({render.esc(info.doc_id)}) and its "
            f"{render.count_of(info.chunks, 'passage')} from the index? "
            "It will no longer be searched or cited."
        )
        return gr.Column(visible=True), f'<p class="pt-confirm-text">{question}</p>', ""

    def confirm_remove(self, doc_id: str | None) -> tuple[Any, str, str, Any]:
        """Second step of removal; the document and its passages leave the index."""
        gr = gradio()
        try:
            titles = {d.doc_id: d.title for d in self.engine.documents()}
            with self._writes:
                removed = bool(doc_id) and self.engine.remove(str(doc_id))
        except PaperTrailError as exc:
            return gr.Column(visible=False), render.notice_html(_sentence(exc)), *self.documents()
        message = (
            render.notice_html(f"Removed “{titles.get(str(doc_id), doc_id)}” ({doc_id}).", "info")
            if removed
            else render.notice_html(f"No document {doc_id!r} to remove; it may already be gone.")
        )
        return gr.Column(visible=False), message, *self.documents()

    def details(self, doc_id: str | None) -> tuple[str, str, str, str, str]:
        """The correction form filled with a document's fields (title, authors, year, venue,
        DOI) as they are now."""
        info = next((d for d in self.engine.documents() if d.doc_id == doc_id), None)
        m = info.metadata if info else None
        if info is None:
            return "", "", "", "", ""
        authors = "; ".join(
            ", ".join(x for x in (c.family, c.given) if x) if c.family else (c.name or "")
            for c in (m.creators if m else [])
        )
        return (
            (m.title if m and m.title else info.title),
            authors,
            str(m.year) if m and m.year else "",
            (m.venue or "") if m else "",
            (m.doi or "") if m else "",
        )

    def correct(
        self, doc_id: str | None, title: str, authors: str, year: str, venue: str, doi: str
    ) -> tuple[str, str, Any]:
        """Save the fields the user changed as theirs (no re-indexing); a bad value is one
        line naming the field."""
        from index.names import creator_from_name

        if not doc_id:
            return render.notice_html("Choose a document to correct."), *self.documents()
        now = dict(
            zip(("title", "authors", "year", "venue", "doi"), self.details(doc_id), strict=True)
        )
        given = {"title": title, "authors": authors, "year": year, "venue": venue, "doi": doi}
        fields: dict[str, object] = {}
        for name, value in given.items():
            value = (value or "").strip()
            if value == now[name]:
                continue
            if name == "authors":
                fields["creators"] = [
                    creator_from_name(a.strip()) for a in value.split(";") if a.strip()
                ]
            elif name == "year":
                if value and not value.isdigit():
                    return render.notice_html(
                        f"Year must be a number, not “{value}”."
                    ), *self.documents()
                fields["year"] = int(value) if value else None
            else:
                fields[name] = value or None
        if not fields:
            return render.notice_html("Nothing was changed.", "info"), *self.documents()
        try:
            with self._writes:
                self.engine.set_metadata(doc_id, **fields)
        except PaperTrailError as exc:
            return render.notice_html(_sentence(exc)), *self.documents()
        changed = ", ".join("authors" if f == "creators" else f for f in fields)
        return render.notice_html(f"Saved {changed} for {doc_id}.", "info"), *self.documents()

    def cancel_remove(self) -> tuple[Any, str]:
        return gradio().Column(visible=False), render.notice_html("Nothing was removed.", "info")


def _choices(h: DocumentHandlers) -> list[tuple[str, str]]:
    try:
        return [(f"{d.title} ({d.doc_id})", d.doc_id) for d in h.engine.documents()]
    except PaperTrailError:
        return []


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def documents_tab(h: DocumentHandlers) -> list[Any]:
    """The document list, upload and removal; returns the outputs a refresh updates."""
    gr = gradio()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            upload = gr.File(
                label="Add documents (PDF, text, Markdown, HTML)",
                file_count="multiple",
                file_types=UPLOAD_TYPES,
                elem_id="pt-upload",
                height=140,
            )
            ocr_choice = gr.Radio(
                list(OCR_CHOICES),
                value=h.engine.settings.ocr.mode,
                label="OCR for PDF pages",
                info="auto: only scanned pages (no usable text); always: every page; "
                "never: the text layer only",
                elem_id="pt-ocr-mode",
            )
            upload_report = html_block("", "pt-upload-report")
        with gr.Column(scale=2):
            to_remove = gr.Dropdown(
                choices=[], label="Remove a document", elem_id="pt-remove-choice"
            )
            remove = gr.Button("Remove…", size="sm", elem_id="pt-remove")
            with gr.Column(visible=False, elem_id="pt-confirm", variant="panel") as confirm_box:
                confirm_text = html_block("")
                with gr.Row():
                    confirm = gr.Button(
                        "Yes, remove", variant="stop", size="sm", elem_id="pt-confirm-yes"
                    )
                    cancel = gr.Button("Cancel", size="sm", elem_id="pt-confirm-cancel")
            remove_notice = html_block("", "pt-remove-notice")
            with gr.Accordion("Correct a document's details", open=False, elem_id="pt-meta"):
                to_fix = gr.Dropdown(
                    choices=[], label="Document", elem_id="pt-meta-choice", allow_custom_value=True
                )  # filled when opened; a name no longer indexed is refused on save
                fix_title = gr.Textbox(label="Title", elem_id="pt-meta-title")
                fix_authors = gr.Textbox(
                    label="Authors", placeholder="Family, Given; Family, Given",
                    elem_id="pt-meta-authors",
                )  # fmt: skip
                with gr.Row():
                    fix_year = gr.Textbox(label="Year", elem_id="pt-meta-year", scale=1)
                    fix_doi = gr.Textbox(label="DOI", elem_id="pt-meta-doi", scale=3)
                fix_venue = gr.Textbox(label="Journal or proceedings", elem_id="pt-meta-venue")
                save_fix = gr.Button("Save details", size="sm", elem_id="pt-meta-save")
                fix_notice = html_block("", "pt-meta-notice")
    documents = html_block(render.documents_html([]), "pt-documents")

    refreshed = [documents, to_remove]
    fix_fields = [fix_title, fix_authors, fix_year, fix_venue, fix_doi]
    tracker = gr.Progress()

    def upload_files(
        files: list[str] | None, ocr: str | None, progress: Any = tracker
    ) -> tuple[Any, ...]:
        return h.upload(files, ocr, progress)

    upload.upload(
        upload_files,
        [upload, ocr_choice],
        [upload_report, *refreshed, upload],
        api_name="upload",
        show_progress_on=upload,
    )
    remove.click(
        h.ask_remove, to_remove, [confirm_box, confirm_text, remove_notice], api_name="ask_remove"
    )
    confirm.click(
        h.confirm_remove, to_remove, [confirm_box, remove_notice, *refreshed], api_name="remove"
    )
    cancel.click(h.cancel_remove, None, [confirm_box, remove_notice], api_visibility="private")
    # The same documents as the removal list; a correction is saved as the user's own.
    to_fix.focus(lambda: gradio().Dropdown(choices=_choices(h)), None, to_fix,
                 api_visibility="private")  # fmt: skip
    to_fix.input(h.details, to_fix, fix_fields, api_name="document_details")
    save_fix.click(h.correct, [to_fix, *fix_fields], [fix_notice, *refreshed], api_name="correct")
    return refreshed
