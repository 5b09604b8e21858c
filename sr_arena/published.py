"""Published ×4 PSNR/SSIM (Y channel) on Set5 / Set14 / B100, shown next to this project's measurements.

``verified`` says how each row was checked here:

- ``"SwinIR Table 2"``: checked against the SwinIR paper's Table 2 (Liang et al., ICCVW 2021,
  arXiv:2108.10257), which re-prints them.
- SRResNet / SRGAN: Ledig et al. (CVPR 2017; arXiv:1609.04802v5), Table 2. The paper's own table
  text could not be opened from this session; the numbers were checked against three independent
  public re-implementations' READMEs that quote that table (all three agree digit for digit). The
  paper's SSIM is computed differently from the later papers' (its bicubic row reads
  28.43/0.8211, 25.99/0.7486, 25.94/0.6935 against the usual 28.42/0.8104, 26.00/0.7027,
  25.96/0.6675), so compare its SSIM with care.
- ``"unverified"``: no source holding the table could be opened in this session; the values are
  the papers' as recalled by the project and may be wrong.

The bicubic row is also reproduced by ``sr_models.metrics`` (see its docstring).
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


LEDIG_CHECK = ("re-implementation READMEs quoting Ledig et al. Table 2 (3 agree; the paper's text was not "
               "reachable here)")

PUBLISHED: tuple[PublishedRow, ...] = (
    PublishedRow("bicubic", "Bicubic", {"Set5": (28.42, 0.8104), "Set14": (26.00, 0.7027), "B100": (25.96, 0.6675)},
                 "EDSR/RCAN/SAN tables (bicubic baseline row)", "reproduced by sr_models.metrics to ±0.011 dB"),
    PublishedRow("srgan", "SRResNet (SRGAN's MSE generator, 16 blocks)",
                 {"Set5": (32.05, 0.9019), "Set14": (28.49, 0.8184), "B100": (27.58, 0.7620)},
                 "Ledig et al. 2017, Table 2 (SSIM computed differently from the later papers')",
                 LEDIG_CHECK),
    PublishedRow("srgan", "SRGAN (SRGAN-VGG54, 16 blocks)",
                 {"Set5": (29.40, 0.8472), "Set14": (26.02, 0.7397), "B100": (25.16, 0.6688)},
                 "Ledig et al. 2017, Table 2 (SSIM computed differently from the later papers')",
                 LEDIG_CHECK),
    PublishedRow("esrgan", "RRDB (ESRGAN's PSNR-oriented generator)",
                 {"Set5": (32.73, 0.9011), "Set14": (28.99, 0.7917), "B100": (27.85, 0.7455)},
                 "Wang et al. 2018 (ESRGAN); re-printed in SwinIR Table 2", "SwinIR Table 2"),
    PublishedRow("esrgan", "ESRGAN (GAN model)", {"Set5": None, "Set14": None, "B100": None},
                 "Wang et al. 2018 report perceptual index, not PSNR/SSIM, for the GAN model",
                 "unverified (the ESRGAN paper's tables were not opened in this session)"),
    PublishedRow("awsrn", "AWSRN", {"Set5": (32.27, 0.8960), "Set14": (28.69, 0.7843), "B100": (27.64, 0.7385)},
                 "Wang, Li & Shi 2019 (arXiv:1904.02358), ×4 table, full AWSRN (not -S/-M/-SD)",
                 "unverified (the paper's table could not be opened in this session)"),
    PublishedRow("san", "SAN", {"Set5": (32.64, 0.9003), "Set14": (28.92, 0.7888), "B100": (27.78, 0.7436)},
                 "Dai et al. 2019, Table 1; re-printed in SwinIR Table 2", "SwinIR Table 2"),
)


def rows_for(model_id: str) -> list[PublishedRow]:
    """Published rows that belong to a method's card."""
    return [row for row in PUBLISHED if row.model_id == model_id]
