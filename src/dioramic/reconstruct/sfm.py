"""Structure from motion with pycolmap, on the CPU: camera poses and sparse 3D points.

SIFT features are extracted (images larger than `SIFT_MAX_SIDE` are scaled down for it), matched
exhaustively between photos or sequentially between video frames, verified geometrically, and
COLMAP's incremental mapper registers the images one by one with bundle adjustment. The largest
model is kept; every image left out gets a reason (`SfmResult.failed`).

The mapper's absolute-pose thresholds are relaxed from COLMAP's defaults (15 inliers and a 15 %
inlier ratio instead of 30 and 25 %): on sparse rings of photos (about 20 degrees apart) the defaults
drop views that still have plenty of correct matches, while wrong registrations stay rare because the
matches were verified geometrically first.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dioramic.errors import MissingDependencyError
from dioramic.reconstruct.inputs import InputImages
from dioramic.reconstruct.model import Lens, PosedImage, SparseModel
from dioramic.types import Camera

log = logging.getLogger(__name__)

SIFT_MAX_SIDE = 1600
"""Images are scaled to this long side (at most) for feature extraction."""
MIN_FEATURES = 100
"""An image with fewer SIFT features than this is reported as too plain (textureless)."""
MIN_INLIERS = 15
"""Verified matches needed between two images (COLMAP's default)."""
SEQUENTIAL_OVERLAP = 10
"""Video frames are matched with this many next frames (and 2, 4, 8, ... further ones)."""
CAMERA_MODEL = "SIMPLE_RADIAL"
"""One focal length, the principal point, one radial distortion term: what phone photos need."""


def _pycolmap() -> Any:
    try:
        import pycolmap
    except ImportError:
        raise MissingDependencyError("pycolmap", "reconstruct", "structure from motion") from None
    return pycolmap


@dataclass(frozen=True)
class SfmResult:
    """The sparse model, and why the other images are not in it."""

    model: SparseModel
    failed: dict[str, str]
    """Image name -> why it could not be placed."""
    reconstruction: Any = field(repr=False, compare=False)
    """The pycolmap.Reconstruction behind `model` (for writing COLMAP's own files)."""


def run_sfm(
    images: InputImages, database: Path, *, on_step: Callable[[str], None] | None = None, seed: int = 0
) -> SfmResult | None:
    """Pose `images` (stored in `images.folder`) with pycolmap; `database` is the work file to create.

    Returns None when no two images could be placed together (every image then fails).
    """
    pycolmap = _pycolmap()
    pycolmap.logging.minloglevel = 2  # errors only: COLMAP is chatty on stderr
    pycolmap.set_random_seed(seed)
    step = on_step or (lambda _: None)

    sizes = {p.shape[:2] for p in images.pixels}
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = CAMERA_MODEL
    single = len(sizes) == 1
    focal = _prior_focal(images) if single else None
    if focal is not None:
        height, width = next(iter(sizes))
        reader.camera_params = f"{focal},{width / 2},{height / 2},0"
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.max_image_size = SIFT_MAX_SIDE
    step("finding SIFT features")
    pycolmap.extract_features(
        database,
        images.folder,
        image_names=list(images.names),
        camera_mode=pycolmap.CameraMode.SINGLE if single else pycolmap.CameraMode.PER_IMAGE,
        reader_options=reader,
        extraction_options=extraction,
        device=pycolmap.Device.cpu,
    )
    step("matching features " + ("between neighbouring frames" if images.video else "between every pair"))
    matching = pycolmap.FeatureMatchingOptions()
    if images.video:
        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap = SEQUENTIAL_OVERLAP
        pairing.quadratic_overlap = True
        pycolmap.match_sequential(
            database, matching_options=matching, pairing_options=pairing, device=pycolmap.Device.cpu
        )
    else:
        pycolmap.match_exhaustive(database, matching_options=matching, device=pycolmap.Device.cpu)
    step("registering the images (incremental mapping)")
    options = pycolmap.IncrementalPipelineOptions()
    options.min_model_size = 3
    options.min_num_matches = MIN_INLIERS
    options.random_seed = seed
    options.mapper.abs_pose_min_num_inliers = 15
    options.mapper.abs_pose_min_inlier_ratio = 0.15
    mapper_dir = database.parent / "mapper"  # the mapper writes its models there too
    mapper_dir.mkdir(parents=True, exist_ok=True)
    models = pycolmap.incremental_mapping(database, images.folder, mapper_dir, options)
    models = sorted(models.values(), key=lambda r: -r.num_reg_images())
    failed = _failures(pycolmap, database, images.names, models)
    if not models:
        return None
    best = models[0]
    return SfmResult(model=_sparse_model(pycolmap, best), failed=failed, reconstruction=best)


def _prior_focal(images: InputImages) -> float | None:
    """Focal length in pixels from the EXIF 35 mm-equivalent focal length, when every image states
    the same one; None otherwise (COLMAP then starts from 1.2 times the long side)."""
    focals = set(images.focal_lengths_35mm)
    if len(focals) != 1 or None in focals:
        return None
    height, width = images.pixels[0].shape[:2]
    camera = Camera.from_focal_35mm(width, height, next(iter(focals)))
    return float(camera.fx)


def _failures(pycolmap: Any, database: Path, names: tuple[str, ...], models: list[Any]) -> dict[str, str]:
    """Why each image outside the largest model is not in it."""
    placed = {im.name for im in models[0].images.values()} if models else set()
    in_other = {}
    for k, model in enumerate(models[1:], start=2):
        for image in model.images.values():
            in_other.setdefault(image.name, (k, model.num_reg_images()))
    db = pycolmap.Database.open(database)
    try:
        ids = {image.image_id: image.name for image in db.read_all_images()}
        keypoints = {name: db.num_keypoints_for_image(i) for i, name in ids.items()}
        pair_ids, geometries = db.read_two_view_geometries()
        matched: dict[str, int] = dict.fromkeys(ids.values(), 0)
        for pair_id, geometry in zip(pair_ids, geometries, strict=True):
            if len(geometry.inlier_matches) >= MIN_INLIERS:
                a, b = pycolmap.pair_id_to_image_pair(pair_id)
                matched[ids[a]] += 1
                matched[ids[b]] += 1
    finally:
        db.close()
    failed = {}
    for name in names:
        if name in placed:
            continue
        if keypoints.get(name, 0) < MIN_FEATURES:
            failed[name] = f"too little texture ({keypoints.get(name, 0)} features)"
        elif matched.get(name, 0) == 0:
            failed[name] = "overlaps no other image (no verified matches)"
        elif name in in_other:
            k, size = in_other[name]
            failed[name] = f"placed only with {size - 1} other image(s) that do not overlap the rest"
        else:
            failed[name] = "its matches were too few or inconsistent to estimate its pose"
    return failed


def _sparse_model(pycolmap: Any, reconstruction: Any) -> SparseModel:
    """The numpy form of a pycolmap.Reconstruction (images sorted by name)."""
    image_ids = sorted(reconstruction.reg_image_ids(), key=lambda i: reconstruction.images[i].name)
    index = {image_id: k for k, image_id in enumerate(image_ids)}
    images = []
    for image_id in image_ids:
        image = reconstruction.images[image_id]
        camera = reconstruction.cameras[image.camera_id]
        pose = image.cam_from_world()
        images.append(
            PosedImage(
                name=image.name,
                lens=Lens(
                    int(camera.width), int(camera.height), camera.model.name, tuple(map(float, camera.params))
                ),
                rotation=np.asarray(pose.rotation.matrix(), dtype=np.float64),
                translation=np.asarray(pose.translation, dtype=np.float64),
            )
        )
    points, colors, errors, observations = [], [], [], []
    for k, point in enumerate(reconstruction.points3D.values()):
        points.append(point.xyz)
        colors.append(point.color)
        errors.append(point.error)
        observations.extend((k, index[e.image_id]) for e in point.track.elements if e.image_id in index)
    return SparseModel(
        images=tuple(images),
        points=np.asarray(points, dtype=np.float64).reshape(-1, 3),
        colors=np.asarray(colors, dtype=np.uint8).reshape(-1, 3),
        observations=np.asarray(observations, dtype=np.int64).reshape(-1, 2),
        reprojection_error=float(np.mean(errors)) if errors else math.nan,
    )


def write_colmap_text(result: SfmResult, scale: float, rotation: np.ndarray, translation: np.ndarray,
                      folder: Path) -> None:  # fmt: skip
    """Write the model as COLMAP text (cameras.txt, images.txt, points3D.txt) into `folder`, moved
    into the scene's coordinates by ``x -> scale * rotation @ x + translation``."""
    pycolmap = _pycolmap()
    model = pycolmap.Reconstruction(result.reconstruction)
    model.transform(pycolmap.Sim3d(float(scale), pycolmap.Rotation3d(np.asarray(rotation)), translation))
    folder.mkdir(parents=True, exist_ok=True)
    model.write_text(str(folder))
