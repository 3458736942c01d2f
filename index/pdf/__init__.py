"""Reading PDFs: the text layer, the layout it makes, and a page as the reader sees it.

- lines: characters with boxes -> printed lines (word spaces, scripts, accents);
- text_layer: PDFium's characters of a page;
- ocr: Tesseract's words of a scanned page -> the same characters and lines;
- layout: lines -> labelled blocks (headings, captions, running heads, page labels);
- reader: a file -> its pages' blocks and title;
- view: a page rendered, and a quote's boxes on it.
"""

from index.pdf.layout import Block, LayoutPage
from index.pdf.ocr import OcrEngine, OcrUnavailable
from index.pdf.reader import read_layout
from index.pdf.view import quote_boxes, render_page

__all__ = [
    "Block",
    "LayoutPage",
    "OcrEngine",
    "OcrUnavailable",
    "quote_boxes",
    "read_layout",
    "render_page",
]
