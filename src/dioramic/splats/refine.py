"""Splats refined against the photos of a reconstruction, on a CUDA GPU (PyTorch and gsplat: the
'splats-gpu' extra). Imported only by ``dioramic reconstruct --refine-splats N``; PyTorch and gsplat
are imported inside the functions that use them.

What it reads are the public outputs of `dioramic reconstruct` (so it works on any OUT folder):
``OUT/sparse/transforms.json`` (per image: OpenCV intrinsics and distortion, camera-to-world in the
scene's coordinates with OpenGL axes, the train/test split of ``--holdout``) and ``OUT/images/``. Each
photo is undistorted to its pinhole camera (OpenCV) and scaled to at most `RefineSettings.max_side`
pixels on its long side.

Training: gsplat's rasteriser (``rasterization``, classic 3DGS kernel: +0.3 px^2, no opacity
compensation, the kernel our splats are made for) draws the splats from a training photo's camera;
the loss is the 3DGS paper's ``0.8 * L1 + 0.2 * (1 - SSIM)``; Adam moves centres, log-scales,
rotations, logit-opacities and colours with the paper's learning rates (the centres' scaled by the
cameras' spread and decaying 100x over the run). The splat count stays as it is (no densification):
the splats of a reconstruction already tile its surfaces. Held-out photos (``--holdout``'s, kept out
of the reconstruction too; else every 8th by name, which the reconstruction used) are never trained
on; their PSNR is measured before and after.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dioramic.errors import DioramicError, InputError, MissingDependencyError
from dioramic.splats import SH_C0, Splats

log = logging.getLogger(__name__)

EXTRA = "splats-gpu"
"""The extra that brings PyTorch and gsplat."""
_GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


def require_gpu() -> None:
    """Raise, in one line, unless PyTorch with a CUDA device and gsplat are here (call it before any
    work): MissingDependencyError naming the extra, or DioramicError when no CUDA device is seen."""
    import importlib.util

    for package in ("torch", "gsplat"):
        if importlib.util.find_spec(package) is None:
            raise MissingDependencyError(package, EXTRA, "--refine-splats (a CUDA GPU is needed too)")
    import torch

    if not torch.cuda.is_available():
        raise DioramicError("--refine-splats needs a CUDA GPU, and PyTorch sees none on this machine")


@dataclass(frozen=True)
class RefineSettings:
    """How the splats are refined."""

    iterations: int = 7000
    """Optimisation steps, one training photo each."""
    max_side: int = 1600
    """Long side (pixels) the photos are scaled to at most."""
    seed: int = 0
    """Seed of the order the photos are drawn in."""


@dataclass(frozen=True)
class PhotoView:
    """One undistorted photo and its camera, ready for the rasteriser."""

    name: str
    image: np.ndarray
    """(H, W, 3) float32 0..1 sRGB."""
    K: np.ndarray
    """(3, 3) float64 pinhole intrinsics at the image's size."""
    viewmat: np.ndarray
    """(4, 4) float64 camera-from-world, OpenCV axes (x right, y down, z ahead), as gsplat takes it."""


