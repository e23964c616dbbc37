"""Make the README's picture from a `dioramic run` output folder: photo, depth map, three video frames.

.venv/bin/python tools/overview.py PHOTO dioramic-out/<name> docs/images/overview.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw


def main(photo: str, folder: str, out: str, height: int = 240) -> None:
    tiles = [Image.open(photo).convert("RGB")]
    depth = np.asarray(Image.open(Path(folder) / "depth.png")).astype(np.float32) / 257.0
    tiles.append(Image.fromarray(depth.astype(np.uint8)).convert("RGB"))
    with av.open(str(Path(folder) / "video.mp4")) as container:
        frames = [f.to_image() for f in container.decode(video=0)]
    tiles += [frames[i] for i in (0, len(frames) // 4, len(frames) // 2)]
    labels = [
        "photo",
        "depth (near = bright)",
        "frame 1",
        f"frame {len(frames) // 4 + 1}",
        f"frame {len(frames) // 2 + 1}",
    ]
    scaled = [t.resize((round(t.width * height / t.height), height), Image.Resampling.LANCZOS) for t in tiles]
    sheet = Image.new("RGB", (sum(t.width for t in scaled) + 4 * (len(scaled) - 1), height + 22), "white")
    x = 0
    draw = ImageDraw.Draw(sheet)
    for tile, label in zip(scaled, labels, strict=True):
        sheet.paste(tile, (x, 22))
        draw.text((x + 4, 5), label, fill="black")
        x += tile.width + 4
    sheet.save(out, optimize=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
