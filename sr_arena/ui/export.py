"""The download: every image as lossless PNG plus a JSON of metrics and provenance, zipped."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from PIL import Image

from .pipeline import Comparison, in_registry_order


def _png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def metrics_json(comparison: Comparison) -> dict:
    """Metrics and provenance of every run, as plain JSON data."""
    methods = {}
    for run in in_registry_order(comparison.runs):
        model_id = run.model_id
        methods[model_id] = {
            "name": run.name, "psnr": run.psnr, "ssim": run.ssim, "lr_consistency": run.lr_consistency,
            "seconds": run.seconds, "precision": run.precision, "precision_requested": run.requested,
            "precision_note": run.note or None, "parameters": run.parameters,
            "provenance": run.provenance, "file": f"{model_id}.png" if run.ok else None,
            "unavailable": None if run.unavailable is None else {"reason": run.unavailable.reason,
                                                                  "fix": run.unavailable.fix},
            "error": run.error, "stopped": run.stopped, "cached": run.cached,
        }
    return {
        "mode": comparison.mode, "name": comparison.name, "scale": 4, "notes": comparison.notes,
        "lr_size": list(comparison.lr.shape[1::-1]),
        "metrics": "PSNR/SSIM on BT.601 Y, 4-pixel border shaved, against the original; "
                   "LR-consistency = PSNR(Y) of the output shrunk x1/4 (MATLAB bicubic) vs the input",
        "methods": methods,
    }


def build_zip(comparison: Comparison, directory: str | Path) -> Path:
    """Write ``sr-arena-<name>-<id>.zip`` into ``directory`` and return its path."""
    path = Path(directory) / f"sr-arena-{comparison.name}-{comparison.request_id}.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if comparison.original is not None:
            archive.writestr("original.png", _png_bytes(comparison.original))
        archive.writestr("lr_input.png", _png_bytes(comparison.lr))
        for run in in_registry_order(comparison.runs):
            model_id = run.model_id
            if run.ok:
                archive.writestr(f"{model_id}.png", _png_bytes(run.image))
        archive.writestr("metrics.json", json.dumps(metrics_json(comparison), indent=2))
    return path
