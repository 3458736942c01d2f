"""Scanned PDF pages read by Tesseract through the same layout as born-digital pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.cleaning import clean
from index.loaders import load_file
from index.pdf import OcrEngine

DATA = Path(__file__).resolve().parent / "data"
SCAN = DATA / "scans" / "specter-p2-scan.pdf"
TURNED = DATA / "scans" / "specter-p2-turned-scan.pdf"
BORN_DIGITAL = DATA / "cold-plasma-wound-healing.pdf"
SENTENCE = "Our goal is to learn task-independent representations of academic papers."


def _words(text: str) -> str:
    return " ".join(text.split())


def test_scanned_page_is_ocrd_and_its_sentences_are_found_with_ocr_marked() -> None:
    doc = clean(load_file(SCAN, ocr=OcrEngine()))
    assert SENTENCE in _words(doc.text)
    page = doc.pages[0]
    assert page.ocr and page.ocr_confidence is not None and page.ocr_confidence > 0.8
    assert page.label == "2271"  # the printed page number, read from the scan
    assert "2 Model" in [s.heading for s in doc.sections]  # bold, by its ink


def test_ocr_never_keeps_the_no_text_warning() -> None:
    from index.errors import LoadError

    with pytest.raises(LoadError, match=r"no extractable text.*run OCR"):
        load_file(SCAN, ocr=OcrEngine(mode="never"))


def test_born_digital_pages_are_not_ocrd_in_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytesseract

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a born-digital page was OCR'd")

    monkeypatch.setattr(pytesseract, "image_to_data", refuse)
    doc = clean(load_file(BORN_DIGITAL, ocr=OcrEngine()))
    assert doc.text and not any(p.ocr for p in doc.pages)


def test_always_ocrs_born_digital_pages_too() -> None:
    doc = clean(load_file(BORN_DIGITAL, ocr=OcrEngine(mode="always", workers=2)))
    assert all(p.ocr for p in doc.pages)
    assert "plasma" in doc.text.lower()


def test_a_page_fed_in_sideways_reads() -> None:
    doc = clean(load_file(TURNED, ocr=OcrEngine()))
    assert "task-independent representations of academic papers" in _words(doc.text)


def test_missing_tesseract_is_one_line_naming_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytesseract

    from index.errors import LoadError

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    with pytest.raises(LoadError) as failure:
        load_file(SCAN, ocr=OcrEngine())
    message = str(failure.value)
    assert "Tesseract is not installed" in message and "apt-get install" in message
    assert "\n" not in message


def test_blank_page_warns_and_the_rest_is_indexed(tmp_path: Path) -> None:
    from PIL import Image
    from pypdf import PdfReader, PdfWriter

    blank = tmp_path / "blank.pdf"
    Image.new("L", (1700, 2200), 250).save(blank, "PDF", resolution=200)
    both = tmp_path / "scan-and-blank.pdf"
    writer = PdfWriter()
    for source in (SCAN, blank):
        writer.append(PdfReader(source))
    writer.write(both)
    raw = load_file(both, ocr=OcrEngine())
    assert [w.page for w in raw.warnings] == [2]
    assert "no text that OCR could read" in raw.warnings[0].message
    assert SENTENCE in _words(clean(raw).text)


def test_a_tesseract_pdf_text_layer_reads_as_text(tmp_path: Path) -> None:
    import pypdfium2 as pdfium
    import pytesseract

    image = pdfium.PdfDocument(str(SCAN))[0].render(scale=200 / 72, grayscale=True).to_pil()
    searchable = tmp_path / "searchable.pdf"
    searchable.write_bytes(pytesseract.image_to_pdf_or_hocr(image, extension="pdf"))
    doc = clean(load_file(searchable, ocr=OcrEngine()))
    assert not doc.pages[0].ocr  # its invisible text layer was read, not OCR'd again
    assert "academic papers" in doc.text


def test_quote_is_highlighted_on_the_scan_from_tesseracts_boxes() -> None:
    from index.pdf import quote_boxes

    boxes = quote_boxes(SCAN, 1, SENTENCE, ocr=OcrEngine())
    assert boxes and all(0 <= v <= 1 for box in boxes for v in box)
    # The sentence opens section 2.1, in the left column, above the page's middle.
    _left, top, right, _bottom = boxes[0]
    assert right < 0.55 and 0.3 < top < 0.45
    assert quote_boxes(SCAN, 1, SENTENCE) == []  # without OCR the scan has no text


def _born_page_words() -> list[str]:
    from eval.bench.ocr import page_words

    born = clean(load_file(DATA.parent.parent / "eval/datasets/pdfs/acl-2020-specter.pdf"))
    return page_words(born)[1]  # the scans are of its page 2


def test_two_column_scan_reads_in_the_born_digital_order() -> None:
    from eval.bench.ocr import page_words, word_accuracy

    scanned = page_words(clean(load_file(SCAN, ocr=OcrEngine())))[0]
    # Aligned in order: columns read line by line across the page would match in scraps.
    assert word_accuracy(_born_page_words(), scanned) > 0.9


def test_the_pronoun_i_is_not_read_as_a_bar_in_prose() -> None:
    from index.pdf.ocr import _pronoun_i

    assert [_pronoun_i(w) for w in ("|", "“|", "|’m", "|,")] == ["I", "“I", "I’m", "I,"]
    assert [_pronoun_i(w) for w in ("||", "a|b", "|x")] == ["||", "a|b", "|x"]


def _with_page(tmp_path: Path, image: object, name: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    extra = tmp_path / f"{name}.pdf"
    image.save(extra, "PDF", resolution=200)  # type: ignore[attr-defined]
    both = tmp_path / f"scan-and-{name}.pdf"
    writer = PdfWriter()
    for source in (SCAN, extra):
        writer.append(PdfReader(source))
    writer.write(both)
    return both


def test_a_photo_page_warns_by_page_and_the_rest_is_indexed(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image, ImageFilter

    # A photograph: smooth shapes and grain, no text (a specimen, a gel, a landscape).
    rng = np.random.default_rng(7)
    noise = Image.fromarray((rng.random((220, 170)) * 255).astype(np.uint8), "L")
    photo = noise.resize((1700, 2200), Image.Resampling.BICUBIC).filter(
        ImageFilter.GaussianBlur(12)
    )
    raw = load_file(_with_page(tmp_path, photo, "photo"), ocr=OcrEngine())
    assert [w.page for w in raw.warnings] == [2]
    assert "\n" not in raw.warnings[0].message
    assert raw.pages[1] == ""  # nothing made up from the photo
    assert SENTENCE in _words(clean(raw).text)


def test_a_page_tesseract_fails_on_warns_by_page_and_the_rest_is_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytesseract
    from PIL import Image

    read = pytesseract.image_to_data

    def fail_on_landscape(image: Image.Image, *args: object, **kwargs: object) -> object:
        if image.width > image.height > 1000:  # the landscape page, not a margin strip
            raise pytesseract.TesseractError(1, "Error in pixReadMem: corrupt image data")
        return read(image, *args, **kwargs)

    monkeypatch.setattr(pytesseract, "image_to_data", fail_on_landscape)
    landscape = Image.new("L", (2200, 1700), 250)
    raw = load_file(_with_page(tmp_path, landscape, "landscape"), ocr=OcrEngine(workers=2))
    assert [w.page for w in raw.warnings] == [2]
    assert "could not be OCR'd" in raw.warnings[0].message
    assert "corrupt image data" in raw.warnings[0].message
    assert SENTENCE in _words(clean(raw).text)


def test_page_view_takes_the_ingests_ocr_whatever_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytesseract

    from rag.page_view import page_view

    cache = tmp_path / "ocr"
    # Indexed at 200 dpi: the page view's default engine (300 dpi) would not find it kept.
    doc = clean(load_file(SCAN, ocr=OcrEngine(dpi=200, cache_dir=cache)))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the page view OCR'd the page again")

    monkeypatch.setattr(pytesseract, "image_to_data", refuse)
    view = page_view(doc, 1, SENTENCE, cache_dir=tmp_path / "pages", ocr_cache=cache)
    assert view is not None and view.boxes


def test_a_page_number_beside_the_running_head_labels_the_scanned_page() -> None:
    # Tesseract's page read drops the lone "2" before "Rehabilitation Research and Practice".
    doc = clean(load_file(DATA / "scans" / "hindawi-p2-scan.pdf", ocr=OcrEngine()))
    assert doc.pages[0].label == "2"
    assert not doc.text.startswith("2")  # the number labels the page; it is not text


def test_a_1200_dpi_scan_is_read_at_the_ocr_resolution(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    # A page scanned at 1,200 dpi (10,000 px a side): PDFium renders it at 300 dpi, so
    # Tesseract reads a normal page rather than a 130-megapixel image.
    image = pdfium.PdfDocument(str(SCAN))[0].render(scale=1200 / 72, grayscale=True).to_pil()
    fine = tmp_path / "fine-scan.pdf"
    image.save(fine, "PDF", resolution=1200, quality=60)
    raw = load_file(fine, ocr=OcrEngine())
    assert not raw.warnings
    assert SENTENCE in _words(clean(raw).text)
