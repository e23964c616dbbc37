"""Where the novel-view benchmark's fill is scored: its FILL split into the pixels behind depth edges
and those beyond the photo's frame, for kept `nvs.py eval` outputs.

    python ../shared/nvs/nvs.py eval ../shared/nvs/scenes --scenes dev --dio .venv/bin/dioramic \\
        --depth gt --keep /tmp/nvs-look
    .venv/bin/python bench/nvs_regions.py /tmp/nvs-look [--nvs ../shared/nvs] [--depth gt]
    .venv/bin/python bench/nvs_regions.py /tmp/nvs-look --extrapolate

`nvs.py` is imported from its folder (never copied): the masks are its own. For each scene and method
(`dioramic`, `dibr`) it prints, per region, the share of the scored pixels, the PSNR and mean SSIM
there and the grain (gradient energy of the prediction over the real view's, as nvs.py's FILL line):

* inside: what the photo shows;
* behind edges: what the photo does not show because something nearer hides it (the warp's holes);
* beyond the frame: what lies outside the photo's frame, which nothing in the photo shows (nvs.py
  renders with `--overscan 0`, so the second camera sees it).

With --extrapolate it asks instead what simpler guesses beyond the frame would score: each scene's
dioramic prediction with the part of every row beyond the frame replaced by OpenCV's Telea fill of
it, by the row's last seen colour repeated (streaks), or by the row mirrored back into the frame
(the photo's own texture, at full grain); it prints nvs.py's own whole-view scores of each (PSNR /
SSIM / edge-band PSNR, FILL PSNR and grain), mean over the scenes.

Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image
from shared_scripts import load_script

REPO = Path(__file__).resolve().parent.parent
METHODS = ("dioramic", "dibr")


def scored_pixels(nvs: ModuleType, scene: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(depth, scored, fill) of `scene` (nvs.prepare's) as nvs.py's evaluation makes them: the filled
    ground-truth depth, the pixels it scores and what the photo does not show (its FILL)."""
    z = nvs.fill_depth(scene["z"], scene["zvalid"])
    border = np.zeros(z.shape, bool)
    border[10:-10, 10:-10] = True
    return z, scene["in1"] & border, nvs.unseen(z, scene["f"], scene["B"])


def regions(nvs: ModuleType, scene: dict) -> dict[str, np.ndarray]:
    """The scored pixels of `scene` (nvs.prepare's) split into inside / behind edges / beyond the frame."""
    z, scored, fill = scored_pixels(nvs, scene)
    width = z.shape[1]
    # a target pixel x sees the photo's x + disparity: beyond its right edge, nothing in the photo
    beyond = np.arange(width)[None, :] + scene["f"] * scene["B"] / z >= width - 0.5
    return {
        "inside": scored & ~fill,
        "behind edges": scored & fill & ~beyond,
        "beyond the frame": scored & beyond,
    }


def extrapolations(prediction: np.ndarray, beyond: np.ndarray) -> dict[str, np.ndarray]:
    """`prediction` (H, W, 3) uint8 with each row's part from its first pixel in `beyond` to the right
    edge replaced by a guess from the rest of the row: Telea, the last seen colour repeated, mirrored."""
    import cv2

    height, width = beyond.shape
    first = np.where(beyond.any(axis=1), beyond.argmax(axis=1), width)
    columns = np.arange(width)[None, :]
    region = columns >= first[:, None]
    last = np.clip(first - 1, 0, width - 1)[:, None]
    rows = np.arange(height)[:, None]
    repeated = np.where(region, last, columns)
    mirrored = np.where(region, np.clip(2 * last - columns + 1, 0, width - 1), columns)
    return {
        "as rendered": prediction,
        "Telea": cv2.inpaint(prediction, region.astype(np.uint8), 3, cv2.INPAINT_TELEA),
        "last colour repeated": prediction[rows, repeated],
        "mirrored": prediction[rows, mirrored],
    }


