"""Input components whose uploads reach the app's validator undecoded.

Gradio's ``gr.Image`` decodes what it receives before the app sees it: a pasted or webcam
picture sent as a ``data:`` URL is decoded and re-encoded by Pillow (an 8000×8000 PNG took
5 s and +370 MB before the app could refuse it), and a damaged file raises Pillow's own error,
which names the server's temporary path. :class:`PictureInput` hands the bytes to the app as a
file instead, so :func:`sr_models.image_io.read_checked` checks size and header first, with the
same limits and messages as every other input.
"""
from __future__ import annotations

import base64
import binascii
import tempfile
from pathlib import Path

import gradio as gr
from gradio.data_classes import ImageData

from .uploads import MAX_UPLOAD_BYTES, UploadError


class PictureInput(gr.Image):
    """``gr.Image`` (paste, webcam, examples) that passes the upload on as a file path, never decoded."""

    def get_block_name(self) -> str:
        return "image"  # the same front-end component as gr.Image

    def preprocess(self, payload: ImageData | None) -> str | None:
        """The uploaded file's path; a ``data:`` URL is written to a file as its bytes are."""
        if payload is None:
            return None
        if payload.url and payload.url.startswith("data:"):
            return save_data_url(payload.url, Path(self.GRADIO_CACHE))
        if payload.path is None:
            raise gr.Error("No image was received.")
        return str(payload.path)


def save_data_url(url: str, cache_dir: Path) -> str:
    """Write a base64 ``data:`` URL's bytes to a new file (refusing an oversize one before decoding it)."""
    _, _, encoded = url.partition(",")
    if len(encoded) * 3 // 4 > MAX_UPLOAD_BYTES:
        raise UploadError(f"The picture is larger than {MAX_UPLOAD_BYTES // 2**20} MB; it was not decoded.")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError("The pasted picture is not valid base64 image data.") from None
    cache_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="picture-", dir=cache_dir))
    path = folder / "pasted"
    path.write_bytes(data)
    return str(path)