@dataclass(frozen=True)
class RefineReport:
    """What the refinement did and how well the splats match the held-out photos."""

    iterations: int
    seconds: float
    splats: int
    train_views: tuple[str, ...]
    held_out: tuple[str, ...]
    psnr_before: float
    """Mean PSNR (dB) of the held-out photos drawn from the splats before refining."""
    psnr_after: float
    """The same after refining."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "iterations": self.iterations,
            "seconds": round(self.seconds, 1),
            "splats": self.splats,
            "train_views": len(self.train_views),
            "held_out": list(self.held_out),
            "held_out_psnr_before": round(self.psnr_before, 3),
            "held_out_psnr_after": round(self.psnr_after, 3),
        }


def load_views(out: Path, max_side: int) -> tuple[list[PhotoView], list[PhotoView]]:
    """The (training, held-out) photos of the reconstruction in `out`, from sparse/transforms.json."""
    import cv2
    from PIL import Image

    sparse = Path(out) / "sparse"
    try:
        document = json.loads((sparse / "transforms.json").read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{sparse / 'transforms.json'}: cannot read the cameras ({exc})") from None
    frames = sorted(document["frames"], key=lambda f: f["file_path"])
    test = set(document.get("test_filenames") or [f["file_path"] for f in frames[1::8]])
    train_views, test_views = [], []
    for frame in frames:
        path = (sparse / frame["file_path"]).resolve()
        with Image.open(path) as picture:
            rgb = np.asarray(picture.convert("RGB"))
        intrinsics = np.array(
            [[frame["fl_x"], 0, frame["cx"]], [0, frame["fl_y"], frame["cy"]], [0, 0, 1]], np.float64
        )
        distortion = np.array([frame.get(k, 0.0) for k in ("k1", "k2", "p1", "p2")], np.float64)
        if distortion.any():
            rgb = cv2.undistort(rgb, intrinsics, distortion)
        scale = min(1.0, max_side / max(rgb.shape[:2]))
        if scale < 1.0:
            size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            intrinsics = np.diag([rgb.shape[1] / frame["w"], rgb.shape[0] / frame["h"], 1.0]) @ intrinsics
        world_from_camera = np.asarray(frame["transform_matrix"], np.float64) @ _GL_TO_CV
        image = rgb.astype(np.float32) / 255.0
        view = PhotoView(Path(frame["file_path"]).name, image, intrinsics, np.linalg.inv(world_from_camera))
        (test_views if frame["file_path"] in test else train_views).append(view)
    if not train_views or not test_views:
        raise InputError(f"{sparse}: too few photos to refine the splats and hold some out")
    return train_views, test_views


def _ssim(a: Any, b: Any) -> Any:
    """SSIM of two (1, 3, H, W) tensors (11 x 11 Gaussian window, sigma 1.5), as the 3DGS loss uses."""
    import torch
    import torch.nn.functional as F  # noqa: N812 - the usual name

    x = torch.arange(11, dtype=a.dtype, device=a.device) - 5
    g = torch.exp(-(x**2) / (2 * 1.5**2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :]).expand(3, 1, 11, 11).contiguous()

    def blur(t: Any) -> Any:
        return F.conv2d(t, window, padding=5, groups=3)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    value = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return value.mean()


class _Model:
    """The splats as trainable tensors (activations as 3DGS: exp scales, sigmoid opacity, SH0 colour)."""

    def __init__(self, splats: Splats, device: str) -> None:
        import torch

        def tensor(values: np.ndarray) -> Any:
            return torch.nn.Parameter(torch.tensor(np.asarray(values, np.float32), device=device))

        opacity = np.clip(splats.opacities.astype(np.float64), 1e-4, 1 - 1e-4)
        self.params = {
            "means": tensor(splats.means),
            "scales": tensor(np.log(np.maximum(splats.scales, 1e-12))),
            "quats": tensor(splats.rotations),
            "opacities": tensor(np.log(opacity / (1 - opacity))),
            "sh0": tensor((splats.colours - 0.5) / SH_C0),
        }
        self.normals = splats.normals

    def render(self, view: PhotoView, device: str, clamp: bool = True) -> Any:
        """(H, W, 3) the splats drawn from `view`'s camera (clamped to 0..1 for measuring; unclamped
        for training, where a clamp would stop the gradient of saturated pixels)."""
        import torch
        from gsplat import rasterization

        p = self.params
        height, width = view.image.shape[:2]
        colours = (0.5 + SH_C0 * p["sh0"]).clamp(min=0.0)
        image, _, _ = rasterization(
            p["means"], p["quats"], torch.exp(p["scales"]), torch.sigmoid(p["opacities"]), colours,
            torch.tensor(view.viewmat, dtype=torch.float32, device=device)[None],
            torch.tensor(view.K, dtype=torch.float32, device=device)[None],
            width, height, packed=False, rasterize_mode="classic",
        )  # fmt: skip
        return image[0].clamp(0.0, 1.0) if clamp else image[0]

    def splats(self) -> Splats:
        import torch

        with torch.no_grad():
            p = {k: v.detach().float().cpu().numpy() for k, v in self.params.items()}
        q = p["quats"] / np.maximum(np.linalg.norm(p["quats"], axis=1, keepdims=True), 1e-12)
        return Splats(
            means=p["means"].astype(np.float32),
            normals=self.normals,
            colours=(0.5 + SH_C0 * p["sh0"]).astype(np.float32),
            opacities=(1.0 / (1.0 + np.exp(-p["opacities"]))).astype(np.float32),
            scales=np.exp(p["scales"]).astype(np.float32),
            rotations=np.where(q[:, :1] < 0, -q, q).astype(np.float32),
        )


def _psnr(model: _Model, views: Sequence[PhotoView], device: str) -> float:
    import torch

    values = []
    with torch.no_grad():
        for view in views:
            target = torch.tensor(view.image, device=device)
            mse = torch.mean((model.render(view, device) - target) ** 2).item()
            values.append(10.0 * math.log10(1.0 / max(mse, 1e-12)))
    return float(np.mean(values))


def refine(
    splats: Splats,
    train_views: Sequence[PhotoView],
    test_views: Sequence[PhotoView],
    settings: RefineSettings = RefineSettings(),
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[Splats, RefineReport]:
    """Refine `splats` against `train_views` for `settings.iterations` steps on the CUDA device;
    returns the refined splats and a report with the held-out PSNR before and after."""
    import torch

    device = "cuda"
    start = time.perf_counter()
    model = _Model(splats, device)
    # the centres' learning rate scales with the scene as 3DGS scales it: 1.1 x the cameras' spread
    centres = np.array([-v.viewmat[:3, :3].T @ v.viewmat[:3, 3] for v in train_views])
    extent = 1.1 * float(np.linalg.norm(centres - centres.mean(axis=0), axis=1).max()) or 1.0
    rates = {"means": 1.6e-4 * extent, "scales": 5e-3, "quats": 1e-3, "opacities": 5e-2, "sh0": 2.5e-3}
    optimisers = {k: torch.optim.Adam([v], lr=rates[k], eps=1e-15) for k, v in model.params.items()}
    decay = torch.optim.lr_scheduler.ExponentialLR(
        optimisers["means"], gamma=0.01 ** (1.0 / max(settings.iterations, 1))
    )
    before = _psnr(model, test_views, device)
    rng = np.random.default_rng(settings.seed)
    images = [torch.tensor(v.image, device=device).permute(2, 0, 1)[None] for v in train_views]
    for step in range(settings.iterations):
        k = int(rng.integers(len(train_views)))
        rendered = model.render(train_views[k], device, clamp=False).permute(2, 0, 1)[None]
        target = images[k]
        loss = 0.8 * torch.abs(rendered - target).mean() + 0.2 * (1.0 - _ssim(rendered, target))
        loss.backward()
        for optimiser in optimisers.values():
            optimiser.step()
            optimiser.zero_grad(set_to_none=True)
        decay.step()
        if on_step is not None and (step + 1) % 500 == 0:
            on_step(step + 1, float(loss.item()))
    after = _psnr(model, test_views, device)
    torch.cuda.synchronize()
    report = RefineReport(
        iterations=settings.iterations,
        seconds=time.perf_counter() - start,
        splats=len(splats),
        train_views=tuple(v.name for v in train_views),
        held_out=tuple(v.name for v in test_views),
        psnr_before=before,
        psnr_after=after,
    )
    return model.splats(), report


def refine_output(out: Path, splats: Splats, settings: RefineSettings) -> tuple[Splats, RefineReport]:
    """Refine `splats` against the photos of the reconstruction written in `out` (see the module
    docstring), logging the loss every 500 steps."""
    train_views, test_views = load_views(out, settings.max_side)
    log.info(
        "refining %d splats on the GPU: %d iterations, %d photos, %d held out",
        len(splats), settings.iterations, len(train_views), len(test_views),
    )  # fmt: skip
    refined, report = refine(
        splats, train_views, test_views, settings,
        on_step=lambda step, loss: log.info("refining the splats: step %d, loss %.4f", step, loss),
    )  # fmt: skip
    log.info(
        "splats refined in %.0f s: held-out PSNR %.2f dB -> %.2f dB",
        report.seconds, report.psnr_before, report.psnr_after,
    )  # fmt: skip
    return refined, report
