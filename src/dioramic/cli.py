"""The `dioramic` command: a thin layer over the public API.

Errors the user can fix print one line on stderr and exit 2 (usage) or 1 (input, output); `--debug`
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from dioramic import __version__
from dioramic.config import add_options, options_from_namespace
from dioramic.errors import DioramicError, InputError, UsageError
from dioramic.web import add_serve_parser, cmd_serve

log = logging.getLogger("dioramic")

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".heic", ".heif"}


class _Parser(argparse.ArgumentParser):
    """argparse with exit status 2 and one line for usage errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


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
    add_options(run, ["depth", "scene", "motion", "video", "render"])
    _add_common(run)

    depth = sub.add_parser(
        "depth",
        help="photo -> depth map only",
        description="Estimate depth and write it as .npy (float32, larger = farther) or .png (16-bit, near "
        "= bright). With a folder, OUT is a folder and each photo gives OUT/<name>.npy or .png.",
    )
    depth.add_argument("photo", nargs="?", type=Path, metavar="PHOTO|FOLDER")
    depth.add_argument("-o", "--output", type=Path, metavar="OUT", help="OUT.npy, OUT.png or a folder")
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
        description="Build the textured 3D scene and write it; the format follows the extension of OUT.",
    )
    mesh.add_argument("photo", type=Path, metavar="PHOTO")
    mesh.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT",
        help="scene.glb, scene.gltf, scene.obj or scene.ply",
    )
    add_options(mesh, ["depth", "scene"])
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
        help="scene.glb, scene.gltf, scene.obj, scene.ply or points.ply",
    )
    export.add_argument("--blend", type=Path, metavar="FILE.blend", help="also write a Blender scene")
    add_options(export, ["depth", "scene", "motion", "video", "render"])
    _add_common(export)

    add_serve_parser(sub)

    motions = sub.add_parser("motions", help="list the camera motion presets")
    _add_common(motions)
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


def _cmd_run(args: argparse.Namespace) -> int:
    from dioramic.pipeline import OUTPUT_FILES, run_photo

    options = options_from_namespace(args)
    photos = _photos_in(args.photos)
    failures: list[tuple[Path, str]] = []
    done: list[Path] = []
    for i, path in enumerate(photos, 1):
        prefix = f"[{i}/{len(photos)}] {path.name}" if len(photos) > 1 else path.name
        target = args.output / path.stem
        if args.skip_existing and all((target / f).exists() for f in OUTPUT_FILES):
            log.info("%s: outputs exist, skipped", prefix)
            done.append(target)
            continue
        try:
            result = run_photo(
                path, args.output, options, on_stage=lambda s, p=prefix: log.info("%s: %s", p, s)
            )
        except DioramicError as exc:
            if len(photos) == 1:
                raise
            failures.append((path, str(exc)))
            log.error("dioramic: error: %s", exc)
            continue
        done.append(result.folder)
        print(f"{path}: wrote {', '.join(f.name for f in result.files)} in {result.folder}/")
    if len(photos) > 1:
        print(f"{len(done)} succeeded, {len(failures)} failed")
        for path, why in failures:
            print(f"  failed: {path}: {why}")
    return 1 if failures else 0


def _cmd_depth(args: argparse.Namespace) -> int:
    from dioramic.depth import DEPTH_BACKENDS, Prediction, predict
    from dioramic.depth.convert import to_depth_map
    from dioramic.depth.refine import refine
    from dioramic.files import save_depth, save_npy
    from dioramic.photo import load_photo
    from dioramic.pipeline import depth_options

    if args.list:
        for name, backend in DEPTH_BACKENDS.items():
            print(f"{name:20s} {backend.description}")
        return 0
    if args.photo is None or args.output is None:
        raise UsageError("dioramic depth needs PHOTO and -o OUT (or --list)")
    options = options_from_namespace(args)
    if args.photo.is_dir():
        pairs = [(p, args.output / f"{p.stem}.{args.format}") for p in _photos_in([args.photo])]
    else:
        pairs = [(args.photo, args.output)]
    for photo_path, out in pairs:
        if out.suffix.lower() not in (".npy", ".png"):
            raise UsageError(f"{out}: the output must end in .npy or .png")
        photo = load_photo(photo_path)
        prediction, name = predict(photo, options.depth, depth_options(options))
        if args.raw:
            if out.suffix.lower() != ".npy":
                raise UsageError("--raw writes the backend's values as they are: use an .npy output")
            save_npy(out, prediction.values.astype("float32"))
        else:
            if options.refine:
                prediction = Prediction(refine(prediction.values, photo.rgb), prediction.kind)
            save_depth(to_depth_map(prediction, backend=name), out)
        print(f"{photo_path}: wrote {out} ({name})")
    return 0


