"""The whole reconstruction: images -> poses -> depth -> fused mesh -> texture -> scene, files, video.

Everything is written into a hidden folder beside OUT that replaces OUT only when every file is there
(`dioramic.files.atomic_dir`), so a failure leaves no half-written OUT.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dioramic.config import RunOptions
from dioramic.errors import InputError, UsageError
from dioramic.files import atomic_dir, save_image, write_bytes
from dioramic.reconstruct.background import BackgroundOptions, background_sphere
from dioramic.reconstruct.fusion import FusionOptions, decimate, fuse, region_of_interest
from dioramic.reconstruct.inputs import MIN_IMAGES, collect_images, left_out
from dioramic.reconstruct.model import SparseModel, View, view_of
from dioramic.reconstruct.placement import NOMINAL_DISTANCE, Placement, depth_range, place
from dioramic.reconstruct.sfm import SfmResult, run_sfm
from dioramic.reconstruct.stereo import StereoOptions, depth_maps
from dioramic.reconstruct.surfaces import SurfaceOptions, photo_surfaces
from dioramic.reconstruct.texture import TexturedMesh, TextureOptions, bake, ray_scene
from dioramic.types import Mesh, PhotoSurface, Scene

if TYPE_CHECKING:
    from dioramic.motion import Motion
    from dioramic.render import RenderSettings
    from dioramic.splats.harmonics import PhotoView

log = logging.getLogger(__name__)

MIN_PLACED_FRACTION = 0.5
"""A reconstruction fails when SfM places fewer than this fraction of the images given: a model made
from a minority of them (a textureless object, say) would not show what was photographed."""
DEFAULT_MOTION = "capture"
"""The move `reconstruct` films unless told otherwise: along the photos, a full turn when they go round."""
FUSED_PER_KEPT = 3
"""Fusion aims at this many times the triangle budget, which decimation then meets."""
STAGES = ("reading the images", "structure from motion", "preparing the views", "stereo depth",
          "fusing the depth maps", "texturing", "writing the files", "rendering the video")  # fmt: skip


@dataclass(frozen=True)
class ReconstructOptions:
    """Settings of `reconstruct`."""

    holdout: int | None = None
    """Keep every N-th image (sorted by name, starting with the second) out of depth fusion and
    texturing; it is still posed, and the model is rendered from its camera into OUT/holdout/."""
    max_triangles: int = 200_000
    """Triangle budget of the model."""
    max_frames: int | None = None
    """Most frames taken from a video (default: `dioramic.reconstruct.inputs.MAX_FRAMES`)."""
    depth_side: int = 1280
    """Long side (pixels) of the images stereo works on."""
    texture_side: int = 2048
    """Long side (pixels) of the images the texture is cut from."""
    holdout_side: int = 1280
    """Long side (pixels) of the held-out renders."""
    write_video: bool = True
    """Render video.mp4 (the motion of `run`, default the spin)."""
    run: RunOptions = field(default_factory=RunOptions)
    """Motion and video settings (as for `dioramic run`); its motion defaults to 'spin' here."""
    stereo: StereoOptions = field(default_factory=StereoOptions)
    fusion: FusionOptions = field(default_factory=FusionOptions)
    texture: TextureOptions = field(default_factory=TextureOptions)
    background: bool = True
    """Surround the model with a textured sphere of what the views show beyond it (see
    `dioramic.reconstruct.background`)."""
    surroundings: BackgroundOptions = field(default_factory=BackgroundOptions)
    blend: bool = True
    """Render the video and the held-out views view-dependently, from the photos themselves draped
    over their own surfaces (`dioramic.render.blend`); else from the model's texture atlas alone (what
    scene.glb holds either way)."""
    surfaces: SurfaceOptions = field(default_factory=SurfaceOptions)
    refine_splats: int | None = None
    """Write the splats (as ``run.splats`` does) and refine them this many steps against the photos
    on a CUDA GPU (`dioramic.splats.refine`); refused before any work where that cannot run."""


@dataclass(frozen=True)
class ReconstructResult:
    """What `reconstruct` made."""

    folder: Path
    """OUT."""
    scene: Scene
    """The textured model, placed in the reference view's camera."""
    report: dict
    """The content of report.json."""


