"""Scanned PDF pages -> Tesseract's words -> the characters and lines a text layer gives.

Each page is rendered with PDFium at `dpi` (grey), read by Tesseract (pytesseract's TSV:
block, paragraph, line, word, box, confidence), and its words become `Char`s with boxes in
PDF points, so the layout (columns, headings, running heads, page labels, hyphens) reads a
scan as it reads a born-digital page. Tesseract runs as one process per page, several
pages at once (one OpenMP thread each: two pages in parallel halve the time per page).
A page Tesseract reads poorly upright is checked for rotation (OSD) and read turned.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import statistics
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from index.pdf.lines import Box, Char, Line, RawPage, build_line

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["OcrEngine", "OcrUnavailable", "PageProgress", "ocr_pages"]

# Called with (pages OCR'd so far, pages to OCR) as each page is done.
PageProgress = Callable[[int, int], None]

_INSTALL = "apt-get install tesseract-ocr tesseract-ocr-eng"
_MAX_PIXELS = 60_000_000  # a poster-sized page is rendered smaller, not at 300 dpi (2 GB)
_TIMEOUT_S = 180  # one page; a page Tesseract cannot finish is reported, not waited on
_POOR = 0.55  # mean word confidence under which an upright read is checked for rotation
# Glyph height in ems by what a word holds: x-height only, with ascenders/capitals/digits,
# with descenders (Times-like faces); a word's ink box over its share gives the type size.
_X, _ASC, _DESC = 0.46, 0.24, 0.22
_ASCENDERS = set("bdfhiklt0123456789()[]{}/|!?%&$#@") | set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DESCENDERS = set("gjpqy()[]{}|Q")
_FORMAT = 3  # of the kept OCR results; raised when what is kept changes
_MARGIN_INK = 40  # dark pixels outside any word in a margin strip: worth a second read
_MARGIN_CONF = 60  # a margin word read with less is a speck
_MARGIN_BLOCK = 10_000  # block numbers of margin words, after any Tesseract gives


class OcrUnavailable(Exception):
    """Tesseract (or the language asked for) is not installed: no page can be OCR'd."""


@dataclass(frozen=True)
class OcrEngine:
    """How pages are OCR'd: Tesseract's languages, the render resolution, pages at once."""

    mode: Literal["auto", "always", "never"] = "auto"
    lang: str = "eng"
    dpi: int = 300
    workers: int | None = None
    cache_dir: Path | None = None  # OCR results by file, page and engine; None: not kept
    # The page view takes a kept page whatever languages and dpi it was read with: those of
    # the ingest that indexed it, which the viewer's settings need not repeat.
    any_kept: bool = False

    def check(self) -> str:
        """Tesseract's version; OcrUnavailable naming the install command if it cannot run."""
        import pytesseract

        try:
            version = str(pytesseract.get_tesseract_version())
            have = set(pytesseract.get_languages(config=""))
        except (pytesseract.TesseractNotFoundError, OSError) as exc:
            raise OcrUnavailable(f"Tesseract is not installed ({_INSTALL})") from exc
        missing = [lang for lang in self.lang.split("+") if lang not in have]
        if missing:
            packages = " ".join(f"tesseract-ocr-{m.lower()}" for m in missing)
            raise OcrUnavailable(
                f"Tesseract has no language data for {'+'.join(missing)} "
                f"(apt-get install {packages})"
            )
        return version


def ocr_pages(
    path: Path,
    numbers: list[int],
    engine: OcrEngine,
    *,
    on_page: PageProgress | None = None,
) -> dict[int, RawPage]:
    """Each page (1-based number) OCR'd as a RawPage; a page OCR could not read has its
    `problem` set. Raises OcrUnavailable when Tesseract cannot run at all."""
    if not numbers:
        return {}
    version = engine.check()
    # Tesseract's own OpenMP threads only fight the pages run side by side.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    key = (
        f"{_file_digest(str(path), path.stat().st_mtime_ns)}|{version}" if engine.cache_dir else ""
    )
    workers = engine.workers or os.cpu_count() or 1
    scans: dict[int, _Scan] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # PDFium is not thread-safe: pages are rendered here, one at a time, and at most
        # two per worker wait as images (a 300-page scan is not held in memory at once).
        running: dict[int, Future[_Scan]] = {}
        for number, image, size in _rendered(path, numbers, engine, key):
            if isinstance(image, _Scan):
                scans[number] = image  # OCR'd before
            else:
                running[number] = pool.submit(_read_page, image, size, engine)
            while running and (len(running) >= 2 * workers or number == numbers[-1]):
                done = next(iter(running))
                scans[done] = running.pop(done).result()
                _store(engine, key, done, scans[done])
                if on_page:
                    on_page(len(scans), len(numbers))
            if on_page and isinstance(image, _Scan):
                on_page(len(scans), len(numbers))
    return {n: _raw_page(scans[n]) for n in numbers}