def _cmd_mesh(args: argparse.Namespace) -> int:
    from dioramic.export import export_scene
    from dioramic.photo import load_photo
    from dioramic.pipeline import estimate_depth, make_scene

    options = options_from_namespace(args)
    photo = load_photo(args.photo)
    scene = make_scene(photo, estimate_depth(photo, options), options)
    out = export_scene(scene, args.output)
    print(f"{args.photo}: wrote {out} ({scene.triangle_count} triangles)")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from dioramic.photo import load_photo
    from dioramic.pipeline import estimate_depth, make_motion_for, make_scene, render_settings
    from dioramic.render import render_video
    from dioramic.scene_file import SCENE_SUFFIXES, load_scene

    options = options_from_namespace(args)
    if args.source.suffix.lower() in SCENE_SUFFIXES:
        scene = load_scene(args.source)
    else:
        photo = load_photo(args.source)
        scene = make_scene(photo, estimate_depth(photo, options), options)
    motion = make_motion_for(scene, options)
    # the video takes the aspect of the scene's camera (the photo's) unless --size says otherwise
    settings = replace(render_settings(options, scene.camera), duration=motion.duration)
    report = render_video(scene, motion, args.output, settings, progress=not args.quiet)
    print(f"{args.source}: wrote {args.output} ({report.frames} frames, {settings.width}x{settings.height})")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from dioramic.export import export_scene
    from dioramic.photo import load_photo
    from dioramic.pipeline import estimate_depth, make_motion_for, make_scene, render_settings
    from dioramic.scene_file import SCENE_SUFFIXES, load_scene

    if args.output is None and args.blend is None:
        raise UsageError("dioramic export needs -o OUT and/or --blend FILE.blend")
    if args.blend is not None and args.blend.suffix.lower() != ".blend":
        raise UsageError(f"{args.blend}: --blend takes a path ending in .blend")
    options = options_from_namespace(args)
    blender = {
        "engine": options.blender_engine,
        "samples": options.samples,
        "background": options.background,
        "motion_blur": options.motion_blur,
    }
    from_file = args.source.suffix.lower() in SCENE_SUFFIXES
    if from_file and args.output is None:  # a scene of ours already carries its animation
        from dioramic.blender import export_blend

        export_blend(args.source, args.blend, **blender)  # type: ignore[arg-type]
        print(f"{args.source}: wrote {args.blend}")
        return 0
    if from_file:
        scene = load_scene(args.source)
    else:
        photo = load_photo(args.source)
        scene = make_scene(photo, estimate_depth(photo, options), options)
    motion = make_motion_for(scene, options)
    settings = replace(render_settings(options, scene.camera), duration=motion.duration)
    animation = {
        "motion": motion,
        "fps": settings.fps,
        "size": (settings.width, settings.height),
        "duration": settings.duration,
    }
    written = []
    if args.output is not None:
        animated = args.output.suffix.lower() in (".glb", ".gltf")
        written.append(export_scene(scene, args.output, **(animation if animated else {})))
    if args.blend is not None:
        written.append(export_scene(scene, args.blend, **animation, **blender))
    print(f"{args.source}: wrote {', '.join(map(str, written))}")
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
    "serve": cmd_serve,
}


def _setup_logging(debug: bool, quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)
    log.propagate = False


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