def held_out_names(names: Sequence[str], every: int | None) -> list[str]:
    """Every `every`-th name in sorted order, starting with the second.

    >>> held_out_names(["a", "b", "c", "d", "e", "f"], 2), held_out_names(["a", "b"], None)
    (['b', 'd', 'f'], [])
    """
    if every is None:
        return []
    return sorted(names)[1::every]


def _check(options: ReconstructOptions) -> None:
    from dioramic.pipeline import check_options, model_probe

    if options.holdout is not None and options.holdout < 2:
        raise UsageError(f"--holdout must be 2 or more (every N-th image is held out), got {options.holdout}")
    if options.max_triangles < 100:
        raise UsageError(f"--max-triangles must be at least 100, got {options.max_triangles}")
    if options.refine_splats is not None:
        from dioramic.splats.refine import require_gpu

        require_gpu()  # one line (the extra to install, or no CUDA device) before any work
    check_options(_run_options(options), probe=model_probe())


def _run_options(options: ReconstructOptions) -> RunOptions:
    return replace(options.run, motion=options.run.motion or DEFAULT_MOTION)


def reconstruct(
    sources: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    options: ReconstructOptions = ReconstructOptions(),
    on_stage: Callable[[str], None] | None = None,
    *,
    progress: bool = False,
) -> ReconstructResult:
    """Reconstruct the object or place the photos in `sources` show (photo files, folders of photos,
    or one video) and write OUT (see docs/reconstruct.md). Raises InputError, with one line naming
    the images that could not be placed, when too few could."""
    _check(options)
    out = Path(out)
    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def stage(index: int, detail: str = "") -> None:
        if on_stage is not None:
            on_stage(f"[{index + 1}/{len(STAGES)}] {STAGES[index]}{': ' + detail if detail else ''}")

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = round(now - clock[0], 3)
        clock[0] = now

    with atomic_dir(out) as staging, tempfile.TemporaryDirectory(prefix="dioramic-sfm-") as work:
        stage(0)
        images = collect_images(sources, staging / "images", max_frames=options.max_frames)
        lap("read")
        stage(1, f"{len(images.names)} images")

        sfm = run_sfm(images, Path(work) / "database.db", on_step=lambda s: stage(1, s))
        _check_placed(images.names, sfm, images.skipped)
        assert sfm is not None  # _check_placed raised otherwise
        model = sfm.model
        lap("sfm")
        log.info(
            "placed %d of %d images (mean reprojection error %.2f px, %d points)",
            len(model.images), len(images.names), model.reprojection_error, len(model.points),
        )  # fmt: skip

        stage(2)
        pixels = dict(zip(images.names, images.pixels, strict=True))
        held_out = [
            n for n in held_out_names(images.names, options.holdout) if n in {i.name for i in model.images}
        ]
        fused = [k for k, image in enumerate(model.images) if image.name not in held_out]
        if len(fused) < 2:
            raise InputError("fewer than 2 placed images are left for depth after holding images out")
        views = [view_of(image, pixels[image.name], options.depth_side) for image in model.images]
        lap("views")

        stage(3, f"{len(fused)} views")
        depths = depth_maps(
            views, model, fused, options.stereo, on_view=lambda k, n: stage(3, f"view {k}/{n}")
        )
        lap("depth")

        stage(4)
        vertices, faces, voxel = fuse(
            views,
            depths,
            region_of_interest(model.points, np.array([v.centre for v in views])),
            replace(options.fusion, max_triangles=FUSED_PER_KEPT * options.max_triangles),
        )
        fused_triangles = len(faces)
        vertices, faces = decimate(vertices, faces, options.max_triangles)
        lap("fusion")

        stage(5, f"{len(faces)} triangles")
        placement = place(views, model.points, fused)
        texture_views = [
            view_of(model.images[k], pixels[model.images[k].name], options.texture_side) for k in fused
        ]
        textured = bake(vertices, faces, texture_views, options.texture, fused.index(placement.reference))
        meshes = [_mesh("model", textured, placement)]
        if options.background:
            axis = placement.rotation.T @ placement.views.axis  # back to the world's axes
            centre = placement.to_world(placement.views.centre[None])[0]
            measured = [depths[k] > 0 if k in depths else None for k in fused]
            surroundings = background_sphere(
                texture_views, vertices, faces, centre, axis, options.surroundings, foreground=measured
            )
            meshes.insert(0, _mesh("background", surroundings, placement))  # farthest first
        photos: tuple[PhotoSurface, ...] = ()
        if options.blend:
            photos = photo_surfaces(
                views, depths, fused, texture_views, ray_scene(vertices, faces), placement, options.surfaces
            )
        splats_wanted = bool(options.run.splats or options.refine_splats)
        colour_from = _photo_views(texture_views, placement) if splats_wanted else []
        del texture_views
        near, far = depth_range(placement, meshes[-1].vertices)  # the model's
        far = max(far, depth_range(placement, np.concatenate([m.vertices for m in meshes]))[1])
        reference = model.images[placement.reference]
        scene = Scene(
            meshes=tuple(meshes),
            camera=reference.lens.pinhole,
            near=near,
            far=far,
            focus=placement.focus,
            views=placement.views,
            photos=photos,
        )
        lap("texture")

        stage(6)
        from dioramic.reconstruct.outputs import write_sparse

        write_sparse(staging / "sparse", model, views, placement, held_out, sfm.reconstruction)
        rendered = _write_holdout(staging / "holdout", scene, model, views, placement, held_out, options)
        motion, settings, glb = _export(scene, staging / "scene.glb", options)
        splats = None
        if splats_wanted:
            from dioramic.splats.reconstruction import write_reconstruction_splats

            splats = write_reconstruction_splats(
                scene, staging, options.run.max_splats, options.refine_splats, reference.name, colour_from
            )
        del colour_from
        lap("export")

        video = None
        if options.write_video:
            stage(7, f"{settings.frame_count} frames")
            video = _render(scene, motion, glb, staging / "video.mp4", settings, options, progress)
            lap("video")

        report = {
            "inputs": [str(s) for s in sources],
            "images_given": len(images.names),
            "images": list(images.names),
            "sources": list(images.sources),
            "registered": len(model.images),
            "registered_images": [image.name for image in model.images],
            "failed": sfm.failed,
            "skipped": images.skipped,
            "held_out": held_out,
            "holdout_renders": rendered,
            "reference_view": reference.name,
            "reprojection_error_px": round(model.reprojection_error, 4),
            "points": len(model.points),
            "views_with_depth": len(depths),
            "voxel_size": voxel * placement.scale,
            "fused_triangles": fused_triangles,
            "triangles": scene.triangle_count,
            "vertices": int(sum(len(m.vertices) for m in scene.meshes)),
            "background": options.background,
            "view_dependent": bool(photos),
            "photo_surface_triangles": int(sum(len(p.faces) for p in photos)),
            "texture_size": [int(textured.texture.shape[1]), int(textured.texture.shape[0])],
            "charts": textured.charts,
            "untextured_fraction": round(textured.unseen, 4),
            "units": f"metres, scaled so that the views stood {NOMINAL_DISTANCE:g} m from the model's "
            "centre on average (photos carry no absolute scale)",
            "focus": placement.focus,
            "motion": _run_options(options).motion,
            "video": video,
            "splats": splats,
            "timings_s": timings,
            "total_s": round(sum(timings.values()), 3),
        }
        report["files"] = sorted(
            [f.name + ("/" if f.is_dir() else "") for f in staging.iterdir()] + ["report.json"]
        )
        write_bytes(staging / "report.json", json.dumps(report, indent=2).encode())
    return ReconstructResult(folder=out, scene=scene, report=report)


