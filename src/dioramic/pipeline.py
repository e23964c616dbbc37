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
from dioramic.photo import load_photo
from dioramic.types import Camera, DepthMap, Photo, Scene

if TYPE_CHECKING:
    from dioramic.motion import Motion
    from dioramic.render import RenderSettings
    from dioramic.render.fit import FitResult

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


def make_scene(photo: Photo, depth: DepthMap, options: RunOptions) -> Scene:
    """The textured scene for `photo` with the run's scene settings."""
    from dioramic.scene import SceneOptions, build_scene

    scene_options = SceneOptions(
        max_triangles=options.max_triangles,
        edge_threshold=SceneOptions.edge_threshold
        if options.edge_threshold is None
        else options.edge_threshold,
        fov=options.fov,
        inpainter=options.inpainter,
        inpaint_model=options.inpaint_model,
    )
    return build_scene(photo, depth, scene_options)


def render_settings(options: RunOptions, frame: Photo | Camera) -> RenderSettings:
    """The renderer's settings for a run; the size defaults to long side 1280 at the aspect of `frame`
    (the photo, or the camera of a scene read from a file)."""
    from dioramic.render import RenderSettings

    width, height = video_size(options, frame.width, frame.height)
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
    )


@dataclass(frozen=True)
class MotionChoice:
    """The motion of a run and how its amplitude was chosen."""

    motion: Motion
    """The motion."""
    spec: str
    """The preset name or timeline file."""
    amplitude: float
    """The amplitude used."""
    auto: bool
    """True when `--amplitude auto` chose it, False when the user gave it."""
    fit: FitResult
    """The artifact prediction at that amplitude."""


def choose_motion(scene: Scene, options: RunOptions, aspect: float | None = None) -> MotionChoice:
    """The run's motion; with ``amplitude=None`` (auto) the strongest amplitude <= 1 whose predicted
    frames keep within the artifact limits (`dioramic.render.fit`). A given amplitude is used as is,
    with a warning when its frames are predicted to show holes or stretched surfaces. A reconstructed
    model (`Scene.views`) keeps amplitude 1 under auto, without the warning.

    `aspect` is the video's width / height: when it differs from the photo's, the motion frames the
    largest part of the photo with that aspect (the field of view narrows), so no frame looks past the
    photo's edges."""
    from dioramic.camera import cover
    from dioramic.motion import DEFAULT_MOTION, make_motion
    from dioramic.render.fit import ArtifactLimits, fit_amplitude

    spec = options.motion or DEFAULT_MOTION
    framed = scene if aspect is None else replace(scene, camera=cover(scene.camera, aspect))

    def make(amplitude: float) -> Motion:
        return make_motion(
            spec,
            framed,
            duration=options.duration,
            amplitude=amplitude,
            easing=options.easing,
            loop=options.loop,
            fps=options.fps,
        )

    limits = ArtifactLimits()
    # A model reconstructed from several photos has no photo frame to keep filled: its empty
    # surroundings count as uncovered in every view, so `auto` keeps the preset's own strength.
    reconstructed = scene.views is not None
    if options.amplitude is None and not reconstructed:
        fit = fit_amplitude(scene, make, limits)
        amplitude = fit.amplitude
        log.info(
            "amplitude %.3g (auto): predicted worst frame %.2f %% uncovered, %.2f %% stretched (%.2f s)",
            amplitude,
            100 * fit.prediction.uncovered,
            100 * fit.prediction.stretched,
            fit.seconds,
        )
    else:
        amplitude = 1.0 if options.amplitude is None else float(options.amplitude)
        fit = fit_amplitude(scene, make, limits, maximum=amplitude, iterations=0)
        if not fit.within_limits and not reconstructed:
            log.warning(
                "amplitude %.3g will show holes or smears: about %.2f %% of a frame uncovered and "
                "%.2f %% stretched (limits %.2f %% and %.2f %%); --amplitude auto avoids them",
                amplitude,
                100 * fit.prediction.uncovered,
                100 * fit.prediction.stretched,
                100 * limits.uncovered,
                100 * limits.stretched,
            )
        else:
            log.info("amplitude %.3g", amplitude)
    return MotionChoice(make(amplitude), str(spec), amplitude, options.amplitude is None, fit)


def make_motion_for(scene: Scene, options: RunOptions, aspect: float | None = None) -> Motion:
    """The run's motion for a video of width / height `aspect` (see `choose_motion`)."""
    return choose_motion(scene, options, aspect).motion


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


def check_options(options: RunOptions, video: Path = Path("video.mp4")) -> None:
    """Raise the UsageError/InputError a run with `options` writing `video` would meet, before any
    expensive stage: video settings and codec options, the motion (a preset, or a readable timeline
    file), and renderer combinations. The size of the photo does not matter here."""
    from dioramic.motion import make_motion
    from dioramic.render.video import WRITERS, format_for_path

    probe = Camera.from_fov(1280, 720, 45.0)
    settings = render_settings(options, probe)  # RenderSettings checks its own ranges
    width, height = settings.frame_size
    WRITERS.get(format_for_path(video))(video, width, height, settings.fps, **settings.codec_options())
    if options.stereo is not None and options.renderer == "blender":
        raise UsageError("--stereo works with the opengl renderer only")
    if options.inpaint_model is not None and options.inpainter != "lama":
        raise UsageError("--inpaint-model is the model file of --inpainter lama")
    if options.model is not None and options.depth not in ("auto", "depth-anything-v2", "midas"):
        raise UsageError(f"--model is for the learned depth backends, not '{options.depth}'")
    scene = Scene((), probe, near=1.0, far=6.0, focus=2.0)  # presets and timelines need only the sizes
    make_motion(
        options.motion or "circle",
        scene,
        duration=options.duration,
        amplitude=options.amplitude,
        easing=options.easing,
        loop=options.loop,
        fps=options.fps,
    )


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
    scene = make_scene(photo, depth, options)
    timings["scene"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("choosing the motion")
    settings = render_settings(options, photo)
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

    t0 = time.perf_counter()
    stage(f"rendering the video ({options.renderer})")
    if options.renderer == "blender":
        render_with_blender_for(glb, folder / "video.mp4", settings, options, progress)
        report = None  # Blender's frames are not measured
    else:
        report = render_video(scene, motion, folder / "video.mp4", settings, progress=progress)
    files.append(folder / "video.mp4")
    timings["video"] = time.perf_counter() - t0

    from dioramic.render import STRETCH_LIMIT

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
        "amplitude_fit": {
            "predicted_uncovered": fit.prediction.uncovered,
            "predicted_stretched": fit.prediction.stretched,
            "within_limits": fit.within_limits,
            "evaluations": fit.evaluations,
            "seconds": round(fit.seconds, 3),
        },
        "artifacts": None,  # Blender's frames are not measured
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "render": {"renderer": options.renderer, "frames": settings.frame_count},
    }
    if report is not None:
        summary["artifacts"] = {
            "stretch_limit": STRETCH_LIMIT,
            "max_uncovered": report.max_uncovered,
            "max_stretched": report.max_stretched,
            "uncovered": list(report.uncovered),
            "stretched": list(report.stretched),
        }
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
