"""The whole job for one photo: depth -> scene -> exports -> video, written into one folder."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from dioramic.config import RunOptions, video_size
from dioramic.depth import DepthOptions, estimate
from dioramic.errors import UsageError
from dioramic.files import ensure_dir, save_depth, write_bytes
from dioramic.moves import MotionChoice, choose_motion, make_motion_for, scene_reach
from dioramic.photo import load_photo
from dioramic.types import Camera, DepthMap, Photo, Scene

if TYPE_CHECKING:
    from dioramic.render import RenderSettings
    from dioramic.scene import SceneOptions

__all__ = [
    "OUTPUT_FILES",
    "MotionChoice",
    "RunResult",
    "check_export",
    "check_options",
    "choose_motion",
    "depth_options",
    "estimate_depth",
    "make_motion_for",
    "make_scene",
    "render_settings",
    "run_photo",
    "scene_options",
]

log = logging.getLogger(__name__)

OUTPUT_FILES = ("depth.png", "depth.npy", "scene.glb", "video.mp4")


@dataclass(frozen=True)
class RunResult:
    """What `run_photo` wrote, and how long each stage took."""

    folder: Path
    """The output folder, OUTDIR/<photo stem>."""
    files: tuple[Path, ...]
    """Every file written, in the order written."""
    depth_backend: str
    """The backend that produced the depth."""
    triangles: int
    """Triangles in the scene."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per stage: load, depth, scene, export, video."""


def depth_options(options: RunOptions) -> DepthOptions:
    """The depth stage's options from a run's options."""
    metric = options.depth_kind == "metric"
    kind: Literal["depth", "inverse"] = "inverse" if options.depth_kind == "inverse" else "depth"
    return DepthOptions(model=options.model, depth_map=options.depth_map, depth_kind=kind, metric=metric)


def estimate_depth(photo: Photo, options: RunOptions) -> DepthMap:
    """Depth for `photo` with the run's depth settings."""
    if not options.near < options.far:
        raise UsageError(f"--near ({options.near:g} m) must be less than --far ({options.far:g} m)")
    return estimate(
        photo,
        options.depth,
        depth_options(options),
        refine_edges=options.refine,
        near=options.near,
        far=options.far,
    )


def make_scene(
    photo: Photo,
    depth: DepthMap,
    options: RunOptions,
    aspect: float | None = None,
    view_size: tuple[int, int] | None = None,
    *,
    any_move: bool = False,
) -> Scene:
    """The textured scene for `photo` with the run's scene settings (`scene_options`)."""
    from dioramic.scene import build_scene

    return build_scene(
        photo, depth, scene_options(photo, depth, options, aspect, view_size, any_move=any_move)
    )


def scene_options(
    photo: Photo,
    depth: DepthMap,
    options: RunOptions,
    aspect: float | None = None,
    view_size: tuple[int, int] | None = None,
    *,
    any_move: bool = False,
) -> SceneOptions:
    """The run's scene settings, for its motion: what the scene rebuilds behind depth edges and
    beyond the frame reaches as far as the motion (at its largest amplitude) can look, and never less
    than `SceneOptions`' defaults (so the scene file still suits other gentle moves), and it has no
    more triangles than frames of `view_size` (width, height) need. `aspect`: the video's width /
    height (see `choose_motion`). With `any_move` and no motion named (a scene file for any move:
    `dioramic mesh`, `export`), it reaches as far as every preset at the amplitude (see
    `dioramic.moves.scene_reach`)."""
    from dioramic.camera import camera_for_photo
    from dioramic.scene import SceneOptions, empty_behind, subject_distance

    camera = camera_for_photo(photo, options.fov)
    focus = subject_distance(*empty_behind(depth.depth, photo.alpha))
    proxy = Scene((), camera, near=float(depth.depth.min()), far=float(depth.depth.max()), focus=focus)
    lateral, axial = scene_reach(proxy, options, aspect, any_move)
    return SceneOptions(
        max_triangles=options.max_triangles,
        edge_threshold=SceneOptions.edge_threshold
        if options.edge_threshold is None
        else options.edge_threshold,
        fov=options.fov,
        inpainter=options.inpainter,
        inpaint_model=options.inpaint_model,
        lateral_move=min(1.0, max(SceneOptions.lateral_move, lateral)),
        axial_move=min(1.0, max(SceneOptions.axial_move, axial)),
        view_size=None if view_size is None else max(view_size),
    )


