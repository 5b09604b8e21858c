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
import logging
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from typing import Any, Iterator

import gradio as gr
import numpy as np

from sr_arena import settings
from sr_models.registry import CARDS, paper_comparison

from . import crops, diffmaps, jobs, no_reference, presentation, scratch, style, uploads
from .example_cache import ExampleCache
from .examples import available as available_examples
from .inputs import PictureInput
from .export import ZoomChoice, build_zip
from .models import ModelPool
from .pipeline import DEFAULT_PRECISION, LR_KEY, ORIGINAL_KEY, Comparison, label, prepare, run_method, score_run
from .uploads import LOW_RES, MAX_LR_SIDE, ORIGINAL, SCALE, UploadError, load_upload

log = logging.getLogger(__name__)
#: How many comparisons may run at once (Gradio queue concurrency for the heavy events).
HEAVY_CONCURRENCY = settings.current().concurrency
PANEL_KEYS = [ORIGINAL_KEY, LR_KEY, *CARDS]
MODE_CHOICES = [("I have the original", ORIGINAL), ("This is already low-resolution", LOW_RES)]
MODE_HELP = (
    f"**I have the original** — the app shrinks your image ×1/4 with MATLAB-exact bicubic, enlarges that, "
    f"and scores every method against your image (PSNR/SSIM; originals up to {4 * MAX_LR_SIDE}×{4 * MAX_LR_SIDE}).  \n"
    f"**This is already low-resolution** — the app only enlarges it ×4; with no ground truth it reports "
    f"LR-consistency (does the result shrink back to your input?) instead. Up to {MAX_LR_SIDE}×{MAX_LR_SIDE}."
)
DEFAULT_CROP, DEFAULT_MAG = 48, 4
UPLOAD_TAB, PICTURE_TAB = "upload-tab", "picture-tab"
#: Arrow buttons under the zoom sliders (the page's arrow keys press them).
ARROWS = {"left": "←", "up": "↑", "down": "↓", "right": "→"}
PAPER_LABEL = "Paper comparison: SRResNet vs SRGAN, RRDB-PSNR vs ESRGAN, + bicubic"
PAPER_HELP = ("Ticks each GAN with its PSNR-oriented twin, as the SRGAN and ESRGAN papers compare them: the same "
              "network trained with a pixel loss (MSE/L1) alone vs with an adversarial loss — higher PSNR vs more "
              "natural texture (lower NIQE).")
#: Longest wait between two progress updates of the running panel (seconds).
PROGRESS_INTERVAL = 1.0


#: Outputs up to this many values (a 512² RGB image) are scored on the spot (tens of milliseconds).
QUICK_SCORE_VALUES = 512 * 512 * 3


class Scorer:
    """Scores finished runs in a thread of its own; :meth:`collect` returns the ids scored since last asked."""

    def __init__(self, comparison: Comparison) -> None:
        self.comparison = comparison
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sr-score")
        self._futures: list[tuple[str, Future]] = []

    def submit(self, model_ids: list[str]) -> None:
        """Score these runs (in order) in the scoring thread."""
        for model_id in model_ids:
            run = self.comparison.runs[model_id]
            self._futures.append((model_id, self._pool.submit(score_run, self.comparison, run)))

    @property
    def pending(self) -> set[str]:
        return {m for m, _f in self._futures}

    @property
    def idle(self) -> bool:
        return not self._futures

    def collect(self) -> list[str]:
        """Ids scored since the last call (a scoring error is raised here)."""
        done = [(m, f) for m, f in self._futures if f.done()]
        self._futures = [(m, f) for m, f in self._futures if not f.done()]
        for _model_id, future in done:
            future.result()
        return [m for m, _f in done]

    def wait(self, timeout: float) -> None:
        """Block until a run is scored or ``timeout`` seconds pass."""
        futures_wait([f for _m, f in self._futures], timeout=timeout, return_when=FIRST_COMPLETED)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class PanelFiles:
    """Lossless PNG files of one comparison's panels, in its own scratch folder (Gradio serves copies).

    Names are unique per request and files are renamed into place complete (:mod:`.scratch`), so users
    comparing the same image never share a path; :meth:`release` removes the folder.
    """

    def __init__(self, request_id: str) -> None:
        self.directory = scratch.default().folder(f"compare-{request_id}")

    def png(self, key: str, image: np.ndarray, existing: str | None = None) -> str:
        """The panel ``key``'s PNG: a copy of ``existing`` when given (a cached file), else written fast."""
        if existing and os.path.isfile(existing):
            return scratch.copy_file(self.directory, key, existing)
        return scratch.write_png(self.directory, key, image)

    def release(self) -> None:
        scratch.Scratch.release(self.directory)


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
    stop_button: Any = None


