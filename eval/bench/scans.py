"""Scanned copies of PDF pages, as a flatbed scanner makes them: the page rendered to a grey
image at 200 dpi, turned a little, blurred, with sensor noise, saved as an image-only PDF
(Pillow). Builds tests/data's scanned fixtures and, later, the OCR benchmark's scans.

    python -m eval.bench.scans SRC.pdf OUT.pdf --pages 1 3 [--turn 90] [--skew 0.7]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

__all__ = ["scan_pages"]


def scan_pages(
    src: Path,
    out: Path,
    pages: list[int] | None = None,
    *,
    dpi: int = 200,
    skew: float = 0.6,
    turn: int = 0,
    seed: int = 26,
    quality: int = 50,
) -> Path:
    """`pages` (1-based; all when None) of `src` as an image-only PDF at `out`."""
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image, ImageFilter

    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    pdf = pdfium.PdfDocument(str(src))
    images: list[Image.Image] = []
    try:
        for number in pages or range(1, len(pdf) + 1):
            image = pdf[number - 1].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
            # A page laid a little askew on the glass; the scanner's white fills the corners.
            angle = skew * rng.choice((-1, 1))
            image = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
            image = image.filter(ImageFilter.GaussianBlur(0.6))  # optics a little soft
            grain = np_rng.normal(0, 7, (image.height, image.width))  # sensor noise
            pixels = np.asarray(image, dtype=np.float32) * 0.94 + 8 + grain  # grey paper
            image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
            if turn:
                image = image.rotate(turn, expand=True)  # fed in sideways or upside down
            images.append(image)
    finally:
        pdf.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(
        out, "PDF", resolution=dpi, save_all=True, append_images=images[1:], quality=quality
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--pages", type=int, nargs="*")
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--skew", type=float, default=0.6, help="degrees askew")
    parser.add_argument("--turn", type=int, default=0, choices=(0, 90, 180, 270))
    args = parser.parse_args()
    scan_pages(args.src, args.out, args.pages, dpi=args.dpi, skew=args.skew, turn=args.turn)
    print(args.out)


if __name__ == "__main__":
    main()
