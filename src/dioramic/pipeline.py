"""The whole job for one photo: depth -> scene -> exports -> video, written into one folder."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from dioramic.config import RunOptions, video_size
from dioramic.depth import DepthOptions, estimate
from dioramic.files import ensure_dir, save_depth, write_bytes
from dioramic.photo import load_photo
from dioramic.types import DepthMap, Photo, Scene

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
    kind = "depth" if metric else options.depth_kind
    return DepthOptions(model=options.model, depth_map=options.depth_map, depth_kind=kind, metric=metric)  # type: ignore[arg-type]


def estimate_depth(photo: Photo, options: RunOptions) -> DepthMap:
    """Depth for `photo` with the run's depth settings."""
    return estimate(photo, options.depth, depth_options(options), refine_edges=options.refine)


def make_scene(photo: Photo, depth: DepthMap, options: RunOptions) -> Scene:
    """The textured scene for `photo` with the run's scene settings."""
    from dioramic.scene import SceneOptions, build_scene

    kwargs: dict[str, object] = {"max_triangles": options.max_triangles, "fov": options.fov}
    if options.edge_threshold is not None:
        kwargs["edge_threshold"] = options.edge_threshold
    return build_scene(photo, depth, SceneOptions(**kwargs))  # type: ignore[arg-type]


def render_settings(options: RunOptions, photo: Photo):  # -> dioramic.render.RenderSettings
    """The renderer's settings for a run (size defaults to long side 1280 at the photo's aspect)."""
    from dioramic.render import RenderSettings

    width, height = video_size(options, photo.width, photo.height)
    extra: dict[str, object] = {}
    if options.crf is not None:
        extra["crf"] = options.crf
    if options.preset is not None:
        extra["preset"] = options.preset
    return RenderSettings(
        width=width,
        height=height,
        fps=options.fps,
        duration=options.duration,
        supersample=options.supersample,
        background=options.background,
        **extra,
    )


def make_motion_for(scene: Scene, options: RunOptions):  # -> dioramic.motion.Motion
    from dioramic.motion import DEFAULT_MOTION, make_motion

    return make_motion(
        options.motion or DEFAULT_MOTION, scene, duration=options.duration, amplitude=options.amplitude
    )


def run_photo(
    path: Path, outdir: Path, options: RunOptions, on_stage: Callable[[str], None] | None = None
) -> RunResult:
    """Run the whole job for the photo at `path`; outputs go to `outdir / <photo stem>`."""
    from dioramic.export import export_scene
    from dioramic.render import render_video

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

    folder = ensure_dir(outdir / photo.name)
    files: list[Path] = []
    t0 = time.perf_counter()
    files.append(save_depth(depth, folder / "depth.png"))
    files.append(save_depth(depth, folder / "depth.npy"))
    files.append(export_scene(scene, folder / "scene.glb"))
    timings["export"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("rendering the video")
    motion = make_motion_for(scene, options)
    # a timeline file sets its own length; presets last --duration
    settings = replace(render_settings(options, photo), duration=motion.duration)
    report = render_video(scene, motion, folder / "video.mp4", settings, progress=True)
    files.append(folder / "video.mp4")
    timings["video"] = time.perf_counter() - t0

    summary = {
        "photo": str(path),
        "depth_backend": depth.backend,
        "triangles": scene.triangle_count,
        "size": [settings.width, settings.height],
        "fps": settings.fps,
        "duration": settings.duration,
        "motion": options.motion or "default",
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "render": _jsonable(report),
    }
    files.append(write_bytes(folder / "render.json", json.dumps(summary, indent=2).encode()))
    return RunResult(folder, tuple(files), depth.backend, scene.triangle_count, timings)


def _jsonable(report: object) -> object:
    try:
        data = asdict(report)  # type: ignore[call-overload]
    except TypeError:
        return None
    return json.loads(json.dumps(data, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