# ---------------------------------------------------------------- callbacks (plain functions)

def _reference(comparison: Comparison) -> tuple[np.ndarray | None, str]:
    """The image differences are measured against: the original, else bicubic's output."""
    if comparison.original is not None:
        return comparison.original, "original"
    bicubic = comparison.runs.get("bicubic")
    return (bicubic.image, "bicubic") if bicubic is not None and bicubic.ok else (None, "")


def zoom_views(comparison: Comparison | None, center: tuple[int, int] | None, size: int, magnification: int,
               ) -> tuple[str, str, np.ndarray | None]:
    """(zoom strip HTML, crop-metrics HTML, overview with the box) from cached outputs.

    Crop PSNR/SSIM need the original; crop NIQE needs none, so it is given in both modes
    (":data:`no_reference.MIN_SIDE` px at least, else "—" with the reason as a tooltip).
    """
    if comparison is None:
        return "", "", None
    images = comparison.images()
    height, width = comparison.hr_shape
    center = center or (width // 2, height // 2)
    box = crops.crop_box(center, int(size), (height, width))
    reference = comparison.original
    tiles, rows = [], []
    for key, image in images.items():
        piece = crops.cut(image, box)
        numbers, cells = [], ""
        if reference is not None and key != ORIGINAL_KEY:
            psnr, ssim = crops.crop_metrics(piece, crops.cut(reference, box))
            numbers.append(f"{psnr:.2f} dB · {ssim:.3f}")
            cells = f"<td>{psnr:.2f}</td><td>{ssim:.4f}</td>"
        elif reference is not None:
            cells = "<td>—</td><td>—</td>"
        score = no_reference.niqe(piece, crop_border=0) if key != LR_KEY else None
        if score is not None:
            numbers.append(f"NIQE {score:.2f}")
        if key != LR_KEY:
            rows.append(f"<tr><td>{label(key)}</td>{cells}{no_reference.cell(score, min(box.size))}</tr>")
        tiles.append(crops.Tile(key, label(key), piece, " · ".join(numbers)))
    where = f"Crop {box.size[0]}×{box.size[1]} px at x {box.x0}–{box.x1}, y {box.y0}–{box.y1}"
    heads = "<th>crop PSNR (dB)</th><th>crop SSIM</th>" if reference is not None else ""
    missing = "" if reference is not None else " — no original, so no crop PSNR/SSIM (NIQE needs none)."
    html = (f'<div class="sr-crop-metrics"><b>{where}</b>{missing}<table><tr><th>Method</th>{heads}'
            f'<th>crop NIQE (lower = more natural)</th></tr>{"".join(rows)}</table></div>')
    base = reference if reference is not None else images.get("esrgan", images[LR_KEY])
    factor = crops.overview_scale((height, width))
    overview = crops.draw_box(base, box)[::factor, ::factor]
    return crops.strip_html(tiles, int(magnification)), html, overview


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

def _original_file(comparison: Comparison, source: str, files: PanelFiles) -> str:
    """The original panel's file: the upload as it is when nothing was changed in it, else a fresh PNG."""
    if not comparison.notes and os.path.splitext(source)[1].lower() in (".png", ".jpg", ".jpeg", ".webp"):
        return source
    return files.png(ORIGINAL_KEY, comparison.original)


def _source_path(file_path: str | None, image_path: str | None) -> str:
    path = file_path or image_path
    if not path:
        raise gr.Error("Upload an image file, paste or take a photo, or pick an example first.")
    return path


def _example_cache(pool: ModelPool) -> ExampleCache:
    """The examples' disk cache, filled in the pool's loader thread once the models are ready."""
    cache = ExampleCache()
    if cache.inputs():
        pool.after_load(cache.fill, cache.status)
    return cache


def default_methods(mode_value: str) -> list[str]:
    """Methods ticked by default: the mode's re-ticking of every method but the PSNR-oriented twins (they double
    the SRGAN/ESRGAN work; the "paper comparison" preset ticks them). All of them for a low-resolution photo; for
    an original, not those trained for real-world degradations (Real-ESRGAN restores rather than inverts bicubic
    ×1/4, and scores below bicubic)."""
    return retick_for_mode(mode_value, [m for m, card in CARDS.items() if not card.twin_of])


def retick_for_mode(mode_value: str, chosen: list[str] | None) -> list[str]:
    """The person's choice with the real-world methods ticked in low-res mode and unticked for an original."""
    real_world = {c.id for c in CARDS.values() if c.real_world}
    kept = [m for m in (chosen or []) if m not in real_world]
    wanted = set(kept) | (real_world if mode_value == LOW_RES else set())
    return [m for m in CARDS if m in wanted]


def build_compare_tab(pool: ModelPool, example_cache: ExampleCache | None = None) -> CompareComponents:
    """Lay out the Compare tab and wire its events (call inside ``gr.Tab``)."""
    example_cache = example_cache or _example_cache(pool)
    state = gr.State(None)
    job_id = gr.State(None)
    center = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            mode = gr.Radio(MODE_CHOICES, value=ORIGINAL, label="What are you giving the app?", elem_id="mode")
            gr.Markdown(MODE_HELP, elem_classes=["sr-help"])
            with gr.Tabs(elem_id="input-tabs") as input_tabs:
                with gr.Tab("Upload a file", id=UPLOAD_TAB):
                    upload = gr.File(label="Image file (PNG, JPEG, WebP, BMP, TIFF, GIF)", type="filepath",
                                     elem_id="upload", height=140)
                with gr.Tab("Paste, webcam or example", id=PICTURE_TAB):
                    picture = PictureInput(label="Paste or take a photo", sources=["clipboard", "webcam"],
                                           type="filepath", image_mode=None, format="png", height=200,
                                           elem_id="picture")  # reaches the validator undecoded
            input_info = gr.HTML(uploads.input_summary(None, ORIGINAL), elem_id="input-info")
            examples = available_examples()
            example_block = None
            if examples:
                example_block = gr.Examples([[str(path), ex.mode] for ex, path in examples], inputs=[picture, mode],
                                            example_labels=[ex.label for ex, _ in examples],
                                            label="Examples (scikit-image samples; click one to run it)")
        with gr.Column(scale=2, min_width=260):
            methods = gr.CheckboxGroup([(c.display_name, c.id) for c in CARDS.values()], value=default_methods(ORIGINAL),
                                       label="Methods", elem_id="methods")
            paper_button = gr.Button(PAPER_LABEL, elem_id="paper-preset", size="sm", variant="secondary")
            gr.Markdown(PAPER_HELP, elem_classes=["sr-help"])
            mode.change(retick_for_mode, [mode, methods], methods, queue=False, show_progress="hidden")
            with gr.Accordion("Options", open=False):
                precision = gr.Radio([("exact (float32, as published)", "exact"), ("fast (reduced precision)", "fast")],
                                     value=DEFAULT_PRECISION, label="Precision")
            with gr.Row():
                run_button = gr.Button("Enlarge ×4 and compare", variant="primary", elem_id="run", scale=3)
                stop_button = gr.Button("Stop", variant="stop", elem_id="stop", visible=False, scale=1)
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
    gr.Markdown(presentation.niqe_help(), elem_id="niqe-help", elem_classes=["sr-hint"])
    download = gr.DownloadButton("⬇ Download everything (PNG outputs + metrics.json, zip)", visible=False,
                                 elem_id="download")

    with gr.Column(visible=False) as results:
        with gr.Column(elem_id="zoom"):
            gr.Markdown("### Synchronized zoom\nThe same region from every image, enlarged with nearest neighbour "
                        "(no smoothing), each tile *magnification* × the crop's size on screen. Click any panel or "
                        "the overview to move it, or click the strip and use the arrow keys.")
            with gr.Row():
                crop_size = gr.Slider(16, 256, value=DEFAULT_CROP, step=8, label="Crop size (px of the ×4 image)",
                                      elem_id="crop-size")
                magnification = gr.Slider(1, 8, value=DEFAULT_MAG, step=1, label="Magnification (nearest neighbour)",
                                         elem_id="magnification")
            with gr.Row(elem_classes=["sr-arrows"]):
                arrows = {direction: gr.Button(symbol, elem_id=f"crop-{direction}", size="sm", min_width=48,
                                               scale=0) for direction, symbol in ARROWS.items()}
            with gr.Row(equal_height=False):
                overview = gr.Image(label="Where the crop is", format="png", interactive=False, height=280,
                                    elem_id="overview", scale=1)
                crop_metrics = gr.HTML(elem_id="crop-metrics")
            strip = gr.HTML(elem_id="strip", elem_classes=["sr-strip"], js_on_load=style.PAGE_JS)

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
    def panel_updates(comparison: Comparison, job: jobs.Job, files: PanelFiles, source: str) -> dict:
        """The first update: inputs shown, every ticked method pending with its estimate, Stop shown.

        The original is the uploaded file itself when the app changed nothing in it (no re-encoding);
        the low-res panel is the LR image, drawn ×4 with nearest neighbour by the browser (CSS).
        """
        first: dict = {state: None, job_id: comparison.request_id, notes: presentation.notes_markdown(comparison),
                       table: gr.update(visible=False), download: gr.update(visible=False),
                       results: gr.update(visible=False), stop_button: gr.update(visible=True, interactive=True)}
        views = {v.model_id: v for v in job.view()}
        for key, panel in panels.items():
            if key == ORIGINAL_KEY and comparison.original is not None:
                first.update({panel.column: gr.update(visible=True), panel.image: _original_file(comparison, source, files),
                              panel.caption: presentation.input_caption(comparison, key)})
            elif key == LR_KEY:
                first.update({panel.column: gr.update(visible=True), panel.image: files.png(key, comparison.lr),
                              panel.caption: presentation.input_caption(comparison, key)})
            elif key in views:
                first.update({panel.column: gr.update(visible=True), panel.image: gr.update(value=None, visible=True),
                              panel.caption: presentation.pending_caption(label(key), views[key])})
            else:
                first.update({panel.column: gr.update(visible=False), panel.image: None, panel.caption: ""})
        return first

    def progress_updates(job: jobs.Job, shown: dict[str, str]) -> dict:
        """Captions of the pending and running panels that changed since they were last sent."""
        updates = {}
        for view in job.view():
            if view.state == jobs.PENDING:
                text = presentation.pending_caption(label(view.model_id), view)
            elif view.state == jobs.RUNNING:
                text = presentation.running_caption(label(view.model_id), view)
            else:
                continue
            if shown.get(view.model_id) != text:
                shown[view.model_id] = text
                updates[panels[view.model_id].caption] = text
        return updates

    def result_update(comparison: Comparison, model_id: str, files: PanelFiles) -> dict:
        """A finished (or stopped) method's panel: its image at once, scores to follow."""
        run, panel = comparison.runs[model_id], panels[model_id]
        image = files.png(model_id, run.image, run.png) if run.ok else None
        return {panel.image: gr.update(value=image, visible=run.ok),
                panel.caption: presentation.method_caption(comparison, model_id)}

    def twin_updates(comparison: Comparison) -> dict:
        """Every twin's caption again, now that both checkpoints of each pair are known."""
        return {panels[m].caption: presentation.method_caption(comparison, m) for m in comparison.runs
                if CARDS[m].twin_of}

    def scored_updates(comparison: Comparison, model_ids: list[str]) -> dict:
        """Captions with scores, and the table, for runs just scored."""
        update = {panels[m].caption: presentation.method_caption(comparison, m) for m in model_ids}
        if model_ids:
            update[table] = gr.update(value=presentation.metric_table(comparison), visible=True)
        return update

    def stream(comparison: Comparison, job: jobs.Job, files: PanelFiles) -> Iterator[dict]:
        """Panels as methods finish, progress every ``PROGRESS_INTERVAL`` s, scores right after each image.

        Small outputs (and cached ones) are scored at once; large ones in a scoring thread, so a panel
        is never held back by the previous method's scores, and not before the first network's panel
        is out (scoring a 1024² output costs ~0.5 s of CPU the first learned panel should have).
        """
        shown: dict[str, str] = {}
        scorer = Scorer(comparison)
        held: list[str] = []
        network_done = False
        while True:
            ended = job.finished(PROGRESS_INTERVAL)
            if ended is None and not held:
                if scorer.idle:
                    break
                scorer.wait(PROGRESS_INTERVAL)
            update: dict = {}
            for model_id in ended or []:
                run = comparison.runs[model_id]
                if run.ok and (run.cached or run.image.size <= QUICK_SCORE_VALUES):
                    score_run(comparison, run)
                update.update(result_update(comparison, model_id, files))
                network_done |= run.ok and model_id != "bicubic"
                if run.ok and run.lr_consistency is None:
                    held.append(model_id)
            if held and (network_done or ended is None):
                scorer.submit(held)
                held = []
            quick = [m for m in ended or [] if m not in scorer.pending and comparison.runs[m].lr_consistency is not None]
            update.update(scored_updates(comparison, quick + scorer.collect()))
            update.update(progress_updates(job, shown))
            if update:
                if ended:
                    log.info("comparison %s: %s sent at %.2f s", comparison.request_id, ",".join(ended),
                             time.perf_counter() - comparison.created)
                yield update
        scorer.close()

    def compare(file_path: str | None, image_path: str | None, mode_value: str, chosen: list[str],
                precision_value: str, request: gr.Request = None) -> Iterator[dict]:
        """Run the ticked methods cheapest first; stream panels, progress and scores; Stop keeps what finished."""
        began = time.perf_counter()
        path = _source_path(file_path, image_path)
        try:
            upload_data = load_upload(path, mode_value)
        except UploadError as error:
            raise gr.Error(str(error), title="This image cannot be used") from None
        chosen = [m for m in CARDS if m in (chosen or [])]
        if not chosen:
            raise gr.Error("Tick at least one method.")
        comparison = prepare(upload_data.image, mode_value, upload_data.name, upload_data.notes)
        job = jobs.Job(comparison, chosen, pool, precision_value or DEFAULT_PRECISION, disk=example_cache.disk,
                       persist=example_cache.is_example(comparison))
        jobs.register(job, getattr(request, "session_hash", None))
        job.start()  # the cheapest method runs while the inputs' panels are encoded and sent
        log.info("comparison %s: upload read and LR made in %.2f s", comparison.request_id, time.perf_counter() - began)
        files = PanelFiles(comparison.request_id)
        try:
            first, rest = panel_updates(comparison, job, files, path), stream(comparison, job, files)
            if all(slot.cached for slot in job.slots) and job.join(5.0):
                first.update(next(rest, {}))  # everything is cached (an example): one update shows it all
            yield first
            yield from rest
        finally:
            job.stop()  # the browser went away (or the event was cancelled): stop computing for nobody
        zip_path = build_zip(comparison, files.directory, ZoomChoice(None, DEFAULT_CROP, DEFAULT_MAG))
        yield {state: comparison, job_id: None, download: gr.update(value=str(zip_path), visible=True),
               stop_button: gr.update(visible=False), **twin_updates(comparison),
               table: gr.update(value=presentation.metric_table(comparison, niqe=True), visible=True)}
        files.release()  # Gradio has copied every file yielded above into its cache (delete_cache ages those)

    def compare_picture(image_path: str | None, mode_value: str, chosen: list[str], precision_value: str,
                        request: gr.Request = None) -> Iterator[dict]:
        """An example was clicked: run it at once (it is in the picture input; any file upload is ignored)."""
        yield from compare(None, image_path, mode_value, chosen, precision_value, request)

    def stop_comparison(request_id: str | None, request: gr.Request = None) -> dict:
        """Stop: cancel the session's running comparison between layers/tiles; finished panels stay."""
        stopped = jobs.stop(request_id) or jobs.stop_session(getattr(request, "session_hash", None))
        return gr.update(interactive=not stopped, value="Stopping…" if stopped else "Stop")

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

    def move_crop_lr(comparison: Comparison | None, size: float, mag: float, evt: gr.SelectData) -> tuple:
        """Click on the low-res panel (shown at LR size): scale up to full-size coordinates."""
        point = (int(evt.index[0]) * SCALE, int(evt.index[1]) * SCALE)
        return (point, *zoom_views(comparison, point, int(size), int(mag)))

    def move_crop_overview(comparison: Comparison | None, size: float, mag: float, evt: gr.SelectData) -> tuple:
        """Click on the (shrunk) overview: scale back to full-size coordinates."""
        factor = crops.overview_scale(comparison.hr_shape) if comparison is not None else 1
        point = (int(evt.index[0]) * factor, int(evt.index[1]) * factor)
        return (point, *zoom_views(comparison, point, int(size), int(mag)))

    def resize_crop(comparison: Comparison | None, point: tuple[int, int] | None, size: float, mag: float) -> tuple:
        return zoom_views(comparison, point, int(size), int(mag))

    def refresh_zip(comparison: Comparison | None, point: tuple[int, int] | None, size: float, mag: float,
                    amp: float) -> dict:
        """The download again, with the crop, magnification and amplification now on the page."""
        if comparison is None:
            return gr.update()
        folder = scratch.default().folder(f"zip-{comparison.request_id}")
        zoom = ZoomChoice(point, int(size), int(mag), float(amp))
        return gr.update(value=str(build_zip(comparison, folder, zoom)), visible=True)

    def nudge(direction: str):
        """An arrow button (or key): the crop moves half its size that way."""
        def move(comparison: Comparison | None, point: tuple[int, int] | None, size: float, mag: float) -> tuple:
            if comparison is None:
                return (point, *zoom_views(None, None, int(size), int(mag)))
            height, width = comparison.hr_shape
            point = crops.moved(point or (width // 2, height // 2), direction, int(size), (height, width))
            return (point, *zoom_views(comparison, point, int(size), int(mag)))
        return move

    panel_outputs = {c for p in panels.values() for c in (p.column, p.image, p.caption)}
    run_outputs = panel_outputs | {state, job_id, notes, table, download, results, stop_button}
    finish_outputs = [results, center, strip, crop_metrics, overview, diff_gallery, left, right, slider]
    light = {"concurrency_limit": 4, "api_visibility": "private"}
    run_event = run_button.click(compare, [upload, picture, mode, methods, precision], run_outputs,
                                 concurrency_limit=HEAVY_CONCURRENCY, concurrency_id="heavy",
                                 api_visibility="undocumented", api_name="compare", show_progress="minimal")
    finished = run_event.success(finish, [state, crop_size, magnification, show_diff, amplification],
                                 finish_outputs, **light)
    stop_button.click(stop_comparison, [job_id], stop_button, concurrency_limit=None, api_visibility="private",
                      show_progress="hidden")
    run_event.then(lambda: gr.update(visible=False, interactive=True, value="Stop"), None, stop_button,
                   api_visibility="private", show_progress="hidden")
    if example_block is not None:
        example_event = example_block.load_input_event.then(
            compare_picture, [picture, mode, methods, precision], run_outputs, concurrency_limit=HEAVY_CONCURRENCY,
            concurrency_id="heavy", api_visibility="private", show_progress="minimal")
        example_event.success(finish, [state, crop_size, magnification, show_diff, amplification],
                              finish_outputs, **light)
        example_event.then(lambda: gr.update(visible=False, interactive=True, value="Stop"), None, stop_button,
                           api_visibility="private", show_progress="hidden")
    zoom_outputs = [center, strip, crop_metrics, overview]
    zoom_events = [panel.image.select(move_crop_lr if key == LR_KEY else move_crop, [state, crop_size, magnification],
                                      zoom_outputs, **light) for key, panel in panels.items()]
    zoom_events.append(overview.select(move_crop_overview, [state, crop_size, magnification], zoom_outputs, **light))
    zoom_events += [control.release(resize_crop, [state, center, crop_size, magnification],
                                    [strip, crop_metrics, overview], **light) for control in (crop_size, magnification)]
    zoom_events += [button.click(nudge(direction), [state, center, crop_size, magnification], zoom_outputs, **light,
                                 show_progress="hidden", trigger_mode="always_last")
                    for direction, button in arrows.items()]
    zoom_events.append(amplification.release(lambda: None, None, None, api_visibility="private"))
    for event in zoom_events:  # the zip follows the zoom on the page (export.ZoomChoice)
        event.then(refresh_zip, [state, center, crop_size, magnification, amplification], download, **light,
                   show_progress="hidden")
    for control in (show_diff,):
        control.change(difference_views, [state, show_diff, amplification], diff_gallery, **light)
    amplification.release(difference_views, [state, show_diff, amplification], diff_gallery, **light)
    for control in (left, right):
        control.input(slider_view, [state, left, right], slider, **light)
    # One input at a time: a new file clears the picture and vice versa.
    upload.upload(lambda: None, None, picture, **light)
    picture.change(lambda value: gr.update() if value is None else None, picture, upload, **light)
    # Inputs say where they are: an example shows in the (now selected) picture tab with its mode; a new
    # upload after an example goes back to the default mode (a mode the person picked is kept).
    mode_by_example = gr.State(False)
    # Every input-line update runs in one queue, in the order the page sent them, so the last one (which
    # read the latest inputs) is the one shown; run concurrently, an older one could finish last.
    summary_events = {"concurrency_limit": 1, "concurrency_id": "input-info", "api_visibility": "private",
                      "show_progress": "hidden"}
    if example_block is not None:
        example_block.load_input_event.then(lambda: (gr.Tabs(selected=PICTURE_TAB), True), None,
                                             [input_tabs, mode_by_example], **light, show_progress="hidden")
    mode.input(lambda: False, None, mode_by_example, **light, show_progress="hidden")
    for source in (upload, picture):
        # gr.skip() when the mode was the person's: writing back the mode read at upload time would undo
        # a mode clicked while the upload event was in flight
        source.upload(lambda by_example: (ORIGINAL if by_example else gr.skip(), False),
                      mode_by_example, [mode, mode_by_example], **light, show_progress="hidden").then(
            uploads.input_summary_of, [upload, picture, mode], input_info, **summary_events)
    for control in (upload, picture, mode):
        control.change(uploads.input_summary_of, [upload, picture, mode], input_info, **summary_events)
    paper_button.click(lambda: paper_comparison(), None, methods, queue=False, show_progress="hidden")

    components = CompareComponents(state=state, mode=mode, methods=methods, panels=panels, table=table,
                                   run_button=run_button, finished=finished, stop_button=stop_button)
    # ---- quick-rating hook (issue 6): see the module docstring.
    if importlib.util.find_spec(f"{__package__}.quick_rating") is not None:
        from .quick_rating import build_quick_rating  # type: ignore[import-not-found]

        build_quick_rating(components)
    return components


# ---------------------------------------------------------------- public API

def enlarge_api(pool: ModelPool, path: str | None, model_id: str, mode: str) -> tuple[str, dict]:
    """API: enlarge one upload with one method; returns the ×4 PNG's path and its metrics/provenance.

    The PNG is written complete under a name unique to this request (:mod:`.scratch`): a NumPy array
    would be saved by Gradio to one content-hash path shared by every identical request, rewritten
    while other clients download it (issue 11). The scratch copy ages out (``SR_ARENA_TEMP_MAX_AGE``).
    """
    if not path:
        raise gr.Error("Send an image file.")
    if model_id not in CARDS:
        raise gr.Error(f"Unknown method {model_id!r}; one of: {', '.join(CARDS)}.")
    try:
        upload_data = load_upload(path, mode)
    except (UploadError, ValueError) as error:
        raise gr.Error(str(error)) from None
    comparison = prepare(upload_data.image, mode, upload_data.name, upload_data.notes)
    run = run_method(comparison, model_id, pool, DEFAULT_PRECISION)
    if not run.ok:
        problem = run.unavailable and f"{run.unavailable.reason}. Fix: {run.unavailable.fix}" or run.error
        raise gr.Error(f"{run.name} could not run: {problem}")
    from .export import metrics_json

    folder = scratch.default().folder(f"enlarge-{comparison.request_id}")
    return scratch.write_png(folder, f"x4-{model_id}", run.image), metrics_json(comparison)


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
