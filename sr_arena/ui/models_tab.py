"""The Models tab: model cards with published and measured scores (call inside ``gr.Tab``)."""
from __future__ import annotations

import gradio as gr

from .model_cards import all_cards_markdown
from .models import ModelPool

INTRO = ("Every method is the published architecture; each card says which checkpoint this app runs and why, "
         "reads its configuration and parameter count off that checkpoint, and compares the papers' ×4 PSNR/SSIM "
         "(Y channel, 4-pixel border) for the same configuration with what this project measured for that very "
         "checkpoint on the same benchmark images (`results/measured.json`, keyed by the checkpoint's sha256; "
         "`python -m sr_models evaluate --data DIR --record` adds to it).\n\n"
         "**Which model for which input.** SRGAN, ESRGAN, AWSRN and SAN are trained on images shrunk by bicubic "
         "×1/4, the benchmarks' degradation: use them on \"I have the original\" and on clean, sharp small "
         "images. Real-ESRGAN is trained on synthetic real-world degradations (blur, noise, resizing, JPEG): "
         "use it on photos that really are low-resolution (phone pictures, old scans, compressed web images), "
         "where it also removes noise and compression artefacts; on bicubic inputs it scores below bicubic.")


def build_models_tab(pool: ModelPool) -> list:
    """Lay out one card per method; they refresh once loading is done."""
    gr.Markdown(INTRO)
    cards = [gr.Markdown(text, elem_classes=["sr-card"]) for text in all_cards_markdown({})]

    def refresh() -> list[str]:
        pool.wait(timeout=600)
        return all_cards_markdown({m: pool.get(m) for m in pool.model_ids})

    return cards, refresh
