"""Adding a method touches one place: a toy architecture (its ``Architecture`` spec) and its card are
registered in ``sr_models.archs.ARCHITECTURES`` and ``sr_models.registry.CARDS`` only, and every part
of SR Arena then runs it: loader, inference (tiling plan from the spec), FLOP count and time estimate,
training constructor, the Compare tab's pipeline and panel, the Models tab card and the MOS tables.

Runs in a fresh interpreter, registering before anything else is imported, as an edit of those two
files would.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

from sr_models.paths import REPO_ROOT

SCRIPT = textwrap.dedent('''
    import sys
    from pathlib import Path
    import numpy as np
    import torch
    from torch import nn

    from sr_models import archs, registry
    from sr_models.archs.spec import Architecture
    from sr_models.checkpoint_io import save_safetensors_atomic
    from sr_models.descriptor import ModelDescriptor

    class ToyNet(nn.Module):
        """conv 3->48, PixelShuffle(4): a x4 network in one layer."""
        def __init__(self, feats: int = 48):
            super().__init__()
            self.conv = nn.Conv2d(3, feats, 3, 1, 1)
            self.shuffle = nn.PixelShuffle(4)
        def forward(self, x):
            return self.shuffle(self.conv(x))

    def build(state_dict):
        model = ToyNet(int(state_dict["conv.weight"].shape[0]))
        model.load_state_dict(state_dict, strict=True)
        return ModelDescriptor(arch="toy", model=model.eval(), scale=4, input_range=1.0,
                               config={"feats": int(state_dict["conv.weight"].shape[0])})

    archs.ARCHITECTURES["toy"] = Architecture(
        id="toy", name="Toy x4 (one conv + pixel shuffle)", detect=lambda sd: set(sd) == {"conv.weight", "conv.bias"},
        build=build, value_range=1.0, bytes_per_lr_pixel=2_000, fast_bytes_per_lr_pixel=1_000, generator=ToyNet)
    weights = Path(sys.argv[1])
    torch.manual_seed(0)
    save_safetensors_atomic(ToyNet().state_dict(), weights / "toy_x4.safetensors")
    registry.CARDS["toy"] = registry.ModelCard(
        id="toy", display_name="Toy", paper=registry.BICUBIC.paper, arch="toy", scale=4, value_range="RGB [0,1]",
        sources=(registry.CheckpointSource(kind=registry.WeightsKind.HOUSE, filename="toy_x4.safetensors",
                                           description="a toy", licence="MIT", origin="tests/test_one_place.py"),))

    # ---- everything below only reads the two registries
    from sr_models.cost import count_flops
    from sr_models.inference import upscale
    from sr_models.loader import load_model
    from sr_models.tiling import plan_tiles
    from sr_models.train.nets import build_generator

    model = load_model("toy", "cpu")
    assert model.provenance.kind == "trained by this project" and model.descriptor.config == {"feats": 48}
    image = np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    assert upscale(model, image, "fast").shape == (80, 96, 3)
    assert count_flops(model.descriptor, 20, 24) == 2 * 20 * 24 * 48 * 3 * 9
    assert plan_tiles("toy", 20, 24, torch.device("cpu")).tile is None
    assert isinstance(build_generator("toy", {"feats": 8})[0], ToyNet)

    from sr_arena.mos.stats import METHOD_ORDER
    from sr_arena.ui.model_cards import card_markdown
    from sr_arena.ui.models import ModelPool
    from sr_arena.ui.pipeline import enlarge_method, prepare, score_run
    from sr_arena.ui.uploads import ORIGINAL
    assert "toy" in METHOD_ORDER
    pool = ModelPool(["bicubic", "toy"]).start()
    assert pool.wait(300)
    comparison = prepare(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8), ORIGINAL)
    run = score_run(comparison, enlarge_method(comparison, "toy", pool))
    assert run.ok and run.image.shape == (64, 64, 3) and run.psnr is not None, run
    text = card_markdown(registry.CARDS["toy"], pool.get("toy"), {})
    assert "Toy" in text and "not measured for this checkpoint yet" in text, text

    import app
    demo = app.build_demo(pool)
    ids = {block.elem_id for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    assert "panel-toy" in ids, sorted(ids)
    print("toy method ran everywhere")
''')


def test_a_toy_method_registered_in_one_place_runs_everywhere(tmp_path):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=600, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                         "SR_ARENA_WEIGHTS_PATH": str(tmp_path),
                                                         "SR_ARENA_DATA_DIR": str(tmp_path / "data"),
                                                         "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert "toy method ran everywhere" in result.stdout