def _mesh(name: str, textured: TexturedMesh, placement: Placement) -> Mesh:
    """A scene `Mesh` of a textured mesh in the world's coordinates."""
    return Mesh(
        name=name,
        vertices=placement.apply(textured.vertices).astype(np.float32),
        uvs=textured.uvs,
        faces=textured.faces.astype(np.uint32),
        texture=textured.texture,
    )


def _check_placed(names: Sequence[str], sfm: SfmResult | None, skipped: dict[str, str] | None = None) -> None:
    """Raise InputError naming the images that could not be placed (and the photos left out before,
    `skipped`: path -> why) when too few were; else say which were not placed or left out, once."""
    skipped = skipped or {}
    placed = 0 if sfm is None else len(sfm.model.images)
    needed = max(MIN_IMAGES, math.ceil(MIN_PLACED_FRACTION * len(names)))
    if sfm is not None and placed >= needed:
        if skipped:
            log.warning("notice: left out %d photo(s): %s", len(skipped), left_out(skipped))
        if sfm.failed:
            log.warning("notice: %d image(s) could not be placed: %s", len(sfm.failed), _reasons(sfm.failed))
        return
    if sfm is None:
        failed = dict.fromkeys(names, "no two images could be placed together")
    else:
        failed = dict(sfm.failed)
    before = f"; left out before: {left_out(skipped)}" if skipped else ""
    raise InputError(
        f"could place only {placed} of {len(names)} images (at least {needed} needed); "
        f"could not place: {_reasons(failed)}{before}"
    )