@dataclass
class _Scan:
    """What Tesseract read on one page (kept in the cache as it is)."""

    words: list[_Word]
    px: tuple[int, int]  # the image as rendered, before any turn
    size: tuple[float, float]  # the page in points
    problem: str | None = None


def _rendered(
    path: Path, numbers: list[int], engine: OcrEngine, key: str
) -> Iterator[tuple[int, Image | _Scan, tuple[float, float]]]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        for number in numbers:
            page = pdf[number - 1]
            width, height = page.get_size()
            cached = _load(engine, key, number)
            if cached is not None:
                yield number, cached, (width, height)
                continue
            scale = engine.dpi / 72
            if width * height * scale * scale > _MAX_PIXELS:
                scale = (_MAX_PIXELS / (width * height)) ** 0.5
            image = page.render(scale=scale, grayscale=True).to_pil()
            yield number, image, (width, height)
    finally:
        pdf.close()


def _read_page(image: Image, size: tuple[float, float], engine: OcrEngine) -> _Scan:
    """One page's words; Tesseract's failures become the page's problem."""
    import pytesseract

    px = (image.width, image.height)
    try:
        words = _words(image, engine.lang, 0)
        sideways = _sideways(words)
        if sideways or _confidence(words) < _POOR:
            turn = _rotation(image)
            if turn:
                turned = _words(image.rotate(turn, expand=True), engine.lang, turn)
                if sideways or _confidence(turned) > _confidence(words):
                    words = turned
        words += _margin_words(image if not words or not words[0].turn else None, words, engine)
    except RuntimeError as exc:  # pytesseract's timeout
        return _Scan([], px, size, problem=f"could not be OCR'd ({exc})")
    except pytesseract.TesseractError as exc:
        message = " ".join(str(exc.message).split())[:160] or f"status {exc.status}"
        return _Scan([], px, size, problem=f"could not be OCR'd ({message})")
    return _Scan(words, px, size)


@dataclass
class _Word:
    text: str
    left: int
    top: int
    right: int
    bottom: int
    conf: float  # 0-100
    line: tuple[int, int, int]  # block, paragraph, line
    turn: int  # degrees the image was turned (counter-clockwise) before reading
    ink: int = 0  # dark pixels in its box: bold type has more per unit of its size


def _words(image: Image, lang: str, turn: int) -> list[_Word]:
    import numpy as np
    import pytesseract

    # --psm 1: Tesseract finds the blocks and columns itself and reads them in order.
    data = pytesseract.image_to_data(
        _uncompressed(image),
        lang=lang,
        config="--psm 1",
        output_type=pytesseract.Output.DICT,
        timeout=_TIMEOUT_S,
    )
    dark = np.asarray(image.convert("L")) < 128
    words = []
    for i, text in enumerate(data["text"]):
        text = str(text).strip()
        if int(data["level"][i]) != 5 or not text:
            continue
        left, top = int(data["left"][i]), int(data["top"][i])
        words.append(
            _Word(
                text=text,
                left=left,
                top=top,
                right=left + int(data["width"][i]),
                bottom=top + int(data["height"][i]),
                conf=float(data["conf"][i]),
                line=(int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i])),
                turn=turn,
            )
        )
        w = words[-1]
        w.ink = int(dark[w.top : w.bottom, w.left : w.right].sum())
    return words


def _uncompressed(image: Image) -> Image:
    """The image handed to Tesseract as PGM: pytesseract's default PNG costs ~1 s to
    compress a 300-dpi page, a quarter of Tesseract's own time (measured 0.96 s vs 0.001 s)."""
    image = image.convert("L") if image.mode not in ("L", "1") else image
    image.format = "PPM"  # PIL writes a grey image so as PGM, which Leptonica reads
    return image


