"""The Compare tab: upload → LR input → every method side by side, zoom strip, difference maps,
wipe slider, metric table and zip download.

``build_compare_tab(pool)`` must be called inside ``gr.Tab("Compare")``; it returns a
:class:`CompareComponents` so other features (the MOS study's quick rating) can attach to it.

Quick-rating hook: if ``sr_arena/ui/quick_rating.py`` defines
``build_quick_rating(components: CompareComponents) -> None``, it is called at the end of
the tab (below the table), inside the tab's layout; it may add components and wire events
to ``components.state`` (the current :class:`~sr_arena.ui.pipeline.Comparison`, or ``None``)
and ``components.finished`` (the event that fires when a comparison is complete).
"""
from __future__ import annotations

import importlib.util
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterator

import gradio as gr
import numpy as np

from sr_models.registry import CARDS

from . import crops, diffmaps, presentation
from .examples import available as available_examples
from .export import build_zip
from .models import ModelPool
from .pipeline import LR_KEY, ORIGINAL_KEY, Comparison, label, prepare, run_method
from .uploads import LOW_RES, MAX_LR_SIDE, ORIGINAL, UploadError, load_upload

#: How many comparisons may run at once (Gradio queue concurrency for the heavy events).
HEAVY_CONCURRENCY = int(os.environ.get("SR_ARENA_CONCURRENCY", "1"))
PANEL_KEYS = [ORIGINAL_KEY, LR_KEY, *CARDS]
MODE_CHOICES = [("I have the original", ORIGINAL), ("This is already low-resolution", LOW_RES)]
MODE_HELP = (
    f"**I have the original** — the app shrinks your image ×1/4 with MATLAB-exact bicubic, enlarges that, "
    f"and scores every method against your image (PSNR/SSIM; originals up to {4 * MAX_LR_SIDE}×{4 * MAX_LR_SIDE}).  \n"
    f"**This is already low-resolution** — the app only enlarges it ×4; with no ground truth it reports "
    f"LR-consistency (does the result shrink back to your input?) instead. Up to {MAX_LR_SIDE}×{MAX_LR_SIDE}."
)
DEFAULT_CROP, DEFAULT_MAG = 48, 4


@dataclass
class Panel:
    """One image panel: its column (shown/hidden), image and caption."""

    key: str
    column: Any
    image: Any
    caption: Any


@dataclass
class CompareComponents:
    """The Compare tab's components and events, for features that attach to it."""

    state: Any
    mode: Any
    methods: Any
    panels: dict[str, Panel] = field(default_factory=dict)
    table: Any = None
    run_button: Any = None
    finished: Any = None  # the Dependency that fires after a comparison completes


# ---------------------------------------------------------------- callbacks (plain functions)

def _reference(comparison: Comparison) -> tuple[np.ndarray | None, str]:
    """The image differences are measured against: the original, else bicubic's output."""
    if comparison.original is not None:
        return comparison.original, "original"
    bicubic = comparison.runs.get("bicubic")
    return (bicubic.image, "bicubic") if bicubic is not None and bicubic.ok else (None, "")


