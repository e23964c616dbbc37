"""The `dioramic` command: a thin layer over the public API.

Errors the user can fix print one line on stderr and exit 2 (usage) or 1 (input, output); `--debug`
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from dioramic import __version__
from dioramic.config import OPTIONS, RunOptions, add_options, options_from_namespace
from dioramic.errors import DioramicError, InputError, UsageError
from dioramic.executors.base import Task
from dioramic.executors.options import add_executor_options, executor_from_args
from dioramic.reconstruct.options import add_reconstruct_options
from dioramic.types import Scene
from dioramic.web import add_serve_parser, cmd_serve

log = logging.getLogger("dioramic")

_RENDERING_ONLY = ("supersample", "crf", "preset", "stereo", "renderer", "measure")
"""Options of the commands that render frames (run, render), not of `export`."""
_MESH_MOTION = ("motion", "amplitude")
"""The motion options of `mesh`: the move its scene is built for (the others do not change how far
the camera goes)."""

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".heic", ".heif"}


class _Parser(argparse.ArgumentParser):
    """argparse with exit status 2 and one line for usage errors, which point to the help of the
    command at fault (an option that `dioramic render` does not take: 'dioramic render --help')."""

    commands: dict[str, argparse.ArgumentParser]
    """The subcommands' parsers by name (set on the top-level parser)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def parse_args(self, args: Sequence[str] | None = None, namespace: object = None) -> argparse.Namespace:  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)  # type: ignore[arg-type]
        if extras:
            commands = getattr(self, "commands", {})
            command = commands.get(getattr(parsed, "command", None) or "")
            (command or self).error(_unrecognized(extras, command, commands))
        return parsed


