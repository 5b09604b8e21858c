"""The app as a server: ``python app.py`` answers its public API through gradio_client; unusual
uploads are handled, bad ones refused with a clear message, and the next request still works."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browser_support import has_weights, serve_app
from ui_images import pattern, write_cases


@pytest.fixture(scope="module")
def app_url():
    with serve_app(log_name="api-app-server") as url:
        yield url


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return write_cases(tmp_path_factory.mktemp("api-cases"))


def test_build_demo_is_importable_without_launching():
    from app import build_demo

    assert build_demo().title == "SR Arena"


def test_enlarge_through_the_api(client, tmp_path: Path):
    from gradio_client import handle_file

    source = tmp_path / "lr.png"
    lr = pattern(20, 18)
    Image.fromarray(lr).save(source)
    image_path, info = client.predict(handle_file(str(source)), "srgan", "low-res", api_name="/enlarge")
    assert Path(image_path).suffix == ".png"
    assert Image.open(image_path).size == (72, 80)
    run = info["methods"]["srgan"]
    from sr_models.loader import load_model
    from sr_models.paths import SHARED_DIR

    # the public re-implementation when ../shared holds it; otherwise the house weights (sources in order)
    expected = ("public re-implementation" if (SHARED_DIR / "weights" / "srgan" / "netG_epoch_4_100.pth").is_file()
                else load_model("srgan").provenance.kind)
    assert run["provenance"]["kind"] == expected and run["lr_consistency"] > 20


def test_original_mode_through_the_api_reports_psnr(client, tmp_path: Path):
    from gradio_client import handle_file

    source = tmp_path / "hr.png"
    Image.fromarray(pattern(70, 66)).save(source)
    image_path, info = client.predict(handle_file(str(source)), "bicubic", "original", api_name="/enlarge")
    assert Image.open(image_path).size == (64, 68)  # modcropped to multiples of 4
    assert 15 < info["methods"]["bicubic"]["psnr"] < 50


@pytest.mark.parametrize("name", ["grey", "sixteen_bit", "palette", "cmyk", "alpha", "animated", "exif_rotated"])
def test_unusual_images_are_handled(client, cases, name):
    from gradio_client import handle_file

    image_path, info = client.predict(handle_file(str(cases[name])), "bicubic", "low-res", api_name="/enlarge")
    output = np.asarray(Image.open(image_path))
    assert output.ndim == 3 and output.shape[2] == 3 and info["notes"]
    expected = (160, 128) if name == "exif_rotated" else (128, 128)
    assert output.shape[:2] == expected


@pytest.mark.parametrize("name, message", [
    ("bomb", "decompression bomb"),
    ("too_large", "at most 512×512"),
    ("corrupt", "damaged or not a complete image"),
    ("not_image", "not an image the app can read"),
])
def test_bad_upload_is_a_clear_error_and_the_app_keeps_serving(client, cases, name, message):
    from gradio_client import handle_file

    with pytest.raises(Exception, match=message):
        client.predict(handle_file(str(cases[name])), "bicubic", "low-res", api_name="/enlarge")
    image_path, _ = client.predict(handle_file(str(cases["rgb"])), "bicubic", "low-res", api_name="/enlarge")
    assert Image.open(image_path).size == (128, 128)


def test_unavailable_method_says_how_to_fix(cases, tmp_path_factory):
    """With a checkpoints directory that holds no AWSRN/SAN files (house weights included), both
    methods are unavailable with the fix, and the others keep working."""
    from gradio_client import Client, handle_file

    from sr_models.paths import CHECKPOINTS_DIR

    bare = tmp_path_factory.mktemp("bare-checkpoints")
    if (CHECKPOINTS_DIR / "converted").is_dir():  # reuse the converted ESRGAN instead of converting again
        (bare / "converted").symlink_to(CHECKPOINTS_DIR / "converted")
    with serve_app({"SR_ARENA_CHECKPOINTS": str(bare)}, log_name="api-bare-app-server") as url:
        client = Client(url, verbose=False)
        for missing, fix in (("awsrn", "AWSRN_x4.pt"), ("san", "SAN_BI4X.pt")):
            with pytest.raises(Exception, match=fix):
                client.predict(handle_file(str(cases["rgb"])), missing, "low-res", api_name="/enlarge")
        image_path, _ = client.predict(handle_file(str(cases["rgb"])), "bicubic", "low-res", api_name="/enlarge")
        assert Image.open(image_path).size == (128, 128)


def test_house_weights_are_labelled_trained_by_this_project(client, cases):
    from gradio_client import handle_file

    from sr_models.loader import load_model

    if not has_weights("awsrn"):
        pytest.skip("no AWSRN checkpoint here")
    provenance = load_model("awsrn").provenance.as_dict()
    _, info = client.predict(handle_file(str(cases["rgb"])), "awsrn", "low-res", api_name="/enlarge")
    shown = info["methods"]["awsrn"]["provenance"]
    assert shown["kind"] == provenance["kind"] and shown["sha256"] == provenance["sha256"]
    assert shown["description"] == provenance["description"]
    if shown["kind"] == "trained by this project":
        assert "trained by this project" in shown["description"]