def render_settings(
    options: RunOptions, frame: Photo | Camera, video_format: str | None = None
) -> RenderSettings:
    """The renderer's settings for a run; the size defaults to the format's long side (1280; 480 for
    a GIF, see `config.video_defaults`) at the aspect of `frame` (the photo, or the camera of a scene
    read from a file)."""
    from dioramic.render import RenderSettings

    width, height = video_size(options, frame.width, frame.height, video_format)
    return RenderSettings(
        width=width,
        height=height,
        fps=options.fps,
        duration=options.duration,
        supersample=options.supersample,
        background=options.background,
        crf=options.crf,  # None: the writer's default
        preset=options.preset,
        stereo=options.stereo,  # type: ignore[arg-type]  # checked by RenderSettings
        measure=options.measure,  # type: ignore[arg-type]  # checked by RenderSettings
    )


def render_with_blender_for(
    glb: Path, output: Path, settings: RenderSettings, options: RunOptions, progress: bool = True
) -> None:
    """Render the animated `glb` through Blender with the run's renderer options (no metrics)."""
    from dioramic.blender import render_with_blender

    if options.stereo is not None:
        raise UsageError("--stereo works with the opengl renderer only")
    render_with_blender(
        glb,
        output,
        engine=options.blender_engine,
        samples=options.samples,
        background=options.background,
        motion_blur=options.motion_blur,
        codec_options=settings.codec_options(),
        progress=progress,
    )


def _easing_name(motion: object) -> str | None:
    easing = getattr(getattr(motion, "timing", None), "easing", None)
    if easing is None:
        return None
    return getattr(easing, "__name__", None) or str(easing)


def model_probe() -> Scene:
    """A stand-in for a scene that may be a reconstructed model (a scene file, `reconstruct`'s model)
    for `check_options`: the camera moves need only where its views stood."""
    import numpy as np

    from dioramic.types import ViewCircle

    return Scene(
        (),
        Camera.from_fov(1280, 720, 45.0),
        near=0.5,
        far=2.0,
        focus=1.0,
        views=ViewCircle(np.array([0.0, 0.0, -1.0]), np.array([0.0, 1.0, 0.0]), 1.0, 0.0),
    )


def check_options(options: RunOptions, video: Path = Path("video.mp4"), probe: Scene | None = None) -> None:
    """Raise the UsageError/InputError a run with `options` writing `video` would meet, before any
    expensive stage: video settings and codec options, the motion (a preset, or a readable timeline
    file, tried on `probe`: a stand-in for the scene to come, by default a scene of one photo), and
    renderer combinations. The size of the photo does not matter here."""
    from dioramic.motion import make_motion
    from dioramic.render.video import WRITERS, format_for_path

    camera = Camera.from_fov(1280, 720, 45.0)
    settings = render_settings(options, camera)  # RenderSettings checks its own ranges
    width, height = settings.frame_size
    WRITERS.get(format_for_path(video))(video, width, height, settings.fps, **settings.codec_options())
    if options.stereo is not None and options.renderer == "blender":
        raise UsageError("--stereo works with the opengl renderer only")
    if options.motion_blur and options.blender_engine == "workbench":
        raise UsageError("--motion-blur needs --blender-engine cycles or eevee (workbench draws none)")
    if options.renderer == "blender":
        from dioramic.blender import find_blender_python

        find_blender_python()  # BlenderUnavailableError ("run 'make blender'") before any work
    if options.inpaint_model is not None and options.inpainter != "lama":
        raise UsageError("--inpaint-model is the model file of --inpainter lama")
    if options.model is not None and options.depth not in ("auto", "depth-anything-v2", "midas"):
        raise UsageError(f"--model is for the learned depth backends, not '{options.depth}'")
    make_motion(
        options.motion or "circle",
        probe or Scene((), camera, near=1.0, far=6.0, focus=2.0),  # presets, timelines need only sizes
        duration=options.duration,
        amplitude=options.amplitude,
        easing=options.easing,
        loop=options.loop,
        fps=options.fps,
    )


def check_export(path: Path) -> None:
    """Raise the error writing the 3D file `path` would meet, before any stage: an extension no
    exporter has (UsageError), or Blender not set up for a .blend (BlenderUnavailableError)."""
    from dioramic.export import format_for_path

    if format_for_path(path) == "blend":
        from dioramic.blender import find_blender_python

        find_blender_python()


