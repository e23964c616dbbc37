"""What one web job does, stage by stage, where its executor runs it: depth -> scene -> exports -> video.

`run_job` runs the public stages of `dioramic.pipeline` itself (rather than `run_photo`) so that the
page gets depth.png and scene.glb as soon as they are written, and a progress fraction per video
frame. It reports through a callback of `Event`s, which the executor (`dioramic.executors`, a process
of its own per job by default) carries back to the server.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dioramic.config import OPTIONS, RunOptions
from dioramic.notices import Logged

if TYPE_CHECKING:
    from dioramic.render import RenderReport

log = logging.getLogger(__name__)

Until = Literal["scene", "video"]
STATE_DIR = "state"
"""Sub-folder of a job's folder holding pickled stage results that a later job may reuse."""


@dataclass(frozen=True)
class JobSpec:
    """Everything a job's process needs; picklable."""

    photo: Path
    """The uploaded photo, saved as photo<ext> in the job's folder."""
    outdir: Path
    """Folder the job's downloadable files are written to."""
    options: RunOptions
    """The run's options (``motion`` may be the path of an uploaded timeline in the job's folder)."""
    video_format: str = "mp4"
    """'mp4', 'webm' or 'gif'."""
    until: Until = "video"
    """'scene' stops after depth.png and scene.glb (the page's preview); 'video' goes on to the video."""
    reuse: Path | None = None
    """The state folder of an earlier job on the same photo, whose depth (and scene) are reused when
    the options they depend on are the same."""
    reuse_options: RunOptions | None = None
    """The options of that earlier job."""


@dataclass(frozen=True)
class Event:
    """One report from a running job."""

    kind: Literal["stage", "progress", "file", "depth", "done", "error"]
    """stage: a new stage began (`text` names it); progress: `fraction` moved; file: `text` was
    written; depth: the depth backend `text` made the depth; done: finished; error: failed with the
    one-line message `text`."""
    text: str = ""
    fraction: float = 0.0
    """Overall progress, 0..1."""


# Where each stage starts and ends in the overall progress, per kind of job.
_SPANS: dict[str, dict[str, tuple[float, float]]] = {
    "scene": {"load": (0.0, 0.1), "depth": (0.1, 0.6), "scene": (0.6, 0.9), "export": (0.9, 1.0)},
    "video": {
        "load": (0.0, 0.02),
        "depth": (0.02, 0.2),
        "scene": (0.2, 0.3),
        "export": (0.3, 0.35),
        "video": (0.35, 1.0),
    },
}
_STAGE_TEXT = {
    "load": "loading the photo",
    "depth": "estimating depth",
    "scene": "building the 3D scene",
    "export": "writing the depth map and the 3D scene",
    "video": "rendering the video",
}


def _fields_of(*groups: str) -> tuple[str, ...]:
    return tuple(opt.field for opt in OPTIONS if opt.group in groups)


def _same(a: RunOptions, b: RunOptions, names: tuple[str, ...]) -> bool:
    return all(getattr(a, n) == getattr(b, n) for n in names)


def _load_state(folder: Path | None, name: str) -> Any | None:
    """A pickled stage result of an earlier job (our own file), or None if it is gone."""
    if folder is None:
        return None
    try:
        with open(folder / f"{name}.pkl", "rb") as fh:
            return pickle.load(fh)  # written by this server into its own job folder
    except (OSError, EOFError, pickle.UnpicklingError):
        return None