def _margin_words(image: Image | None, words: list[_Word], engine: OcrEngine) -> list[_Word]:
    """Words in the top and bottom margins that the page's read left out: Tesseract's page
    segmentation drops a lone page number beside a running head ("2  Rehabilitation
    Research and Practice" reads without its "2"), which a read of the strip as one block
    (--psm 6) keeps. Only a strip with ink outside every word is read again."""
    import numpy as np
    import pytesseract

    if image is None:
        return []  # a turned page: its margins are not the image's
    dark = np.asarray(image.convert("L")) < 128
    height, width = dark.shape
    pad = max(2, height // 300)
    found: list[_Word] = []
    for strip, (y0, y1) in enumerate(((0, int(0.08 * height)), (int(0.92 * height), height))):
        ink = dark[y0:y1].copy()
        for w in words:
            if w.bottom > y0 and w.top < y1:
                rows = slice(max(0, w.top - y0 - pad), w.bottom - y0 + pad)
                ink[rows, max(0, w.left - pad) : w.right + pad] = False
        if ink.sum() < _MARGIN_INK:
            continue
        data = pytesseract.image_to_data(
            _uncompressed(image.crop((0, y0, width, y1))),
            lang=engine.lang,
            config="--psm 6",
            output_type=pytesseract.Output.DICT,
            timeout=_TIMEOUT_S,
        )
        for i, text in enumerate(data["text"]):
            text = str(text).strip()
            if int(data["level"][i]) != 5 or not text or float(data["conf"][i]) < _MARGIN_CONF:
                continue
            left, top = int(data["left"][i]), int(data["top"][i]) + y0
            right, bottom = left + int(data["width"][i]), top + int(data["height"][i])
            if any(w.left < right and left < w.right and w.top < bottom and top < w.bottom
                   for w in words):  # fmt: skip
                continue  # read already
            line = (_MARGIN_BLOCK + strip, int(data["par_num"][i]), int(data["line_num"][i]))
            word = _Word(text, left, top, right, bottom, float(data["conf"][i]), line, 0)
            word.ink = int(dark[top:bottom, left:right].sum())
            found.append(word)
    return found


def _rotation(image: Image) -> int:
    """Degrees to turn the page (counter-clockwise) so that it reads upright; 0 if unsure."""
    import pytesseract

    try:
        osd = pytesseract.image_to_osd(
            _uncompressed(image),
            config="--psm 0",
            output_type=pytesseract.Output.DICT,
            timeout=_TIMEOUT_S,
        )
    except pytesseract.TesseractError:
        return 0  # too little text to tell
    # OSD's "rotate" is clockwise; PIL's rotate() turns counter-clockwise.
    return (
        (360 - int(osd.get("rotate", 0))) % 360
        if float(osd.get("orientation_conf", 0)) > 1.0
        else 0
    )


def _sideways(words: list[_Word]) -> bool:
    """Tesseract (--psm 1) reads a page fed in sideways, but gives boxes in the page's frame:
    its words stand taller than wide, which the layout cannot read as lines."""
    long = [w for w in words if len(w.text) >= 4]
    return len(long) >= 10 and sum(w.bottom - w.top > w.right - w.left for w in long) > 0.6 * len(
        long
    )


def _confidence(words: list[_Word]) -> float:
    confs = [w.conf for w in words if w.conf >= 0]
    return statistics.fmean(confs) / 100 if confs else 0.0


def _raw_page(scan: _Scan) -> RawPage:
    """Words (pixels of the possibly turned image) -> lines in PDF points of the upright page,
    and every character's box on the page as stored, for highlighting quotes."""
    words = scan.words
    width, height = scan.size
    if scan.problem:
        return RawPage([], width, height, ocr=True, problem=scan.problem)
    turn = words[0].turn if words else 0
    k = width / scan.px[0]  # points per pixel of the image as rendered (before turning)
    up_w, up_h = (height, width) if turn in (90, 270) else (width, height)
    lines: list[Line] = []
    boxes: list[Box] = []
    by_line: dict[tuple[int, int, int], list[_Word]] = {}
    for w in words:
        by_line.setdefault(w.line, []).append(w)
    sizes = {key: _type_size(ws) for key, ws in by_line.items()}
    bold = _bold_words(by_line, sizes)
    for key, line_words in by_line.items():
        size = sizes[key] * k
        baseline = up_h - _baseline(line_words, size / k) * k
        chars: list[Char] = []
        prev_x1: float | None = None
        prose = sum(sum(c.isalpha() for c in w.text) >= 3 for w in line_words) >= 3
        for w in line_words:
            text = _pronoun_i(w.text) if prose else w.text
            x0, x1 = w.left * k, w.right * k
            if prev_x1 is not None:
                x0 = max(x0, prev_x1 + 0.12 * size)  # a word space, however tight the ink
                x1 = max(x1, x0 + 0.1 * size)
            step = (x1 - x0) / len(text)
            for j, ch in enumerate(text):
                cx0 = x0 + j * step
                chars.append(
                    Char(ch, cx0, cx0 + step, baseline, baseline + 0.7 * size, size,
                         id(w) in bold, len(boxes), "ocr", spaced=j == 0 and prev_x1 is not None)
                )  # fmt: skip
                boxes.append(_stored_box(w, j, k, turn, width, height))
            prev_x1 = x1
        line = build_line(chars)
        if line.text:
            lines.append(line)
    return RawPage(
        lines, up_w, up_h, ocr=True, confidence=round(_confidence(words), 3), boxes=boxes
    )


# Tesseract reads a serif capital I standing alone as a bar: "| had", "“| don’t", "|’m".
_BAR_I = re.compile(r"^([\"“‘(]?)\|(?=$|['’][a-z]{1,2}\b|[,.;:!?”’\")])")


def _pronoun_i(text: str) -> str:
    """The pronoun I for Tesseract's bar, in prose (a table's rule stays a bar)."""
    return _BAR_I.sub(r"\1I", text)


def _bold_words(
    by_line: dict[tuple[int, int, int], list[_Word]], sizes: dict[tuple[int, int, int], float]
) -> set[int]:
    """Words set bold: Tesseract 5 does not say, but bold strokes put about 1.5x the ink of
    the page's usual type into the same width and size."""
    density = {
        id(w): w.ink / max(1.0, (w.right - w.left) * sizes[key])
        for key, ws in by_line.items()
        for w in ws
        if sum(c.isalpha() for c in w.text) >= 2
    }
    if len(density) < 20:
        return set()
    usual = statistics.median(density.values())
    return {i for i, d in density.items() if d > 1.3 * usual}


def _type_size(words: list[_Word]) -> float:
    """A line's type size in pixels, from its words' ink heights and the letters in them."""
    estimates = []
    for w in words:
        letters = [c for c in w.text if c.isalnum()]
        if len(letters) < 2:
            continue
        share = _X + _ASC * any(c in _ASCENDERS for c in w.text)
        share += _DESC * any(c in _DESCENDERS for c in w.text)
        estimates.append((w.bottom - w.top) / share)
    if not estimates:
        return float(statistics.median(w.bottom - w.top for w in words))
    return statistics.median(estimates)


def _baseline(words: list[_Word], size: float) -> float:
    """The line's baseline in pixels from the top: where words without descenders end."""
    flat = [w.bottom for w in words if not any(c in _DESCENDERS for c in w.text)]
    if flat:
        return statistics.median(flat)
    return statistics.median(w.bottom for w in words) - _DESC * size


def _stored_box(w: _Word, j: int, k: float, turn: int, width: float, height: float) -> Box:
    """Character j of a word as (left, bottom, right, top) in points of the page as stored."""
    step = (w.right - w.left) / len(w.text)
    x0, x1, y0, y1 = w.left + j * step, w.left + (j + 1) * step, w.top, w.bottom
    pw, ph = width / k, height / k  # the page in pixels, before turning
    if turn == 90:  # turned counter-clockwise: x came from the bottom-up of the stored image
        x0, x1, y0, y1 = pw - y1, pw - y0, x0, x1
    elif turn == 180:
        x0, x1, y0, y1 = pw - x1, pw - x0, ph - y1, ph - y0
    elif turn == 270:
        x0, x1, y0, y1 = y0, y1, ph - x1, ph - x0
    return (x0 * k, height - y1 * k, x1 * k, height - y0 * k)


# --- results kept: a page is OCR'd once per file, engine and settings ----------------------


@lru_cache(maxsize=64)
def _file_digest(path: str, mtime_ns: int) -> str:
    del mtime_ns  # part of the cache key: a changed file is hashed again
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _cache_path(engine: OcrEngine, key: str, number: int) -> Path | None:
    # One entry a page of a file's content and Tesseract's version, stamped with the
    # languages and dpi it was read with: a read with other settings replaces it.
    if engine.cache_dir is None or not key:
        return None
    name = hashlib.sha256(f"{key}|{_FORMAT}".encode()).hexdigest()
    return engine.cache_dir / name[:2] / f"{name[2:26]}-p{number}.json"


def _load(engine: OcrEngine, key: str, number: int) -> _Scan | None:
    path = _cache_path(engine, key, number)
    if path is None or not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if not engine.any_kept and (data["lang"], data["dpi"]) != (engine.lang, engine.dpi):
            return None
        words = [_Word(**{**w, "line": tuple(w["line"])}) for w in data["words"]]
        return _Scan(words, tuple(data["px"]), tuple(data["size"]))  # type: ignore[arg-type]
    except (ValueError, KeyError, TypeError):
        return None  # a damaged entry: the page is OCR'd again


def _store(engine: OcrEngine, key: str, number: int, scan: _Scan) -> None:
    path = _cache_path(engine, key, number)
    if path is None or scan.problem:
        return  # a failure is tried again next time
    data = {
        "lang": engine.lang,
        "dpi": engine.dpi,
        "words": [w.__dict__ for w in scan.words],
        "px": scan.px,
        "size": scan.size,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(path)  # whole entries only, for a reader in another process
    except OSError:
        pass  # a read-only cache costs time, not results