def _reasons(failed: dict[str, str]) -> str:
    """'reason: a.png, b.png; other reason: c.png' (images grouped by reason)."""
    groups: dict[str, list[str]] = {}
    for name, why in sorted(failed.items()):
        groups.setdefault(why, []).append(name)
    return "; ".join(f"{why}: {', '.join(names)}" for why, names in groups.items())


def _photo_views(views: Sequence[View], placement: Placement) -> list[PhotoView]:
    """The textured `views` as the splats' colours are fitted to them: in the scene's coordinates."""
    from dioramic.splats.harmonics import PhotoView

    return [PhotoView(v.image, v.camera, placement.pose(v).world_matrix(), v.valid) for v in views]


def _write_holdout(
    folder: Path,
    scene: Scene,
    model: SparseModel,
    views: Sequence[View],
    placement: Placement,
    held_out: Sequence[str],
    options: ReconstructOptions,
) -> list[str]:
    """Render the scene from each held-out image's camera into folder/<stem>.png (RGBA), as the video
    renders it."""
    from dioramic.reconstruct.holdout import render_photo_view

    written = []
    for image, view in zip(model.images, views, strict=True):
        if image.name not in held_out:
            continue
        lens = image.lens
        scale = min(1.0, options.holdout_side / max(lens.width, lens.height))
        width, height = max(1, round(lens.width * scale)), max(1, round(lens.height * scale))
        pose = placement.pose(view)
        # the lens' camera axes (y down, z ahead) are the pose's with y and z flipped
        rgba = render_photo_view(
            scene,
            lens,
            pose.camera_position,
            pose.camera_rotation @ np.diag([1.0, -1.0, -1.0]),
            width,
            height,
        )
        save_image(folder / f"{Path(image.name).stem}.png", rgba)
        written.append(f"holdout/{Path(image.name).stem}.png")
    return written


def _export(scene: Scene, path: Path, options: ReconstructOptions) -> tuple[Motion, RenderSettings, Path]:
    """The motion, the video's settings and scene.glb (with the motion) for `scene`."""
    from dioramic.export import export_scene
    from dioramic.pipeline import choose_motion, render_settings

    run = _run_options(options)
    settings = render_settings(run, scene.camera)
    motion = choose_motion(scene, run, settings.width / settings.height).motion
    settings = replace(settings, duration=motion.duration)
    glb = export_scene(
        scene,
        path,
        motion=motion,
        fps=settings.fps,
        size=(settings.width, settings.height),
        duration=settings.duration,
    )
    return motion, settings, glb


def _render(
    scene: Scene,
    motion: Motion,
    glb: Path,
    path: Path,
    settings: RenderSettings,
    options: ReconstructOptions,
    progress: bool,
) -> dict:
    """Film the motion into video.mp4; a summary for the report."""
    run = _run_options(options)
    if run.renderer == "blender":
        from dioramic.pipeline import render_with_blender_for

        render_with_blender_for(glb, path, settings, run, progress)
        return {"file": "video.mp4", "renderer": "blender"}
    from dioramic.render import render_video

    report = render_video(scene, motion, path, settings, progress=progress)
    return {
        "file": "video.mp4",
        "frames": report.frames,
        "size": [report.width, report.height],
        "fps": report.fps,
        "render_seconds": round(report.total_seconds, 3),
    }