def write_splats_beside(scene: Scene, path: Path, options: RunOptions) -> Path:
    """Write the scene's Gaussian splats as splats.ply in `path`'s folder (`--splats`), at most
    `options.max_splats` of them."""
    from dioramic.export import export_scene

    return export_scene(scene, path.parent / "splats.ply", format="splats", max_splats=options.max_splats)


def run_photo(
    path: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    options: RunOptions,
    on_stage: Callable[[str], None] | None = None,
    *,
    name: str | None = None,
    progress: bool = True,
) -> RunResult:
    """Run the whole job for the photo at `path`; outputs go to `outdir / (name or the photo's stem)`.

    `progress` shows a progress bar on stderr while the video renders.
    """
    from dioramic.export import export_scene
    from dioramic.render import render_video

    path, outdir = Path(path), Path(outdir)

    def stage(name: str) -> None:
        if on_stage is not None:
            on_stage(name)

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    stage("loading the photo")
    photo = load_photo(path)
    timings["load"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("estimating depth")
    depth = estimate_depth(photo, options)
    timings["depth"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("building the 3D scene")
    settings = render_settings(options, photo)
    scene = make_scene(
        photo, depth, options, settings.width / settings.height, (settings.width, settings.height)
    )
    timings["scene"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("choosing the motion")
    choice = choose_motion(scene, options, settings.width / settings.height)
    motion = choice.motion
    # a timeline file sets its own length; presets last --duration
    settings = replace(settings, duration=motion.duration)
    timings["motion"] = time.perf_counter() - t0

    folder = ensure_dir(outdir / (name or photo.name))
    files: list[Path] = []
    t0 = time.perf_counter()
    files.append(save_depth(depth, folder / "depth.png"))
    files.append(save_depth(depth, folder / "depth.npy"))
    # the GLB carries the video's camera and its animation, so Blender and three.js play the same move
    glb = export_scene(
        scene,
        folder / "scene.glb",
        motion=motion,
        fps=settings.fps,
        size=(settings.width, settings.height),
        duration=settings.duration,
    )
    files.append(glb)
    timings["export"] = time.perf_counter() - t0
    if options.splats:
        t0 = time.perf_counter()
        stage("writing the splats")
        files.append(write_splats_beside(scene, glb, options))
        timings["splats"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage(f"rendering the video ({options.renderer})")
    if options.renderer == "blender":
        render_with_blender_for(glb, folder / "video.mp4", settings, options, progress)
        report = None  # Blender's frames are not measured
    else:
        report = render_video(scene, motion, folder / "video.mp4", settings, progress=progress)
    files.append(folder / "video.mp4")
    timings["video"] = time.perf_counter() - t0

    fit = choice.fit
    summary: dict[str, object] = {
        "photo": str(path),
        "depth_backend": depth.backend,
        "triangles": scene.triangle_count,
        "layers": {m.name: len(m.faces) for m in scene.meshes},
        "size": [settings.width, settings.height],  # asked for; render.width/height: as written
        "fps": settings.fps,
        "duration": settings.duration,
        "motion": {
            "spec": choice.spec,
            "amplitude": choice.amplitude,
            "amplitude_mode": "auto" if choice.auto else "given",
            "easing": _easing_name(motion),
            "loop": bool(getattr(getattr(motion, "timing", None), "loop", options.loop)),
            "duration": motion.duration,
            "fps": settings.fps,
        },
        "overscan": choice.report(),
        "amplitude_fit": {
            "predicted_uncovered": fit.prediction.uncovered,
            "predicted_stretched": fit.prediction.stretched,
            "predicted_revealed": fit.prediction.revealed,
            "predicted_beyond": fit.prediction.beyond,
            "within_limits": fit.within_limits,
            "evaluations": fit.evaluations,
            "seconds": round(fit.seconds, 3),
        },
        "artifacts": None,  # Blender's frames are not measured
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "render": {"renderer": options.renderer, "frames": settings.frame_count},
    }
    if report is not None:
        summary["artifacts"] = report.artifacts()
        summary["render"] = {
            "renderer": options.renderer,
            "frames": report.frames,
            "width": report.width,
            "height": report.height,
            "render_seconds": round(report.render_seconds, 3),
            "encode_seconds": round(report.encode_seconds, 3),
            "total_seconds": round(report.total_seconds, 3),
        }
    files.append(write_bytes(folder / "render.json", json.dumps(summary, indent=2).encode()))
    return RunResult(folder, tuple(files), depth.backend, scene.triangle_count, timings)
