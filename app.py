"""SR Arena — see and judge ×4 super-resolution (Gradio app; also a Hugging Face Space).

A minimal page for now: upload a low-resolution image, pick a method, get it enlarged ×4,
with the weights it ran named. The full side-by-side arena builds on the same calls.
"""
from __future__ import annotations

import os
import time

import gradio as gr
import numpy as np

from sr_models.image_io import ImageReadError, read_image
from sr_models.inference import upscale
from sr_models.loader import ModelUnavailableError, load_model
from sr_models.registry import CARDS

MAX_LR_SIDE = 512


def describe(model_id: str) -> str:
    """One line saying which weights a method runs, or why it cannot run."""
    try:
        model = load_model(model_id)
    except ModelUnavailableError as error:
        return f"**{CARDS[model_id].display_name}** is unavailable: {error.reason}. {error.fix}"
    if model.provenance is None:
        return f"**{model.card.display_name}**: MATLAB-exact bicubic interpolation (no weights)."
    p = model.provenance
    return (f"**{model.card.display_name}** runs {p.kind} weights `{os.path.basename(p.file)}` "
            f"(sha256 `{p.sha256[:16]}…`, licence {p.licence}; {p.origin}).")


def enlarge(path: str | None, model_id: str) -> tuple[np.ndarray | None, str]:
    """Callback: read the upload, enlarge it ×4 with ``model_id``, say what ran."""
    if not path:
        raise gr.Error("Upload an image first.")
    try:
        image = read_image(path)
    except ImageReadError as error:
        raise gr.Error(str(error)) from None
    if max(image.shape[:2]) > MAX_LR_SIDE:
        raise gr.Error(f"At most {MAX_LR_SIDE}×{MAX_LR_SIDE} pixels for low-resolution input; "
                       f"this image is {image.shape[1]}×{image.shape[0]}.")
    try:
        model = load_model(model_id)
    except ModelUnavailableError as error:
        raise gr.Error(str(error)) from None
    start = time.perf_counter()
    output = upscale(model, image)
    return output, f"{describe(model_id)} Took {time.perf_counter() - start:.1f} s."


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="SR Arena") as demo:
        gr.Markdown("# SR Arena\nEnlarge a low-resolution image ×4 and see which weights produced it.")
        with gr.Row():
            # A file input, so that every upload reaches read_image(), which explains what is wrong with it.
            source = gr.File(label="Low-resolution image (PNG, JPEG, WebP, BMP, TIFF, GIF)", type="filepath")
            result = gr.Image(label="×4 output", format="png", interactive=False)
        method = gr.Radio([(c.display_name, c.id) for c in CARDS.values()], value="bicubic", label="Method")
        run = gr.Button("Enlarge ×4", variant="primary")
        info = gr.Markdown()
        run.click(enlarge, [source, method], [result, info], api_name="enlarge", concurrency_limit=1)
        method.change(describe, method, info)
    return demo


if __name__ == "__main__":
    build_demo().queue(max_size=16).launch(
        show_error=True,
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )
