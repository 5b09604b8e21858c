"""Client half of .ci/space_rehearsal.sh: wait for the app, run every method once through
gradio_client, check each returns a real x4 image, print start-up time, seconds and peak RSS."""
from __future__ import annotations

import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from sr_models.registry import CARDS

LR_SIDE = 64  # the LR image every method enlarges (a 256² output)
START_TIMEOUT_S = 600


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


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
    failures = []
    for model_id in CARDS:
        start = time.monotonic()
        try:
            path, info = client.predict(handle_file(str(folder / "lr.png")), model_id, "low-res", api_name="/enlarge")
            with Image.open(path) as image:
                out = np.asarray(image.convert("RGB"))
        except Exception as error:  # noqa: BLE001 - reported and counted
            failures.append(f"{model_id}: {type(error).__name__}: {error}")
            continue
        run = info["methods"][model_id]
        real = out.shape == (4 * LR_SIDE, 4 * LR_SIDE, 3) and out.std() > 1 and (run["lr_consistency"] or 0) > 20
        if not real:
            failures.append(f"{model_id}: not a real x4 image ({out.shape}, LR-consistency {run['lr_consistency']})")
        print(f"rehearsal: {model_id:11s} {run['seconds']:7.2f} s compute, {time.monotonic() - start:7.2f} s "
              f"round trip (first call after start), {run['provenance'].get('kind') if run['provenance'] else '-'}")
    print(f"rehearsal: every method answered {time.monotonic() - began:.1f} s after launch; "
          f"server peak RSS {peak_rss_mib(pid):.0f} MiB")
    if failures:
        raise SystemExit("rehearsal failed:\n" + "\n".join(failures))
    print("rehearsal: OK")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
