"""Gradio, imported on first use, and the HTML block every screen renders into.

Importing this module does not import Gradio, so the CLI stays cheap.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import gradio as gr

__all__ = ["gradio", "html_block"]


def gradio() -> Any:
    """Gradio, imported with analytics off (it reads the variable at import)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio

    return gradio


def html_block(value: str, elem_id: str | None = None, js: str | None = None) -> gr.HTML:
    """Our own HTML: Gradio's prose styles off, and no click events unless asked for."""
    return gradio().HTML(
        value, elem_id=elem_id, elem_classes=["pt-html"], js_on_load=js, apply_default_css=False
    )
