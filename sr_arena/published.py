"""Published ×4 PSNR/SSIM (Y channel) on Set5 / Set14 / B100, shown next to this project's measurements.

``verified`` says how each row was checked here: ``"SwinIR Table 2"`` rows were checked against the
SwinIR paper's Table 2 (Liang et al., ICCVW 2021, arXiv:2108.10257), which re-prints them; rows marked
``"brief"`` come from the papers as quoted in the project's issue and were not re-checked against
the PDF in this session. The bicubic row is also reproduced by ``sr_models.metrics`` (see its docstring).
"""
from __future__ import annotations

from dataclasses import dataclass

DATASETS = ("Set5", "Set14", "B100")


@dataclass(frozen=True)
class PublishedRow:
    """One published row: (PSNR, SSIM) per dataset, where it was printed, how it was checked."""

    model_id: str
    label: str
    scores: dict[str, tuple[float, float] | None]
    source: str
    verified: str


PUBLISHED: tuple[PublishedRow, ...] = (
    PublishedRow("bicubic", "Bicubic", {"Set5": (28.42, 0.8104), "Set14": (26.00, 0.7027), "B100": (25.96, 0.6675)},
                 "EDSR/RCAN/SAN tables (bicubic baseline row)", "reproduced by sr_models.metrics to ±0.011 dB"),
    PublishedRow("srgan", "SRResNet (SRGAN's MSE generator, 16 blocks)",
                 {"Set5": (32.05, 0.9019), "Set14": (28.49, 0.7800), "B100": (27.58, 0.7354)},
                 "Ledig et al. 2017 / ESRGAN paper comparison", "brief"),
    PublishedRow("srgan", "SRGAN (perceptual, 16 blocks)",
                 {"Set5": (29.40, 0.8472), "Set14": (26.02, 0.7397), "B100": (25.16, 0.6688)},
                 "Ledig et al. 2017, Table 4", "brief"),
    PublishedRow("esrgan", "RRDB (ESRGAN's PSNR-oriented generator)",
                 {"Set5": (32.73, 0.9011), "Set14": (28.99, 0.7917), "B100": (27.85, 0.7455)},
                 "Wang et al. 2018 (ESRGAN); re-printed in SwinIR Table 2", "SwinIR Table 2"),
    PublishedRow("esrgan", "ESRGAN (GAN model)", {"Set5": None, "Set14": None, "B100": None},
                 "Wang et al. 2018 report perceptual index, not PSNR/SSIM, for the GAN model", "brief"),
    PublishedRow("awsrn", "AWSRN", {"Set5": (32.27, 0.8960), "Set14": (28.69, 0.7843), "B100": (27.64, 0.7385)},
                 "Wang, Li & Shi 2019, Table (×4, AWSRN)", "brief"),
    PublishedRow("san", "SAN", {"Set5": (32.64, 0.9003), "Set14": (28.92, 0.7888), "B100": (27.78, 0.7436)},
                 "Dai et al. 2019, Table 1; re-printed in SwinIR Table 2", "SwinIR Table 2"),
)


def rows_for(model_id: str) -> list[PublishedRow]:
    """Published rows that belong to a method's card."""
    return [row for row in PUBLISHED if row.model_id == model_id]
