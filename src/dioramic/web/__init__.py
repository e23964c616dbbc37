"""`dioramic serve`: a local web app to drop a photo, see its depth and 3D scene, and render videos,
or to drop several photos or a video and reconstruct a 3D model of what they show.

The server needs the `web` extra (FastAPI, Uvicorn, python-multipart); the page's JavaScript
(three.js included) is built from ``web/`` at the repository root into ``static/`` and ships with
the package, so it works offline. The CLI wires this module with two calls::

    from dioramic.web import add_serve_parser, cmd_serve
    add_serve_parser(sub)                      # sub: the subparsers of `dioramic`
    COMMANDS["serve"] = cmd_serve
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from pathlib import Path
from typing import Any

from dioramic.config import positive_float
from dioramic.errors import MissingDependencyError, UsageError
from dioramic.executors.options import add_executor_options, executor_from_args

__all__ = ["add_serve_parser", "cmd_serve", "create_app"]

log = logging.getLogger("dioramic")

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def create_app(settings: Any = None) -> Any:
    """The FastAPI app (see `dioramic.web.app.create_app`); needs the `web` extra."""
    _require()
    from dioramic.web.app import create_app as make

    return make(settings)


def _require() -> None:
    needed = (("fastapi", "fastapi"), ("uvicorn", "uvicorn"), ("multipart", "python-multipart"))
    for module, package in needed:
        try:
            __import__(module)
        except ImportError:
            raise MissingDependencyError(package, "web", "dioramic serve") from None


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0..65535, got '{text}'")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got '{text}'")
    return int(text)


def add_serve_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the `serve` subcommand to the `dioramic` subparsers `sub`; returns its parser."""
    serve = sub.add_parser(
        "serve",
        help="a local web app: drop a photo (3D scene, videos) or several photos or a video (3D model)",
        description="Start the web app and print its URL. Jobs run in the background, one per two CPU "
        "cores at once, the rest wait; each job and its files are removed after --keep minutes. Jobs are "
        "private: only a client that holds a job's random id can see it.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port (default: 8000; 0 = any free port)")
    serve.add_argument(
        "--workers",
        type=_count,
        default=None,
        metavar="N",
        help="jobs run at once (default: one per two cores, at least 1)",
    )
    add_executor_options(serve, choices=["local", "ray"], workers=False)
    serve.add_argument(
        "--max-upload",
        type=positive_float,
        default=50.0,
        metavar="MB",
        help="largest photo accepted, in megabytes (default: 50)",
    )
    serve.add_argument(
        "--max-reconstruct-upload",
        type=positive_float,
        default=500.0,
        metavar="MB",
        help="largest total of the photos or the video of one reconstruction, in megabytes (default: 500)",
    )
    serve.add_argument(
        "--max-images",
        type=_count,
        default=100,
        metavar="N",
        help="most photos in one reconstruction, and most frames it takes from a video (default: 100)",
    )
    serve.add_argument(
        "--keep",
        type=positive_float,
        default=60.0,
        metavar="MINUTES",
        help="minutes a job and its files are kept (default: 60)",
    )
    serve.add_argument(
        "--workdir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for the jobs' files (default: a temporary folder, removed on exit; with "
        "--ray-address, an absolute path on storage the cluster shares)",
    )
    serve.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    serve.add_argument("-q", "--quiet", action="store_true", help="print only the URL and errors")
    return serve


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the web app until Ctrl-C; returns the exit status."""
    _require()
    import socket

    import uvicorn

    from dioramic.web.app import WebSettings, create_app

    loopback = _is_loopback(args.host)
    if not loopback:
        log.warning("warning: serving on %s: anyone who can reach this address can run jobs", args.host)
    executor, config = executor_from_args(args, default="local")
    settings = WebSettings(
        workdir=args.workdir,
        workers=args.workers,
        executor=executor,
        cpus_per_job=config.cpus_per_job,
        ray_address=config.address,
        ttl=args.keep * 60.0,
        max_upload_bytes=round(args.max_upload * 1_000_000),
        max_reconstruct_bytes=round(args.max_reconstruct_upload * 1_000_000),
        max_images=args.max_images,
        allowed_hosts=(*LOOPBACK_NAMES, args.host) if loopback else None,
    )
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc.strerror})") from None
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    sys.stdout.write(f"dioramic: serving on http://{shown}:{port}/ (Ctrl-C to stop)\n")
    sys.stdout.flush()
    app = create_app(settings)
    level = "debug" if args.debug else "error" if args.quiet else "info"
    config = uvicorn.Config(app, log_level=level, access_log=args.debug, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down: the usual way to stop
        pass
    finally:
        sock.close()
    return 0 if server.started else 1