def _unrecognized(
    extras: Sequence[str],
    command: argparse.ArgumentParser | None,
    commands: dict[str, argparse.ArgumentParser],
) -> str:
    """'unrecognized arguments: --crf 20', and which commands take such an option.

    >>> parser = build_parser()
    >>> export = parser.commands["export"]
    >>> print(_unrecognized(["--crf", "20"], export, parser.commands))  # doctest: +NORMALIZE_WHITESPACE
    unrecognized arguments: --crf 20 (--crf is an option of dioramic run, dioramic render, dioramic
    reconstruct)
    """
    text = f"unrecognized arguments: {' '.join(extras)}"
    hints = []
    for flag in (e.split("=", 1)[0] for e in extras if e.startswith("--")):
        owners = [p.prog for p in commands.values() if p is not command and flag in p._option_string_actions]
        if owners:
            hints.append(f"{flag} is an option of {', '.join(owners)}")
    return f"{text} ({'; '.join(hints)})" if hints else text


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dioramic",
        description="Turn one photo into a 3D scene and film it: depth map, textured mesh (GLB), video.",
        epilog="Run 'dioramic COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"dioramic {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser(
        "run",
        help="photo(s) -> depth.png, depth.npy, scene.glb, video.mp4",
        description="For each photo (or each photo in a folder), write OUTDIR/<photo name>/ with depth.png "
        "(16-bit, near = bright), depth.npy (float32, larger = farther), scene.glb (textured 3D scene), "
        "video.mp4 (the camera move) and render.json (settings and timings).",
    )
    run.add_argument("photos", nargs="+", type=Path, metavar="PHOTO", help="photo files or folders of photos")
    run.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("dioramic-out"),
        metavar="OUTDIR",
        help="output folder (default: ./dioramic-out)",
    )
    run.add_argument(
        "--skip-existing",
        action="store_true",
        help="skip photos whose outputs already exist (resume a batch)",
    )
    add_executor_options(run)
    add_options(run, ["depth", "scene", "motion", "video", "render", "splats"])
    _add_common(run)

    depth = sub.add_parser(
        "depth",
        help="photo -> depth map only",
        description="Estimate depth and write it as .npy (float32, larger = farther) or .png (16-bit, near "
        "= bright). With a folder, OUT is a folder and each photo gives OUT/<name>.npy or .png.",
    )
    depth.add_argument("photo", nargs="?", type=Path, metavar="PHOTO|FOLDER")
    depth.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="OUT",
        help="OUT.npy, OUT.png, or a folder (an existing one, or a name without extension)",
    )
    depth.add_argument("--list", action="store_true", help="list the depth backends and exit")
    depth.add_argument(
        "--raw",
        action="store_true",
        help="write the backend's own output at the photo's size (e.g. relative inverse "
        "depth for Depth Anything, larger = nearer), unrefined and unconverted",
    )
    depth.add_argument(
        "--format", choices=["npy", "png"], default="npy", help="file type for folder output (default: npy)"
    )
    add_options(depth, ["depth"])
    _add_common(depth)

    mesh = sub.add_parser(
        "mesh",
        help="photo -> 3D scene file only (GLB, glTF, OBJ, PLY)",
        description="Build the textured 3D scene and write it; the format follows the extension of OUT. "
        "Without --motion the scene holds every camera move preset at the amplitude (default 1); with "
        "--motion (a preset or a timeline) it is built for that move.",
    )
    mesh.add_argument("photo", type=Path, metavar="PHOTO")
    mesh.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT",
        help="scene.glb, scene.gltf, scene.obj, scene.ply, splats.ply or scene.spz",
    )
    add_options(mesh, ["depth", "scene", "splats"])
    add_options(mesh, ["motion"], exclude=[o.field for o in OPTIONS if o.field not in _MESH_MOTION])
    _add_common(mesh)

    render = sub.add_parser(
        "render",
        help="scene.glb or photo -> video (mp4, webm, gif or PNG frames)",
        description="Film an existing scene file (.glb/.gltf) or a photo. The output format follows OUT: "
        ".mp4 (H.264), .webm (VP9), .gif, or a folder (ending in /) of PNG frames.",
    )
    render.add_argument("source", type=Path, metavar="SCENE|PHOTO")
    render.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT",
        help="video.mp4, video.webm, video.gif or frames/",
    )
    add_options(render, ["depth", "scene", "motion", "video", "render"])
    _add_common(render)

    export = sub.add_parser(
        "export",
        help="photo or scene -> animated GLB/glTF, OBJ, PLY or a Blender .blend",
        description="Write the scene with the camera move of the video: a .glb/.gltf carries the camera "
        "and its animation (Blender and three.js play it); --blend writes a .blend that renders the video "
        "with 'blender -b scene.blend -a' (needs 'make blender').",
    )
    export.add_argument("source", type=Path, metavar="PHOTO|SCENE")
    export.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="OUT",
        help="scene.glb, scene.gltf, scene.obj, scene.ply, points.ply, or Gaussian splats: splats.ply, "
        "NAME.splat.ply, NAME.spz",
    )
    export.add_argument("--blend", type=Path, metavar="FILE.blend", help="also write a Blender scene")
    # the camera move's size, rate and length, and Blender's settings for --blend; no frames are
    # rendered here, so not the renderer's or the encoder's options
    add_options(export, ["depth", "scene", "motion", "video", "render", "splats"], exclude=_RENDERING_ONLY)
    _add_common(export)

    reconstruct = sub.add_parser(
        "reconstruct",
        help="photos or a video around an object -> textured 3D model, camera poses, 360-degree spin",
        description="Pose the images with structure from motion (pycolmap), fuse stereo depth into a "
        "textured 3D model, and write OUT/scene.glb (the model, with the camera move), OUT/video.mp4 "
        "(default: the 'spin' move around the model), OUT/sparse/ (COLMAP text model and nerfstudio "
        "transforms.json), OUT/images/ and OUT/report.json. Needs the 'reconstruct' extra.",
    )
    reconstruct.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="IMAGES|FOLDER|VIDEO",
        help="3 or more overlapping photos, folders of them (or a capture folder with images/), "
        "or one video walking around the object",
    )
    reconstruct.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT",
        help="output folder (replaced if it exists)",
    )
    add_reconstruct_options(reconstruct)
    add_options(reconstruct, ["motion", "video", "splats"])
    _add_common(reconstruct)

    add_serve_parser(sub)

    motions = sub.add_parser("motions", help="list the camera motion presets")
    _add_common(motions)
    parser.commands = dict(sub.choices)
    return parser


