"""The camera model for NeRF and Gaussian-splat trainers: COLMAP text, nerfstudio's transforms.json and
the sparse points as a PLY, all in the scene's coordinates (those of scene.glb).

    OUT/images/            the images, as COLMAP saw them
    OUT/sparse/cameras.txt, images.txt, points3D.txt    COLMAP's text model
    OUT/sparse/transforms.json                          nerfstudio's format (OpenCV lens, OpenGL poses)
    OUT/sparse/points3D.ply                             the sparse points with colours (splat seeds)

Train on a GPU with nerfstudio (``ns-train splatfacto --data OUT/sparse``) or gsplat
(``python examples/simple_trainer.py default --data_dir OUT``); see docs/reconstruct.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dioramic.files import write_bytes
from dioramic.reconstruct.model import SparseModel, View
from dioramic.reconstruct.placement import Placement


def transforms_json(
    model: SparseModel, views: Sequence[View], placement: Placement, held_out: Sequence[str]
) -> dict:
    """nerfstudio's transforms.json for every registered image (`views` in the model's order):
    per-frame OpenCV intrinsics and distortion, camera-to-world matrices (OpenGL camera axes) in the
    scene's coordinates, image paths relative to OUT/sparse, and the train/test split when images
    were held out."""
    frames = []
    for image, view in zip(model.images, views, strict=True):
        matrix = placement.pose(view).world_matrix()
        cam = image.lens.pinhole
        k1, k2, p1, p2 = image.lens.distortion
        frames.append(
            {
                "file_path": f"../images/{image.name}",
                "transform_matrix": matrix.round(9).tolist(),
                "fl_x": cam.fx,
                "fl_y": cam.fy,
                "cx": cam.cx,
                "cy": cam.cy,
                "w": cam.width,
                "h": cam.height,
                "k1": k1,
                "k2": k2,
                "p1": p1,
                "p2": p2,
            }
        )
    document: dict = {"camera_model": "OPENCV", "frames": frames, "ply_file_path": "points3D.ply"}
    if held_out:
        names = [f"../images/{image.name}" for image in model.images]
        test = [f"../images/{name}" for name in held_out]
        document["train_filenames"] = [n for n in names if n not in test]
        document["test_filenames"] = [n for n in names if n in test]
        document["val_filenames"] = document["test_filenames"]
    return document


def point_cloud_ply(points: np.ndarray, colors: np.ndarray) -> bytes:
    """A binary little-endian PLY of (N, 3) float32 points with (N, 3) uint8 colours.

    >>> point_cloud_ply(np.zeros((1, 3)), np.zeros((1, 3), np.uint8))[:3]
    b'ply'
    """
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(points)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    ).encode("ascii")
    record = np.zeros(len(points), dtype=[("xyz", "<f4", 3), ("rgb", "u1", 3)])
    record["xyz"] = points
    record["rgb"] = colors
    return header + record.tobytes()


def write_sparse(folder: Path, model: SparseModel, views: Sequence[View], placement: Placement,
                 held_out: Sequence[str], reconstruction: object) -> None:  # fmt: skip
    """Write OUT/sparse: COLMAP text (through pycolmap), transforms.json, points3D.ply."""
    from dioramic.reconstruct.sfm import SfmResult, write_colmap_text

    result = SfmResult(model=model, failed={}, reconstruction=reconstruction)
    write_colmap_text(result, placement.scale, placement.rotation, placement.translation, folder)
    document = transforms_json(model, views, placement, held_out)
    write_bytes(folder / "transforms.json", json.dumps(document, indent=1).encode())
    write_bytes(folder / "points3D.ply", point_cloud_ply(placement.apply(model.points), model.colors))