def zoom_views(comparison: Comparison | None, center: tuple[int, int] | None, size: int, magnification: int,
               ) -> tuple[list, str, np.ndarray | None]:
    """(crop strip gallery items, crop-metrics HTML, overview with the box) from cached outputs."""
    if comparison is None:
        return [], "", None
    images = comparison.images()
    height, width = comparison.hr_shape
    center = center or (width // 2, height // 2)
    box = crops.crop_box(center, int(size), (height, width))
    reference = comparison.original
    items, rows = [], []
    for key, image in images.items():
        piece = crops.cut(image, box)
        text = label(key)
        if reference is not None and key not in (ORIGINAL_KEY,):
            psnr, ssim = crops.crop_metrics(piece, crops.cut(reference, box))
            text += f" · {psnr:.2f} dB / {ssim:.3f}"
            rows.append(f"<tr><td>{label(key)}</td><td>{psnr:.2f}</td><td>{ssim:.4f}</td></tr>")
        items.append((crops.enlarge_nearest(piece, int(magnification)), text))
    where = f"Crop {box.size[0]}×{box.size[1]} px at x {box.x0}–{box.x1}, y {box.y0}–{box.y1}"
    if rows:
        html = (f'<div class="sr-crop-metrics"><b>{where}</b><table><tr><th>Method</th><th>crop PSNR (dB)</th>'
                f'<th>crop SSIM</th></tr>{"".join(rows)}</table></div>')
    else:
        html = f'<div class="sr-crop-metrics"><b>{where}</b> — no original, so no crop PSNR/SSIM.</div>'
    base = reference if reference is not None else images.get("esrgan", images[LR_KEY])
    factor = crops.overview_scale((height, width))
    overview = crops.draw_box(base, box)[::factor, ::factor]
    return items, html, overview


def difference_views(comparison: Comparison | None, show: bool, amplification: float) -> dict:
    """Gallery update with one heat map per method (hidden when ``show`` is off)."""
    if comparison is None or not show:
        return gr.update(visible=False)
    reference, name = _reference(comparison)
    if reference is None:
        return gr.update(visible=True, value=[], label="No reference to compare with")
    items = [(diffmaps.difference_map(run.image, reference, amplification),
              f"|{run.name} − {name}| ×{amplification:g}")
             for key, run in comparison.runs.items() if run.ok and not (name == "bicubic" and key == "bicubic")]
    return gr.update(visible=True, value=items,
                     label=f"Difference maps: |method − {name}| × {amplification:g} (dark = same, bright = different)")


def slider_view(comparison: Comparison | None, left: str | None, right: str | None) -> tuple | None:
    """The two images for the wipe slider."""
    if comparison is None:
        return None
    images = comparison.images()
    if left not in images or right not in images:
        return None
    return images[left], images[right]


def _slider_defaults(comparison: Comparison) -> tuple[list[tuple[str, str]], str, str]:
    keys = list(comparison.images())
    choices = [(label(k), k) for k in keys]
    methods = [k for k in keys if k in CARDS]
    left = "esrgan" if "esrgan" in methods else (methods[-1] if methods else LR_KEY)
    right = ORIGINAL_KEY if ORIGINAL_KEY in keys else ("bicubic" if "bicubic" in methods and left != "bicubic" else LR_KEY)
    return choices, left, right


# ---------------------------------------------------------------- the tab

def _source_path(file_path: str | None, image_path: str | None) -> str:
    path = file_path or image_path
    if not path:
        raise gr.Error("Upload an image file, paste or take a photo, or pick an example first.")
    return path


def build_compare_tab(pool: ModelPool) -> CompareComponents:
    """Lay out the Compare tab and wire its events (call inside ``gr.Tab``)."""
    state = gr.State(None)
    center = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            mode = gr.Radio(MODE_CHOICES, value=ORIGINAL, label="What are you giving the app?", elem_id="mode")
            gr.Markdown(MODE_HELP, elem_classes=["sr-help"])
            with gr.Tabs():
                with gr.Tab("Upload a file"):
                    upload = gr.File(label="Image file (PNG, JPEG, WebP, BMP, TIFF, GIF)", type="filepath",
                                     elem_id="upload", height=140)
                with gr.Tab("Paste, webcam or example"):
                    picture = gr.Image(label="Paste or take a photo", sources=["clipboard", "webcam"],
                                       type="filepath", image_mode=None, format="png", height=200,
                                       elem_id="picture")
            examples = available_examples()
            if examples:
                gr.Examples([[str(path), ex.mode] for ex, path in examples], inputs=[picture, mode],
                            example_labels=[ex.label for ex, _ in examples], label="Examples (scikit-image samples)")
        with gr.Column(scale=2, min_width=260):
            methods = gr.CheckboxGroup([(c.display_name, c.id) for c in CARDS.values()], value=list(CARDS),
                                       label="Methods", elem_id="methods")
            with gr.Accordion("Options", open=False):
                precision = gr.Radio([("exact (float32, as published)", "exact"), ("fast (reduced precision)", "fast")],
                                     value="exact", label="Precision")
            run_button = gr.Button("Enlarge ×4 and compare", variant="primary", elem_id="run")
            notes = gr.Markdown(elem_id="notes")

    panels: dict[str, Panel] = {}
    with gr.Row(elem_id="panels", elem_classes=["sr-panels"]):
        for key in PANEL_KEYS:
            with gr.Column(visible=False, min_width=240, elem_classes=["sr-panel"]) as column:
                image = gr.Image(label=label(key), format="png", interactive=False, show_label=True,
                                 elem_id=f"panel-{key}", buttons=["download", "fullscreen"], height=300)
                caption = gr.HTML(elem_id=f"caption-{key}")
            panels[key] = Panel(key, column, image, caption)
    gr.Markdown("Click any panel to zoom there.", elem_classes=["sr-hint"])

    table = gr.Dataframe(headers=presentation.TABLE_COLUMNS, label="Scores", interactive=False, wrap=True,
                         elem_id="metric-table", visible=False)
    download = gr.DownloadButton("⬇ Download everything (PNG outputs + metrics.json, zip)", visible=False,
                                 elem_id="download")

    with gr.Column(visible=False) as results:
        gr.Markdown("### Synchronized zoom\nThe same region from every image, enlarged with nearest neighbour "
                    "(no smoothing). Click any panel or the overview to move it.")
        with gr.Row():
            crop_size = gr.Slider(16, 256, value=DEFAULT_CROP, step=8, label="Crop size (px of the ×4 image)")
            magnification = gr.Slider(1, 8, value=DEFAULT_MAG, step=1, label="Magnification (nearest neighbour)")
        with gr.Row(equal_height=False):
            overview = gr.Image(label="Where the crop is", format="png", interactive=False, height=280,
                                elem_id="overview", scale=1)
            crop_metrics = gr.HTML(elem_id="crop-metrics")
        strip = gr.Gallery(label="Zoom strip", format="png", columns=7, height="auto", object_fit="contain",
                           allow_preview=False, elem_id="strip", elem_classes=["sr-strip"])

        gr.Markdown("### Difference maps")
        with gr.Row():
            show_diff = gr.Checkbox(False, label="Show difference maps", elem_id="show-diff")
            amplification = gr.Slider(1, 16, value=4, step=1, label="Amplification")
        diff_gallery = gr.Gallery(format="png", columns=5, height="auto", visible=False, allow_preview=False,
                                  elem_id="diff-maps", elem_classes=["sr-strip"])

        gr.Markdown("### Wipe slider\nDrag the handle to wipe between two images.")
        with gr.Row():
            left = gr.Dropdown(label="Left", elem_id="slider-left")
            right = gr.Dropdown(label="Right", elem_id="slider-right")
        slider = gr.ImageSlider(format="png", type="numpy", label="Wipe", elem_id="slider", max_height=480)

    # -------- events
    def compare(file_path: str | None, image_path: str | None, mode_value: str, chosen: list[str],
                precision_value: str) -> Iterator[dict]:
        """Stream panels in as each method finishes."""
        path = _source_path(file_path, image_path)
        try:
            upload_data = load_upload(path, mode_value)
        except UploadError as error:
            raise gr.Error(str(error), title="This image cannot be used") from None
        chosen = [m for m in CARDS if m in (chosen or [])]
        if not chosen:
            raise gr.Error("Tick at least one method.")
        comparison = prepare(upload_data.image, mode_value, upload_data.name, upload_data.notes)
        first: dict = {state: None, notes: presentation.notes_markdown(comparison), table: gr.update(visible=False),
                       download: gr.update(visible=False), results: gr.update(visible=False)}
        for key, panel in panels.items():
            if key == ORIGINAL_KEY and comparison.original is not None:
                first.update({panel.column: gr.update(visible=True), panel.image: comparison.original,
                              panel.caption: presentation.input_caption(comparison, key)})
            elif key == LR_KEY:
                first.update({panel.column: gr.update(visible=True), panel.image: comparison.lr_enlarged(),
                              panel.caption: presentation.input_caption(comparison, key)})
            elif key in chosen:
                first.update({panel.column: gr.update(visible=True), panel.image: gr.update(value=None, visible=True),
                              panel.caption: presentation.caption(None, label(key), pending=True)})
            else:
                first.update({panel.column: gr.update(visible=False), panel.image: None, panel.caption: ""})
        yield first
        for model_id in chosen:
            run = run_method(comparison, model_id, pool, precision_value)
            panel = panels[model_id]
            yield {panel.image: gr.update(value=run.image, visible=run.ok),
                   panel.caption: presentation.caption(run, run.name),
                   table: gr.update(value=presentation.metric_table(comparison), visible=True)}
        zip_path = build_zip(comparison, tempfile.mkdtemp(prefix="sr-arena-"))
        yield {state: comparison, download: gr.update(value=str(zip_path), visible=True)}

    def finish(comparison: Comparison | None, size: float, mag: float, show: bool, amp: float) -> dict:
        """After a comparison: zoom strip at the centre, difference maps, slider defaults."""
        if comparison is None:
            return {results: gr.update(visible=False)}
        height, width = comparison.hr_shape
        middle = (width // 2, height // 2)
        items, html, view = zoom_views(comparison, middle, int(size), int(mag))
        choices, left_key, right_key = _slider_defaults(comparison)
        return {results: gr.update(visible=True), center: middle, strip: items, crop_metrics: html, overview: view,
                diff_gallery: difference_views(comparison, show, amp),
                left: gr.update(choices=choices, value=left_key), right: gr.update(choices=choices, value=right_key),
                slider: slider_view(comparison, left_key, right_key)}

    def move_crop(comparison: Comparison | None, size: float, mag: float, evt: gr.SelectData) -> tuple:
        """Click on a full-size panel: the crop centre follows."""
        point = (int(evt.index[0]), int(evt.index[1]))
        return (point, *zoom_views(comparison, point, int(size), int(mag)))

    def move_crop_overview(comparison: Comparison | None, size: float, mag: float, evt: gr.SelectData) -> tuple:
        """Click on the (shrunk) overview: scale back to full-size coordinates."""
        factor = crops.overview_scale(comparison.hr_shape) if comparison is not None else 1
        point = (int(evt.index[0]) * factor, int(evt.index[1]) * factor)
        return (point, *zoom_views(comparison, point, int(size), int(mag)))

    def resize_crop(comparison: Comparison | None, point: tuple[int, int] | None, size: float, mag: float) -> tuple:
        return zoom_views(comparison, point, int(size), int(mag))

    panel_outputs = {c for p in panels.values() for c in (p.column, p.image, p.caption)}
    run_outputs = panel_outputs | {state, notes, table, download, results}
    finish_outputs = [results, center, strip, crop_metrics, overview, diff_gallery, left, right, slider]
    light = {"concurrency_limit": 4, "api_visibility": "private"}
    run_event = run_button.click(compare, [upload, picture, mode, methods, precision], run_outputs,
                                 concurrency_limit=HEAVY_CONCURRENCY, concurrency_id="heavy",
                                 api_visibility="undocumented", api_name="compare", show_progress="minimal")
    finished = run_event.success(finish, [state, crop_size, magnification, show_diff, amplification],
                                 finish_outputs, **light)
    zoom_outputs = [center, strip, crop_metrics, overview]
    for panel in panels.values():
        panel.image.select(move_crop, [state, crop_size, magnification], zoom_outputs, **light)
    overview.select(move_crop_overview, [state, crop_size, magnification], zoom_outputs, **light)
    for control in (crop_size, magnification):
        control.release(resize_crop, [state, center, crop_size, magnification], [strip, crop_metrics, overview],
                        **light)
    for control in (show_diff,):
        control.change(difference_views, [state, show_diff, amplification], diff_gallery, **light)
    amplification.release(difference_views, [state, show_diff, amplification], diff_gallery, **light)
    for control in (left, right):
        control.input(slider_view, [state, left, right], slider, **light)
    # One input at a time: a new file clears the picture and vice versa.
    upload.upload(lambda: None, None, picture, **light)
    picture.change(lambda value: gr.update() if value is None else None, picture, upload, **light)

    components = CompareComponents(state=state, mode=mode, methods=methods, panels=panels, table=table,
                                   run_button=run_button, finished=finished)
    # ---- quick-rating hook (issue 6): see the module docstring.
    if importlib.util.find_spec(f"{__package__}.quick_rating") is not None:
        from .quick_rating import build_quick_rating  # type: ignore[import-not-found]

        build_quick_rating(components)
    return components


# ---------------------------------------------------------------- public API

def enlarge_api(pool: ModelPool, path: str | None, model_id: str, mode: str) -> tuple[np.ndarray, dict]:
    """API: enlarge one upload with one method; returns the ×4 image and its metrics/provenance."""
    if not path:
        raise gr.Error("Send an image file.")
    if model_id not in CARDS:
        raise gr.Error(f"Unknown method {model_id!r}; one of: {', '.join(CARDS)}.")
    try:
        upload_data = load_upload(path, mode)
    except (UploadError, ValueError) as error:
        raise gr.Error(str(error)) from None
    comparison = prepare(upload_data.image, mode, upload_data.name, upload_data.notes)
    run = run_method(comparison, model_id, pool)
    if not run.ok:
        problem = run.unavailable and f"{run.unavailable.reason}. Fix: {run.unavailable.fix}" or run.error
        raise gr.Error(f"{run.name} could not run: {problem}")
    from .export import metrics_json

    return run.image, metrics_json(comparison)


def build_api(pool: ModelPool) -> None:
    """Hidden components behind the public ``/enlarge`` endpoint (file, method, mode → PNG, JSON)."""
    with gr.Column(visible=False):
        api_file = gr.File(type="filepath", label="image")
        api_method = gr.Dropdown(list(CARDS), value="esrgan", label="method")
        api_mode = gr.Dropdown(list((LOW_RES, ORIGINAL)), value=LOW_RES, label="mode")
        api_image = gr.Image(format="png", label="x4 output")
        api_info = gr.JSON(label="metrics and provenance")
        api_button = gr.Button("enlarge")
    api_button.click(lambda path, model_id, mode: enlarge_api(pool, path, model_id, mode),
                     [api_file, api_method, api_mode], [api_image, api_info], api_name="enlarge",
                     concurrency_limit=HEAVY_CONCURRENCY, concurrency_id="heavy")