def _save_state(folder: Path, name: str, value: object) -> None:
    from dioramic.files import write_bytes

    write_bytes(folder / f"{name}.pkl", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def run_job(spec: JobSpec, report: Callable[[Event], None]) -> None:
    """Run the job described by `spec`, reporting stages, progress and files written to `report`.

    Raises what the stages raise (DioramicError for anything the user can fix).
    """
    from dioramic.export import export_scene
    from dioramic.files import ensure_dir, save_depth, write_bytes
    from dioramic.photo import load_photo
    from dioramic.pipeline import make_motion_for, make_scene, render_settings

    spans = _SPANS[spec.until]
    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def begin(stage: str) -> None:
        now = time.perf_counter()
        clock[0] = now
        report(Event("stage", _STAGE_TEXT[stage], spans[stage][0]))

    def end(stage: str) -> None:
        timings[stage] = time.perf_counter() - clock[0]
        report(Event("progress", fraction=spans[stage][1]))

    options = spec.options
    old = spec.reuse_options
    same_depth = old is not None and _same(old, options, _fields_of("depth"))
    state = ensure_dir(spec.outdir.parent / STATE_DIR)
    out = ensure_dir(spec.outdir)

    begin("load")
    photo = load_photo(spec.photo)
    end("load")
    # the scene is built for the motion (how far it reaches behind edges and past the frame) and the
    # video's aspect ratio (not its size: a GIF and a video of the same photo share their scene)
    scene_fields = _fields_of("depth", "scene", "motion")
    same_scene = (
        same_depth
        and old is not None
        and _same(old, options, scene_fields)
        and math.isclose(_aspect(old, photo), _aspect(options, photo), rel_tol=0.005)
    )

    begin("depth")
    depth = _load_state(spec.reuse, "depth") if same_depth else None
    if depth is None:
        depth = _estimate_depth(photo, options)
    report(Event("depth", depth.backend, spans["depth"][0]))
    _save_state(state, "depth", depth)
    save_depth(depth, out / "depth.png")
    report(Event("file", "depth.png", spans["depth"][1]))
    save_depth(depth, out / "depth.npy")
    report(Event("file", "depth.npy", spans["depth"][1]))
    end("depth")

    begin("scene")
    scene = _load_state(spec.reuse, "scene") if same_scene else None
    settings = render_settings(options, photo, spec.video_format)  # a GIF: long side 480
    if scene is None:
        scene = make_scene(
            photo, depth, options, settings.width / settings.height, (settings.width, settings.height)
        )
    _save_state(state, "scene", scene)
    end("scene")

    # the motion now: scene.glb carries it as a glTF animation that the page plays
    motion = make_motion_for(scene, options, settings.width / settings.height)
    # a timeline file sets its own length; presets last the duration asked for
    settings = replace(settings, duration=motion.duration)

    begin("export")
    export_scene(scene, out / "scene.glb", **_animation(motion, settings))
    report(Event("file", "scene.glb", spans["export"][1]))
    if options.splats:  # the scene as Gaussian splats, which the page shows with Spark
        from dioramic.pipeline import write_splats_beside

        write_splats_beside(scene, out / "scene.glb", options)
        report(Event("file", "splats.ply", spans["export"][1]))
    end("export")
    summary: dict[str, Any] = {
        "depth_backend": depth.backend,
        "triangles": scene.triangle_count,
        "reused": "scene" if same_scene else "depth" if same_depth else None,
    }

    if spec.until == "video":
        begin("video")
        name = f"video.{spec.video_format}"
        lo, hi = spans["video"]
        rendered = _render(
            scene, motion, settings, out / name, lambda f: report(Event("progress", "", lo + (hi - lo) * f))
        )
        end("video")
        report(Event("file", name, hi))
        summary.update(
            size=[settings.width, settings.height],
            fps=settings.fps,
            duration=settings.duration,
            frames=rendered.frames,
            motion=options.motion and Path(options.motion).name,
            artifacts=rendered.artifacts(),
        )
    summary["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    summary["options"] = {f.name: _plain(getattr(options, f.name)) for f in fields(RunOptions)}
    write_bytes(out / "render.json", json.dumps(summary, indent=2).encode())
    report(Event("file", "render.json", 1.0))


def _aspect(options: RunOptions, photo: Any) -> float:
    """The video's width / height for `photo` with `options` (even sizes make it differ a little
    between sizes of one aspect: 1280x854 and 480x320 are both the 3:2 photo's)."""
    from dioramic.config import video_size

    width, height = video_size(options, photo.width, photo.height)
    return width / height


def _estimate_depth(photo: Any, options: RunOptions) -> Any:
    """The depth, with a message for the page (not the command line's) when a model is missing."""
    from dioramic.errors import ModelUnavailableError
    from dioramic.pipeline import estimate_depth

    try:
        return estimate_depth(photo, options)
    except ModelUnavailableError as exc:
        raise ModelUnavailableError(model_missing_text(options.depth)) from exc


def model_missing_text(backend: str) -> str:
    """What the page says when the learned depth model `backend` cannot be had.

    >>> model_missing_text("depth-anything-v2")[:62]
    "The depth backend 'depth-anything-v2' needs its model, which i"
    """
    name = "depth-anything-v2" if backend == "auto" else backend
    return (
        f"The depth backend '{name}' needs its model, which is not on this server and cannot be "
        "downloaded now (no internet). Choose the depth backend 'classical' or 'auto', or connect the "
        "server to the internet once: the model is then downloaded and kept."
    )


def page_warning(event: Logged) -> str | None:
    """The line the page shows for a job's warning, or None for what the page says in its own words
    (the classical-depth notice: the page names the backend in use and how to get the learned one)."""
    from dioramic.depth import CLASSICAL_NOTICE

    if event.notice == CLASSICAL_NOTICE:
        return None
    return event.message.removeprefix("notice: ").removeprefix("warning: ")


def _animation(motion: Any, settings: Any) -> dict[str, Any]:
    """The GLB exporter's options that put the camera move in the file (when the exporter has them)."""
    from dioramic.export import EXPORTERS

    if "motion" not in EXPORTERS.get("glb").options():
        return {}
    size = (settings.width, settings.height)
    return {"motion": motion, "fps": settings.fps, "size": size, "duration": settings.duration}


def _plain(value: object) -> object:
    return value.name if isinstance(value, Path) else value


def _render(
    scene: Any, motion: Any, settings: Any, path: Path, progress: Callable[[float], None]
) -> RenderReport:
    """Render and encode the video (overlapped, as `dioramic run` does), reporting the fraction of
    frames done at most ten times a second."""
    from dioramic.render import render_video

    last = 0.0

    def frame_done(done: int, total: int) -> None:
        nonlocal last
        now = time.perf_counter()
        if now - last > 0.1 or done == total:
            progress(done / total)
            last = now

    return render_video(scene, motion, path, settings, progress=frame_done)
