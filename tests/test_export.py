"""The slide-ready download (issue 13 item 5): crops, difference maps, CSV scores, index.html, and a
metrics.json that names checkpoints by file name and sha256 — never by a server path.

A real comparison: bicubic and AWSRN with the house checkpoint (a real file under the repository, so
its provenance carries an absolute path that must not reach the zip).
"""
from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from sr_arena.ui.export import ZoomChoice, build_zip, metrics_json, scrub
from sr_arena.ui.models import ModelPool
from sr_arena.ui.pipeline import Comparison, prepare, run_method
from sr_models import niqe
from sr_models.checkpoint_io import sha256_file
from sr_models.paths import CHECKPOINTS_DIR, REPO_ROOT
from ui_images import pattern

HOUSE_AWSRN = CHECKPOINTS_DIR / "house" / "awsrn_x4.safetensors"
#: A path from the file-system root in any string of the JSON (not a URL's path).
ABSOLUTE = re.compile(r"(?<![\w:/.~-])/[^\s/]+/")


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    if not HOUSE_AWSRN.is_file():
        pytest.skip(f"{HOUSE_AWSRN} missing (the house AWSRN checkpoint is committed)")
    pool = ModelPool(["bicubic", "awsrn"]).start()
    comparison = prepare(pattern(208, 112), "original", name="pattern")
    for model_id in ("bicubic", "awsrn"):
        assert run_method(comparison, model_id, pool).ok
    return comparison


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


class _Sources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def test_metrics_json_names_checkpoints_by_name_and_sha256_never_by_server_path(comparison, tmp_path):
    assert str(REPO_ROOT) in comparison.runs["awsrn"].provenance["file"]  # what the run knows
    with zipfile.ZipFile(build_zip(comparison, tmp_path)) as archive:
        text = archive.read("metrics.json").decode()
    assert str(REPO_ROOT) not in text and str(CHECKPOINTS_DIR) not in text
    metrics = json.loads(text)
    assert [s for s in _strings(metrics) if ABSOLUTE.search(s)] == []
    awsrn = metrics["methods"]["awsrn"]["provenance"]
    assert awsrn["checkpoint"] == "awsrn_x4.safetensors" and awsrn["sha256"] == sha256_file(HOUSE_AWSRN)
    assert metrics_json(comparison)["methods"]["awsrn"]["provenance"]["checkpoint"] == "awsrn_x4.safetensors"


def test_zip_holds_crops_difference_maps_csv_scores_and_an_index_page(comparison, tmp_path):
    zoom = ZoomChoice(center=(30, 40), size=32, magnification=3, amplification=8)
    with zipfile.ZipFile(build_zip(comparison, tmp_path, zoom)) as archive:
        names = set(archive.namelist())
        read = archive.read
        assert {"original.png", "lr_input.png", "bicubic.png", "awsrn.png", "metrics.json", "scores.csv",
                "crop_scores.csv", "index.html", "crops/overview.png", "crops/original.png", "crops/lr.png",
                "crops/bicubic.png", "crops/awsrn.png", "diff/bicubic.png", "diff/awsrn.png",
                "diff/legend.png"} <= names
        crop = np.asarray(Image.open(io.BytesIO(read("crops/awsrn.png"))))
        scores = list(csv.DictReader(io.StringIO(read("scores.csv").decode())))
        crop_scores = list(csv.DictReader(io.StringIO(read("crop_scores.csv").decode())))
        page = read("index.html").decode()
        metrics = json.loads(read("metrics.json"))
    # the crop: 32 px at (30, 40) → x 14–46, y 24–56, enlarged ×3 with nearest neighbour
    expected = np.repeat(np.repeat(comparison.runs["awsrn"].image[24:56, 14:46], 3, axis=0), 3, axis=1)
    assert np.array_equal(crop, expected)
    assert [row["id"] for row in scores] == ["bicubic", "awsrn"]
    awsrn = scores[1]
    assert float(awsrn["psnr_db"]) == pytest.approx(comparison.runs["awsrn"].psnr, abs=1e-4)
    assert awsrn["checkpoint"] == "awsrn_x4.safetensors" and awsrn["sha256"] == sha256_file(HOUSE_AWSRN)
    assert [(r["id"], r["x0"], r["y0"], r["x1"], r["y1"]) for r in crop_scores][3] == ("awsrn", "14", "24", "46", "56")
    assert crop_scores[0]["crop_psnr_db"] == "" and float(crop_scores[3]["crop_psnr_db"]) > 10
    parser = _Sources()
    parser.feed(page)
    assert set(parser.sources) <= names and {"crops/awsrn.png", "diff/awsrn.png", "awsrn.png"} <= set(parser.sources)
    assert "AWSRN" in page and str(REPO_ROOT) not in page
    if niqe.available():  # 208×112 outputs hold two 96² patches after the 4-px border
        assert float(awsrn["niqe"]) == pytest.approx(niqe.calculate_niqe(comparison.runs["awsrn"].image, 4), abs=1e-4)
        assert metrics["methods"]["awsrn"]["niqe"] == pytest.approx(float(awsrn["niqe"]), abs=1e-4)


def test_scrub_keeps_urls_and_ratios_and_drops_directories():
    assert scrub({"a": ["/srv/app/checkpoints/x.pth", "https://h.org/a/b.pth", "MSE/L1, x1/4"]}) == \
        {"a": ["x.pth", "https://h.org/a/b.pth", "MSE/L1, x1/4"]}
