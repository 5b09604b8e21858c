"""SR Arena — see and judge ×4 super-resolution (Gradio app; also a Hugging Face Space).

Thin on purpose: it composes the tabs from ``sr_arena.ui`` and starts the server.
``build_demo()`` makes the Blocks without launching (``from app import build_demo``).
"""
from __future__ import annotations

import gradio as gr

from sr_arena.ui import zerogpu  # noqa: I001 - first: it imports `spaces` (ZeroGPU) before anything touches CUDA
from sr_arena import settings
from sr_arena.ui.class_tab import build_class_tab
from sr_arena.ui.compare_tab import build_api, build_compare_tab
from sr_arena.ui.models import ModelPool
from sr_arena.ui.models_tab import build_models_tab
from sr_arena.ui.rate_tab import build_rate_tab
from sr_arena.ui.results_tab import build_results_tab
from sr_arena.ui.storage_notice import storage_warning
from sr_arena.ui.style import CSS
from sr_arena.ui.uploads import MAX_UPLOAD_BYTES

TITLE = "# SR Arena\nEnlarge an image ×4 with five super-resolution methods and judge them side by side."


def build_demo(pool: ModelPool | None = None) -> gr.Blocks:
    """The whole app: status line, Compare and Models tabs (Rate/Results are added by the MOS study)."""
    pool = (pool or ModelPool()).start()
    if zerogpu.on_zero_gpu():  # ZeroGPU moves the weights placed on CUDA to its GPUs at launch: place them all first
        pool.wait()
    warning = storage_warning(settings.current())

    def status_line() -> str:
        return f"{pool.status_markdown()}  \n{warning}" if warning else pool.status_markdown()

    # delete_cache: Gradio removes the files it served once older than SR_ARENA_TEMP_MAX_AGE (bounded disk).
    with gr.Blocks(title="SR Arena", delete_cache=settings.current().delete_cache) as demo:
        gr.Markdown(TITLE)
        status = gr.Markdown(status_line(), elem_id="status")
        timer = gr.Timer(1.0)
        timer.tick(lambda: (status_line(), gr.Timer(active=not pool.done)), None, [status, timer],
                   api_visibility="private", show_progress="hidden")
        with gr.Tabs():
            with gr.Tab("Compare", id="compare"):
                build_compare_tab(pool)
            with gr.Tab("Models", id="models"):
                cards, refresh_cards = build_models_tab(pool)
            with gr.Tab("Rate", id="rate") as rate_tab:  # the blinded MOS study (sr_arena/mos)
                build_rate_tab(rate_tab)
            with gr.Tab("Results", id="results") as results_tab:
                build_results_tab(results_tab)
            with gr.Tab("Class", id="class") as class_tab:  # lecturer's builder + participants' phone view
                build_class_tab(class_tab)
        demo.load(refresh_cards, None, cards, api_visibility="private", show_progress="hidden")
        # Public API: one method on one image (gradio_client: Client(url).predict(..., api_name="/enlarge")).
        build_api(pool)
    return demo


if __name__ == "__main__":
    build_demo().queue(max_size=32).launch(
        show_error=True,
        server_name=settings.current().server_name,
        server_port=settings.current().server_port,
        max_file_size=MAX_UPLOAD_BYTES,
        css=CSS,
        theme=gr.themes.Soft(primary_hue="indigo"),
    )