def _photos_in(paths: Sequence[Path]) -> list[Path]:
    """Expand folders into the photos they hold (sorted); files are kept as given."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in PHOTO_SUFFIXES)
            if not found:
                raise InputError(f"{p}: the folder holds no photos ({', '.join(sorted(PHOTO_SUFFIXES))})")
            out.extend(found)
        else:
            out.append(p)
    return out


def _output_names(photos: Sequence[Path]) -> list[str]:
    """A distinct output name per photo: its stem, with the extension (and then a number) added
    where stems collide (a.jpg and a.png -> 'a_jpg', 'a_png').

    >>> _output_names([Path("a.jpg"), Path("b.jpg"), Path("x/a.png")])
    ['a_jpg', 'b', 'a_png']
    """
    stems = [p.stem for p in photos]
    names = [
        p.stem if stems.count(p.stem) == 1 else f"{p.stem}_{p.suffix.lstrip('.').lower()}" for p in photos
    ]
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if names.count(name) == 1 else f"{name}_{seen[name]}")
    return out


def _batch(items: Sequence[tuple[Path, object]], work: Callable[[Path, object], None]) -> int:
    """Run `work(path, extra)` for each item: one that fails does not stop the others; a summary
    follows when there are several. With a single item its error propagates (one line, exit status)."""
    failures: list[tuple[Path, str]] = []
    for path, extra in items:
        try:
            work(path, extra)
        except (DioramicError, OSError, ValueError, RuntimeError) as exc:
            if len(items) == 1:
                raise
            why = (
                str(exc) if isinstance(exc, DioramicError) else f"internal error: {type(exc).__name__}: {exc}"
            )
            failures.append((path, why))
            log.error("dioramic: error: %s", why)
    if len(items) > 1:
        print(f"{len(items) - len(failures)} succeeded, {len(failures)} failed")
        for path, why in failures:
            print(f"  failed: {path}: {why.removeprefix(f'{path}: ')}")
    return 1 if failures else 0


def _cmd_run(args: argparse.Namespace) -> int:
    from dioramic.batch import (
        absolute,
        check_shared_paths,
        is_done,
        photo_job,
        run_batch,
        with_absolute_paths,
    )
    from dioramic.executors import EXECUTORS
    from dioramic.photo import check_photo
    from dioramic.pipeline import check_options

    options = options_from_namespace(args)
    check_options(options)
    executor, settings = executor_from_args(args)
    photos = _photos_in(args.photos)
    names = _output_names(photos)
    if EXECUTORS.get(executor).runs_remotely(settings):
        check_shared_paths(photos, args.output, options)
    # Ray workers may start in another folder: they get absolute paths
    where = absolute if executor == "ray" else Path
    if executor == "ray":
        options = with_absolute_paths(options)
    # a file that is not a photo fails here, before any job is sent or any executor (Ray) started
    refused: dict[int, DioramicError] = {}
    for i, (photo, name) in enumerate(zip(photos, names, strict=True)):
        if not (args.skip_existing and is_done(args.output, name)):
            try:
                check_photo(photo)
            except InputError as exc:
                refused[i] = exc
    # in this process a photo shows its own progress bar; elsewhere the batch reports its progress
    bar = executor == "serial" and not args.quiet
    jobs: list[Task | None] = [
        None
        if args.skip_existing and is_done(args.output, name)
        else Task(
            photo_job,
            (where(photo), where(args.output), options, name),
            {"progress": bar},
            name=str(photo),
            events=True,
        )
        for photo, name in zip(photos, names, strict=True)
    ]

    def wrote(i: int, result: object) -> str:
        return f"wrote {', '.join(result.files)} in {args.output / names[i]}/"  # type: ignore[attr-defined]

    echo = functools.partial(print, flush=True)
    return run_batch(
        photos, jobs, executor, settings, wrote, echo=echo, skipped="outputs exist, skipped", refused=refused
    )


def _cmd_depth(args: argparse.Namespace) -> int:
    from dioramic.depth import DEPTH_BACKENDS, predict
    from dioramic.files import save_depth, save_npy
    from dioramic.photo import load_photo
    from dioramic.pipeline import depth_options, estimate_depth

    if args.list:
        for name, backend in DEPTH_BACKENDS.items():
            print(f"{name:20s} {backend.description}")
        return 0
    if args.photo is None or args.output is None:
        raise UsageError("dioramic depth needs PHOTO and -o OUT (or --list)")
    options = options_from_namespace(args)
    suffix = ".npy" if args.raw else f".{args.format}"
    if args.raw and args.format != "npy" and args.output.suffix.lower() != ".npy":
        raise UsageError("--raw writes the backend's values as they are: use an .npy output")
    # like video outputs: an existing folder, or a name without extension, is a folder
    into_folder = args.photo.is_dir() or args.output.is_dir() or not args.output.suffix
    photos = _photos_in([args.photo])
    if into_folder:
        outs = [args.output / f"{name}{suffix}" for name in _output_names(photos)]
    else:
        if args.output.suffix.lower() not in (".npy", ".png"):
            raise UsageError(f"{args.output}: the output must end in .npy or .png, or be a folder")
        if args.raw and args.output.suffix.lower() != ".npy":
            raise UsageError("--raw writes the backend's values as they are: use an .npy output")
        outs = [args.output]

    def work(path: Path, out: object) -> None:
        photo = load_photo(path)
        if args.raw:
            prediction, name = predict(photo, options.depth, depth_options(options))
            save_npy(Path(str(out)), prediction.values.astype("float32"))
        else:
            depth = estimate_depth(photo, options)
            name = depth.backend
            save_depth(depth, Path(str(out)))
        print(f"{path}: wrote {out} ({name})")

    return _batch(list(zip(photos, outs, strict=True)), work)


def _cmd_mesh(args: argparse.Namespace) -> int:
    from dioramic.export import export_scene
    from dioramic.photo import load_photo
    from dioramic.pipeline import check_export, check_options, estimate_depth, make_scene

    options = options_from_namespace(args)
    check_options(options)
    check_export(args.output)  # an unknown format, or Blender missing: before any stage runs
    photo = load_photo(args.photo)
    # a scene file: for the move named, else for every preset (the user may film it with any)
    scene = make_scene(photo, estimate_depth(photo, options), options, any_move=True)
    out = export_scene(scene, args.output, **_splat_options(args.output, options))
    written = [out, *_splats_beside(scene, out, options)]
    print(f"{args.photo}: wrote {', '.join(map(str, written))} ({scene.triangle_count} triangles)")
    return 0


def _splat_options(path: Path, options: RunOptions) -> dict[str, object]:
    """The exporter options `--max-splats` gives a splat file at `path` (none for other formats)."""
    from dioramic.export import format_for_path

    return {"max_splats": options.max_splats} if format_for_path(path) == "splats" else {}


def _splats_beside(scene: Scene, out: Path, options: RunOptions) -> list[Path]:
    """With --splats, splats.ply in the folder of `out` (unless `out` is already a splat file)."""
    from dioramic.export import format_for_path
    from dioramic.pipeline import write_splats_beside

    if not options.splats or format_for_path(out) == "splats":
        return []
    return [write_splats_beside(scene, out, options)]


_OTHER_3D_SUFFIXES = {".obj", ".ply", ".stl", ".fbx", ".blend", ".usd", ".usdz", ".usdc", ".dae", ".3ds"}


def _scene_from(source: Path, options: RunOptions, any_move: bool = False) -> Scene:
    """The scene of a .glb/.gltf file, or built from a photo with the run's depth and scene options
    (with `any_move`, for every preset when no motion is named: see `pipeline.scene_options`)."""
    from dioramic.photo import load_photo
    from dioramic.pipeline import estimate_depth, make_scene
    from dioramic.scene_file import SCENE_SUFFIXES, load_scene

    suffix = source.suffix.lower()
    if suffix in SCENE_SUFFIXES:
        return load_scene(source)
    if suffix in _OTHER_3D_SUFFIXES:
        raise UsageError(f"{source}: scenes are read from .glb or .gltf files; give one of those, or a photo")
    photo = load_photo(source)
    aspect = None if options.size is None else options.size[0] / options.size[1]
    from dioramic.config import video_size

    size = video_size(options, photo.width, photo.height)
    return make_scene(photo, estimate_depth(photo, options), options, aspect, size, any_move=any_move)


def _cmd_render(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from dioramic.pipeline import check_options, make_motion_for, model_probe, render_settings
    from dioramic.render import render_video
    from dioramic.render.video import format_for_path
    from dioramic.scene_file import SCENE_SUFFIXES

    video_format = format_for_path(args.output)
    options = options_from_namespace(args, video_format)  # a GIF's own defaults: 480 px, 15 fps
    probe = model_probe() if args.source.suffix.lower() in SCENE_SUFFIXES else None
    check_options(options, args.output, probe)
    scene = _scene_from(args.source, options)
    # the video takes the aspect of the scene's camera (the photo's) unless --size says otherwise
    settings = render_settings(options, scene.camera, video_format)
    motion = make_motion_for(scene, options, settings.width / settings.height)
    settings = replace(settings, duration=motion.duration)
    if video_format == "gif":
        _say_gif_settings(settings, args)
    if options.renderer == "blender":
        _render_with_blender(scene, motion, settings, options, args)
        size = f"{settings.frame_count} frames, {settings.width}x{settings.height}, Blender"
    else:
        report = render_video(scene, motion, args.output, settings, progress=not args.quiet)
        size = f"{report.frames} frames, {report.width}x{report.height}"
    print(f"{args.source}: wrote {args.output} ({size})")
    return 0


def _say_gif_settings(settings: object, args: argparse.Namespace) -> None:
    """One line on what a GIF gets, and which of it are the GIF defaults (long side 480, 15 fps)."""
    from dioramic.config import video_defaults

    width, height, fps = settings.width, settings.height, settings.fps  # type: ignore[attr-defined]
    chosen = []
    if args.size is None:
        chosen.append(f"long side {video_defaults('gif').long_side} px")
    if args.fps is None:
        chosen.append(f"{fps} fps")
    why = f" (GIF defaults: {' and '.join(chosen)}; --size and --fps change them)" if chosen else ""
    log.info(
        "GIF: %dx%d, %g fps, %d frames%s; one 255-colour palette for the whole animation, ordered dithering",
        width, height, fps, settings.frame_count, why,  # type: ignore[attr-defined]
    )  # fmt: skip


def _render_with_blender(
    scene: Scene, motion: object, settings: object, options: RunOptions, args: argparse.Namespace
) -> None:
    """Film `scene` through Blender: the scene and its camera move go to Blender as a temporary GLB."""
    import tempfile

    from dioramic.export import export_scene
    from dioramic.pipeline import render_with_blender_for

    with tempfile.TemporaryDirectory(prefix="dioramic-render-") as tmp:
        glb = export_scene(
            scene,
            Path(tmp) / "scene.glb",
            motion=motion,
            fps=settings.fps,  # type: ignore[attr-defined]
            size=(settings.width, settings.height),  # type: ignore[attr-defined]
            duration=settings.duration,  # type: ignore[attr-defined]
        )
        render_with_blender_for(glb, args.output, settings, options, progress=not args.quiet)  # type: ignore[arg-type]


def _cmd_export(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from dioramic.export import EXPORTERS, export_scene, format_for_path
    from dioramic.pipeline import check_export, check_options, make_motion_for, model_probe, render_settings
    from dioramic.scene_file import SCENE_SUFFIXES

    if args.output is None and args.blend is None:
        raise UsageError("dioramic export needs -o OUT and/or --blend FILE.blend")
    if args.blend is not None and args.blend.suffix.lower() != ".blend":
        raise UsageError(f"{args.blend}: --blend takes a path ending in .blend")
    options = options_from_namespace(args)
    check_options(options, probe=model_probe() if args.source.suffix.lower() in SCENE_SUFFIXES else None)
    # an unknown format, or Blender missing for a .blend: refused before any stage runs
    for path in (args.output, args.blend):
        if path is not None:
            check_export(path)
    blender = {
        "engine": options.blender_engine,
        "samples": options.samples,
        "background": options.background,
        "motion_blur": options.motion_blur,
    }
    if args.source.suffix.lower() in SCENE_SUFFIXES and args.output is None:
        # a scene file keeps the camera move it was written with
        from dioramic.blender import export_blend

        export_blend(args.source, args.blend, **blender)  # type: ignore[arg-type]
        scene = _scene_from(args.source, options, any_move=True)
        written = [args.blend, *_splats_beside(scene, args.blend, options)]
        print(f"{args.source}: wrote {', '.join(map(str, written))} (with the scene file's own camera move)")
        return 0
    scene = _scene_from(args.source, options, any_move=True)  # Blender users animate their own camera
    settings = render_settings(options, scene.camera)
    motion = make_motion_for(scene, options, settings.width / settings.height)
    settings = replace(settings, duration=motion.duration)
    animation = {
        "motion": motion,
        "fps": settings.fps,
        "size": (settings.width, settings.height),
        "duration": settings.duration,
    }
    written = []
    if args.output is not None:
        exporter = EXPORTERS.get(format_for_path(args.output))
        animated = "motion" in exporter.options()
        extra = {**animation, **(blender if exporter.name == "blend" else {})} if animated else {}
        written.append(export_scene(scene, args.output, **extra, **_splat_options(args.output, options)))
    if args.blend is not None:
        written.append(export_scene(scene, args.blend, **animation, **blender))
    written += _splats_beside(scene, written[0], options)
    print(f"{args.source}: wrote {', '.join(map(str, written))}")
    return 0


def _cmd_reconstruct(args: argparse.Namespace) -> int:
    from dioramic.reconstruct import reconstruct
    from dioramic.reconstruct.options import reconstruct_options

    options = reconstruct_options(vars(args), options_from_namespace(args))
    result = reconstruct(
        args.inputs, args.output, options, on_stage=lambda s: log.info("%s", s), progress=not args.quiet
    )
    report = result.report
    print(
        f"{args.output}: placed {report['registered']} of {report['images_given']} images; "
        f"{report['triangles']} triangles; wrote {', '.join(report['files'])}"
    )
    return 0


def _cmd_motions(args: argparse.Namespace) -> int:
    from dioramic.motion import DEFAULT_MOTION, describe_motions

    for name, text in describe_motions():
        mark = " (default)" if name == DEFAULT_MOTION else ""
        print(f"{name:16s} {text}{mark}")
    return 0


COMMANDS = {
    "run": _cmd_run,
    "depth": _cmd_depth,
    "mesh": _cmd_mesh,
    "render": _cmd_render,
    "export": _cmd_export,
    "motions": _cmd_motions,
    "reconstruct": _cmd_reconstruct,
    "serve": cmd_serve,
}


def _setup_logging(debug: bool, quiet: bool) -> None:
    """Messages on stderr: errors only with -q; each notice once per run (see `dioramic.notices`)."""
    from dioramic.notices import OncePerRun

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(OncePerRun())
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if debug else logging.ERROR if quiet else logging.INFO)
    log.propagate = False
    if quiet:  # libraries that warn through Python's logging stay quiet too (Ray: see executors.ray)
        logging.getLogger().setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    debug = getattr(args, "debug", False)
    _setup_logging(debug, getattr(args, "quiet", False))
    try:
        return COMMANDS[args.command](args)
    except DioramicError as exc:
        if debug:
            traceback.print_exc()
        print(f"dioramic: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("dioramic: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(
            f"dioramic: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
