"""Published ×4 PSNR/SSIM (Y channel, 4-pixel border) on Set5 / Set14 / B100, shown next to this
project's measurements on the Models tab.

Each row carries the network configuration the paper measured (``config``: constructor arguments
as :mod:`sr_models.archs` reads them off a checkpoint), so a card compares a running checkpoint
only with rows of the same configuration, and ``checked`` says, in words for a reader, where the
numbers were checked. Ledig et al. (SRResNet/SRGAN) computed SSIM differently from the later papers
(their bicubic row reads 28.43/0.8211, 25.99/0.7486, 25.94/0.6935 against the usual 28.42/0.8104,
26.00/0.7027, 25.96/0.6675), so their SSIM is not comparable with ours.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

DATASETS = ("Set5", "Set14", "B100")

Scores = dict[str, tuple[float, float] | None]


@dataclass(frozen=True)
class PublishedRow:
    """One published row: (PSNR, SSIM) per dataset, the configuration measured, where it was checked.

    Attributes:
        model_id: the card it belongs to.
        label: the row's name in the paper, with its configuration in words.
        scores: ``{dataset: (psnr, ssim)}``; ``None`` where the paper has no number.
        source: the paper (and table) that printed the numbers.
        checked: where this project checked them, phrased for a reader of the card.
        config: network configuration of the row (a subset of ``ModelDescriptor.config``); empty
            for rows that need no network (bicubic).
    """

    model_id: str
    label: str
    scores: Scores
    source: str
    checked: str
    config: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, config: Mapping[str, Any]) -> bool:
        """Whether a running network's ``config`` is this row's configuration."""
        return all(config.get(key) == value for key, value in self.config.items())


LEDIG = "Ledig et al. 2017 (arXiv:1609.04802)"
LEDIG_TABLE2_CHECK = ("as quoted digit for digit by three public re-implementations' READMEs; the paper's own "
                      "table was not opened here. Its SSIM is computed differently, so compare PSNR only")
SWINIR_CHECK = "checked against Table 2 of SwinIR (arXiv:2108.10257), which re-prints it"
AWSRN_CHECK = ("not verified against the paper: its results table is an image this project could not read, "
               "so these are the values as recalled when the card was written — treat them as approximate")
SRGAN_16 = {"num_blocks": 16, "num_feat": 64}

PUBLISHED: tuple[PublishedRow, ...] = (
    PublishedRow("bicubic", "Bicubic", {"Set5": (28.42, 0.8104), "Set14": (26.00, 0.7027), "B100": (25.96, 0.6675)},
                 "the bicubic baseline row of the EDSR, RCAN and SAN papers",
                 "reproduced by this project's own evaluation to within 0.011 dB (the measured row below)"),
    PublishedRow("srresnet", "SRResNet (MSE only, 16 residual blocks)",
                 {"Set5": (32.05, 0.9019), "Set14": (28.49, 0.8184), "B100": (27.58, 0.7620)},
                 f"Table 2 of {LEDIG}", LEDIG_TABLE2_CHECK, SRGAN_16),
    PublishedRow("srgan", "SRGAN-MSE (MSE + adversarial, 16 residual blocks)",
                 {"Set5": (30.64, 0.8701), "Set14": (26.92, 0.7611), "B100": None},
                 f"Table 1 of {LEDIG} (Set5 and Set14 only)",
                 "as quoted in a public re-implementation's reproduction notes; the paper's own table was not "
                 "opened here. Its SSIM is computed differently, so compare PSNR only", SRGAN_16),
    PublishedRow("srgan", "SRGAN-VGG54 (VGG + adversarial, 16 residual blocks)",
                 {"Set5": (29.40, 0.8472), "Set14": (26.02, 0.7397), "B100": (25.16, 0.6688)},
                 f"Table 2 of {LEDIG}", LEDIG_TABLE2_CHECK, SRGAN_16),
    PublishedRow("esrgan_psnr", "RRDB (ESRGAN's PSNR-oriented generator, 23 blocks)",
                 {"Set5": (32.73, 0.9011), "Set14": (28.99, 0.7917), "B100": (27.85, 0.7455)},
                 "Wang et al. 2018 (arXiv:1809.00219)", SWINIR_CHECK, {"nb": 23, "nf": 64, "gc": 32}),
    PublishedRow("esrgan", "ESRGAN (the GAN model, 23 blocks)", {"Set5": None, "Set14": None, "B100": None},
                 "Wang et al. 2018 (arXiv:1809.00219)",
                 "the paper compares its GAN model by perceptual quality, not in a PSNR/SSIM table",
                 {"nb": 23, "nf": 64, "gc": 32}),
    PublishedRow("realesrgan", "Real-ESRGAN x4plus (23 blocks; real-world degradations)",
                 {"Set5": None, "Set14": None, "B100": None},
                 "Wang, Xie, Dong & Shan 2021 (arXiv:2107.10833)",
                 "the paper evaluates on real-world test sets with the no-reference NIQE, not by PSNR/SSIM on "
                 "bicubic ×4 sets (its inputs are not bicubic-shrunk)", {"nb": 23, "nf": 64, "gc": 32}),
    PublishedRow("awsrn", "AWSRN (4 local fusion blocks)",
                 {"Set5": (32.27, 0.8960), "Set14": (28.69, 0.7843), "B100": (27.64, 0.7385)},
                 "×4 results table of Wang, Li & Shi 2019 (arXiv:1904.02358)", AWSRN_CHECK,
                 {"variant": "AWSRN", "n_resblocks": 4, "n_feats": 32}),
    PublishedRow("awsrn", "AWSRN-S (1 local fusion block)",
                 {"Set5": (31.77, 0.8884), "Set14": (28.35, 0.7761), "B100": (27.41, 0.7304)},
                 "×4 results table of Wang, Li & Shi 2019 (arXiv:1904.02358)", AWSRN_CHECK, {"variant": "AWSRN-S"}),
    PublishedRow("san", "SAN (20 groups × 10 residual blocks)",
                 {"Set5": (32.64, 0.9003), "Set14": (28.92, 0.7888), "B100": (27.78, 0.7436)},
                 "Table 1 of Dai et al. 2019 (CVPR)", SWINIR_CHECK,
                 {"n_resgroups": 20, "n_resblocks": 10, "n_feats": 64}),
)


def rows_for(model_id: str) -> list[PublishedRow]:
    """Published rows that belong to a method's card."""
    return [row for row in PUBLISHED if row.model_id == model_id]


def rows_matching(model_id: str, config: Mapping[str, Any]) -> list[PublishedRow]:
    """The method's published rows measured on the same network configuration as ``config``."""
    return [row for row in rows_for(model_id) if row.matches(config)]
