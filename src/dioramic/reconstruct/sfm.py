"""Structure from motion with pycolmap, on the CPU: camera poses and sparse 3D points.

SIFT features are extracted (images larger than `SIFT_MAX_SIDE` are scaled down for it), matched
exhaustively between photos or sequentially between video frames, verified geometrically, and
COLMAP's incremental mapper registers the images one by one with bundle adjustment. The largest
model is kept; every image left out gets a reason (`SfmResult.failed`).

Images of one shape (aspect ratio and orientation) and one EXIF focal length share a camera, as
photos of one camera do; portrait photos among landscape ones get a camera of their own. Photos of one
shape but several resolutions (resized copies) are brought to the largest for SfM, so that they share
the camera (with one focal length each, the smaller ones register poorly), and the model is scaled
back to each image's own size afterwards. When no matched pair of images shows the scene move by more
than `STILL_PAIR` of the image (copies of one picture, a camera that never moved), mapping is not
tried: an InputError says so.

The mapper's absolute-pose thresholds are relaxed from COLMAP's defaults (15 inliers and a 15 %
inlier ratio instead of 30 and 25 %): on sparse rings of photos (about 20 degrees apart) the defaults
drop views that still have plenty of correct matches, while wrong registrations stay rare because the
matches were verified geometrically first.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dioramic.errors import InputError, MissingDependencyError
from dioramic.reconstruct.inputs import InputImages, listing
from dioramic.reconstruct.model import Lens, PosedImage, SparseModel
from dioramic.types import Camera

log = logging.getLogger(__name__)

SIFT_MAX_SIDE = 1600
"""Images are scaled to this long side (at most) for feature extraction."""
MAX_FEATURES = 4096
"""SIFT features kept per image (COLMAP's default: 8192). On entry-P10 (10 photos of 6 MP) half as
many took 42 instead of 65 CPU seconds (matching 6 instead of 16) and placed every photo as well
(camera centres within 0.086 % of the trajectory against 0.087 %)."""
MIN_FEATURES = 100
"""An image with fewer SIFT features than this is reported as too plain (textureless)."""
MIN_INLIERS = 15
"""Verified matches needed between two images (COLMAP's default)."""
SEQUENTIAL_OVERLAP = 10
"""Video frames are matched with this many next frames (and 2, 4, 8, ... further ones)."""
CAMERA_MODEL = "SIMPLE_RADIAL"
"""One focal length, the principal point, one radial distortion term: what phone photos need."""
STILL_PAIR = 0.01
"""A matched pair whose verified matches move by less than this fraction of the image's long side
(median) shows no camera motion; when no pair moves more, there is nothing to triangulate."""


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

    Returns None when no two images could be placed together (every image then fails). Raises
    InputError when the images that match show no camera motion (see `STILL_PAIR`).
    """
    pycolmap = _pycolmap()
    # COLMAP is chatty on stderr, and says "Failed to create any sparse model" as an error: the
    # caller explains failures itself, so only --debug shows COLMAP's errors
    pycolmap.logging.minloglevel = 2 if log.isEnabledFor(logging.DEBUG) else 3
    pycolmap.set_random_seed(seed)
    step = on_step or (lambda _: None)

    extraction = pycolmap.FeatureExtractionOptions()
    extraction.max_image_size = SIFT_MAX_SIDE
    extraction.sift.max_num_features = MAX_FEATURES
    step("finding SIFT features")
    groups = camera_groups(images)
    folder, scales = _sfm_folder(images, groups, database.parent / "resized")
    for (width, height), focal_35mm, names in groups:
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = CAMERA_MODEL
        if focal_35mm is not None:
            focal = Camera.from_focal_35mm(width, height, focal_35mm).fx
            reader.camera_params = f"{focal},{width / 2},{height / 2},0"
        pycolmap.extract_features(
            database,
            folder,
            image_names=names,
            camera_mode=pycolmap.CameraMode.SINGLE,  # one camera for this call's images
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
    _check_motion(pycolmap, database, images, groups)
    step("registering the images (incremental mapping)")
    options = pycolmap.IncrementalPipelineOptions()
    options.min_model_size = 3
    options.min_num_matches = MIN_INLIERS
    options.random_seed = seed
    options.mapper.abs_pose_min_num_inliers = 15
    options.mapper.abs_pose_min_inlier_ratio = 0.15
    mapper_dir = database.parent / "mapper"  # the mapper writes its models there too
    mapper_dir.mkdir(parents=True, exist_ok=True)
    models = pycolmap.incremental_mapping(database, folder, mapper_dir, options)
    models = sorted(models.values(), key=lambda r: -r.num_reg_images())
    failed = _failures(pycolmap, database, images.names, models)
    if not models:
        return None
    best = _rescaled(pycolmap, models[0], scales, images) if scales else models[0]
    return SfmResult(model=_sparse_model(pycolmap, best), failed=failed, reconstruction=best)


CameraGroup = tuple[tuple[int, int], float | None, list[str]]
"""(width, height) the images are brought to, EXIF 35 mm focal length or None, image names."""


def camera_groups(images: InputImages) -> list[CameraGroup]:
    """The images by camera: one group per shape (same aspect ratio within a pixel, same orientation)
    and EXIF 35 mm focal length, at the size of its largest image.

    A camera's intrinsics are in pixels of one image size: a portrait photo among landscape ones (the
    same phone turned) needs a camera of its own, as do two zoom settings; resized copies of one
    camera's photos share its camera once brought to one size (`_sfm_folder`).
    """
    groups: list[tuple[list[tuple[int, int]], float | None, list[str]]] = []
    for name, rgb, focal in zip(images.names, images.pixels, images.focal_lengths_35mm, strict=True):
        height, width = rgb.shape[:2]
        for sizes, group_focal, names in groups:
            w, h = sizes[0]
            if group_focal == focal and abs(width * h - w * height) <= max(h, height):
                sizes.append((width, height))
                names.append(name)
                break
        else:
            groups.append(([(width, height)], focal, [name]))
    return [(max(sizes, key=lambda s: s[0] * s[1]), focal, names) for sizes, focal, names in groups]


def _sfm_folder(
    images: InputImages, groups: list[CameraGroup], work: Path
) -> tuple[Path, dict[str, tuple[float, float]]]:
    """The folder SfM reads the images from, and the (x, y) scale from SfM's pixels to each resized
    image's own. When every image has its group's size, that is `images.folder`, unscaled; else
    `work` (created) with each image resized to its group's size or linked as it is."""
    sizes = {name: rgb.shape[:2] for name, rgb in zip(images.names, images.pixels, strict=True)}
    target = {name: size for size, _, names in groups for name in names}
    scaled = [name for name in images.names if sizes[name] != target[name][::-1]]
    if not scaled:
        return images.folder, {}
    import cv2
    from PIL import Image

    work.mkdir(parents=True, exist_ok=True)
    pixels = dict(zip(images.names, images.pixels, strict=True))
    scales = {}
    for name in images.names:
        if name in scaled:
            (height, width), (w, h) = sizes[name], target[name]
            Image.fromarray(cv2.resize(pixels[name], (w, h), interpolation=cv2.INTER_CUBIC)).save(
                work / name, quality=95
            )
            scales[name] = (width / w, height / h)
        else:
            try:
                os.symlink(images.folder.resolve() / name, work / name)
            except OSError:  # a file system without links
                shutil.copyfile(images.folder / name, work / name)
    return work, scales


def _rescaled(
    pycolmap: Any, reconstruction: Any, scales: dict[str, tuple[float, float]], images: InputImages
) -> Any:
    """`reconstruction` with each image in `scales` given its own size back: a camera of its own
    size per SfM camera and image size (focal length and principal point scaled; the distortion
    terms, in normalised coordinates, and the poses do not change) and its 2D points scaled."""
    sizes = {name: rgb.shape[:2] for name, rgb in zip(images.names, images.pixels, strict=True)}
    out = pycolmap.Reconstruction()
    cameras: dict[tuple[int, int, int], int] = {}
    for image_id in sorted(reconstruction.reg_image_ids()):
        image = reconstruction.images[image_id]
        sx, sy = scales.get(image.name, (1.0, 1.0))
        height, width = sizes[image.name]
        key = (image.camera_id, width, height)
        if key not in cameras:
            camera = reconstruction.cameras[image.camera_id]
            params = np.array(camera.params, dtype=np.float64)
            params[camera.focal_length_idxs()] *= (sx + sy) / 2
            cx, cy = camera.principal_point_idxs()
            params[cx] *= sx
            params[cy] *= sy
            cameras[key] = len(cameras) + 1
            out.add_camera_with_trivial_rig(
                pycolmap.Camera(
                    model=camera.model, width=width, height=height, params=params, camera_id=cameras[key]
                )
            )
        keypoints = np.array([p.xy for p in image.points2D], dtype=np.float64).reshape(-1, 2)
        scaled = pycolmap.Image(
            name=image.name, keypoints=keypoints * [sx, sy], camera_id=cameras[key], image_id=image_id
        )
        out.add_image_with_trivial_frame(scaled, image.cam_from_world())
    for point in reconstruction.points3D.values():
        out.add_point3D(point.xyz, point.track, point.color)
    out.update_point_3d_errors()
    return out


def pair_motions(pycolmap: Any, database: Path) -> dict[tuple[str, str], float]:
    """(name, name) -> median distance (pixels, in the first image) that the inlier matches move
    between the two images, for each pair of images in `database` verified with at least
    `MIN_INLIERS` inliers."""
    db = pycolmap.Database.open(database)
    try:
        names = {image.image_id: image.name for image in db.read_all_images()}
        pair_ids, geometries = db.read_two_view_geometries()
        motions = {}
        keypoints: dict[int, np.ndarray] = {}
        for pair_id, geometry in zip(pair_ids, geometries, strict=True):
            matches = geometry.inlier_matches
            if len(matches) < MIN_INLIERS:
                continue
            a, b = pycolmap.pair_id_to_image_pair(pair_id)
            for i in (a, b):
                if i not in keypoints:
                    keypoints[i] = db.read_keypoints(i)[:, :2]
            shift = np.linalg.norm(keypoints[a][matches[:, 0]] - keypoints[b][matches[:, 1]], axis=1)
            motions[(names[a], names[b])] = float(np.median(shift))
    finally:
        db.close()
    return motions


def _check_motion(pycolmap: Any, database: Path, images: InputImages, groups: list[CameraGroup]) -> None:
    """Raise InputError when images match but no matched pair shows the scene move by `STILL_PAIR`
    of the image (mapping could not even start); the line also names the images that match none."""
    motions = pair_motions(pycolmap, database)
    if not motions:
        return
    side = {name: max(size) for size, _, names in groups for name in names}  # as SfM saw them
    moved = max(shift / side[a] for (a, _), shift in motions.items())
    if moved >= STILL_PAIR:
        return
    matched = {name for pair in motions for name in pair}
    alone = [name for name in images.names if name not in matched]
    what = "the video's frames" if images.video else f"the {len(matched)} images"
    todo = "film walking slowly" if images.video else "take the photos from different places"
    raise InputError(
        f"{what}{' that overlap' if alone else ''} show no camera motion (matched images differ by at "
        f"most {moved:.1%} of their size: copies of one picture, or a camera that stood still); no depth "
        f"can be seen: {todo} around the object"
        + (f"; overlapping no other image: {listing(alone)}" if alone else "")
    )


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
