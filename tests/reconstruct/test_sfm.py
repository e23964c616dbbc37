"""Structure from motion's choices that need no COLMAP run: which images share a camera."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dioramic.reconstruct.inputs import InputImages
from dioramic.reconstruct.sfm import camera_groups


def _images(sizes: list[tuple[int, int]], focals: list[float | None]) -> InputImages:
    """Blank images of the given (width, height) and EXIF focal lengths, named a.jpg, b.jpg, ..."""
    names = tuple(f"{chr(97 + k)}.jpg" for k in range(len(sizes)))
    return InputImages(
        folder=Path("."),
        names=names,
        pixels=tuple(np.zeros((h, w, 3), np.uint8) for w, h in sizes),
        sources=names,
        focal_lengths_35mm=tuple(focals),
        video=False,
    )


def test_one_camera_per_shape_and_focal_length_at_its_largest_size() -> None:
    images = _images(
        [(640, 480), (320, 240), (480, 640), (960, 720), (640, 480), (641, 480), (500, 480)],
        [None, None, None, None, 28.0, None, None],
    )
    assert camera_groups(images) == [
        ((960, 720), None, ["a.jpg", "b.jpg", "d.jpg", "f.jpg"]),  # 4:3 landscape, within a pixel
        ((480, 640), None, ["c.jpg"]),  # turned upright
        ((640, 480), 28.0, ["e.jpg"]),  # another focal length (a zoom)
        ((500, 480), None, ["g.jpg"]),  # cropped
    ]


def test_frames_of_one_size_share_one_camera() -> None:
    images = _images([(96, 64)] * 5, [None] * 5)
    assert camera_groups(images) == [((96, 64), None, ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"])]
