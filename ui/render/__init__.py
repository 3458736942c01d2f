"""HTML for the chat transcript, the sources panel and the document list.

Pure functions over our models, one module per screen. Every piece of text that comes
from a document, a file name or the user goes through `esc`, so nothing inside a document
can run in the page.
"""

from ui.render.common import count_of, esc, notice_html
from ui.render.context import MAX_CONTEXT_CHARS, Exchange, PageContext, page_context
from ui.render.documents import documents_html, report_html
from ui.render.sources import sources_html
from ui.render.transcript import answer_html, transcript_html

__all__ = [
    "MAX_CONTEXT_CHARS",
    "Exchange",
    "PageContext",
    "answer_html",
    "count_of",
    "documents_html",
    "esc",
    "notice_html",
    "page_context",
    "report_html",
    "sources_html",
    "transcript_html",
]