def extrapolate(nvs: ModuleType, root: Path, folders: list[Path], depth: str) -> None:
    """nvs.py's mean scores of the dioramic predictions with other guesses beyond the frame."""
    scores: dict[str, list[dict[str, float]]] = {}
    for folder in folders:
        scene = nvs.prepare(str(root / "scenes" / folder.name.removesuffix(f"_{depth}")))
        z, scored, fill = scored_pixels(nvs, scene)
        band = nvs.edge_band(z, scene["f"], scene["B"])
        beyond = regions(nvs, scene)["beyond the frame"]
        prediction = np.asarray(Image.open(folder / "pred_dioramic.png").convert("RGB"))
        for name, guess in extrapolations(prediction, beyond).items():
            scores.setdefault(name, []).append(nvs.metrics(guess, scene["im1"], scored, band, fill))
    print(f"beyond the frame, mean of {len(folders)} scenes: PSNR / SSIM / edge-band PSNR, FILL PSNR, grain")
    for name, rows in scores.items():
        mean = {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}
        print(
            f"  {name:21s} {mean['psnr']:5.2f} / {mean['ssim']:.4f} / {mean['edge_psnr']:5.2f}, "
            f"FILL {mean['fill_psnr']:5.2f} dB, grain {mean['fill_grain']:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("keep", type=Path, help="the --keep folder of an nvs.py eval run")
    parser.add_argument("--nvs", type=Path, default=REPO.parent / "shared" / "nvs", help="nvs.py's folder")
    parser.add_argument("--depth", default="gt", help="the depth kind the run used (its folders' suffix)")
    parser.add_argument(
        "--extrapolate", action="store_true", help="score simpler guesses beyond the frame instead"
    )
    args = parser.parse_args()
    from skimage.metrics import structural_similarity

    nvs = load_script(args.nvs / "nvs.py")
    folders = sorted(p for p in args.keep.glob(f"*_{args.depth}") if (p / "pred_dioramic.png").is_file())
    if not folders:
        raise SystemExit(f"{args.keep}: no <scene>_{args.depth}/pred_dioramic.png (run nvs.py eval --keep)")
    if args.extrapolate:
        extrapolate(nvs, args.nvs, folders, args.depth)
        return
    grains: dict[tuple[str, str], list[float]] = {}
    psnrs: dict[tuple[str, str], list[float]] = {}
    for folder in folders:
        name = folder.name.removesuffix(f"_{args.depth}")
        scene = nvs.prepare(str(args.nvs / "scenes" / name))
        truth = scene["im1"].astype(np.float64)
        print(name)
        for method in METHODS:
            picture = Image.open(folder / f"pred_{method}.png").convert("RGB")
            prediction = np.asarray(picture).astype(np.float64)
            _, ssim = structural_similarity(prediction, truth, channel_axis=2, data_range=255, full=True)
            ssim = ssim.mean(axis=2)
            cells = []
            for region, mask in regions(nvs, scene).items():
                if not mask.any():
                    cells.append(f"{region} 0 %")
                    continue
                grain = nvs.grain(prediction, mask) / max(nvs.grain(truth, mask), 1e-9)
                grains.setdefault((method, region), []).append(grain)
                share = 100 * mask.mean()
                error = float(((prediction - truth)[mask] ** 2).mean())
                psnr = 10 * np.log10(255.0**2 / max(error, 1e-12))
                psnrs.setdefault((method, region), []).append(psnr)
                cells.append(
                    f"{region} {share:4.1f} % {psnr:5.2f} dB SSIM {ssim[mask].mean():.3f} grain {grain:.2f}"
                )
            print(f"  {method:9s} " + " | ".join(cells))
    print("mean over scenes: PSNR, grain")
    for (method, region), values in sorted(grains.items()):
        psnr = np.mean(psnrs[method, region])
        grain = np.mean(values)
        print(f"  {method:9s} {region:17s} {psnr:5.2f} dB  grain {grain:.2f}  ({len(values)} scenes)")


if __name__ == "__main__":
    sys.exit(main())
