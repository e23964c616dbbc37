"""The command-line options that choose an executor, shared by `dioramic run` and `dioramic serve`."""

from __future__ import annotations

import argparse

from dioramic.config import positive_int
from dioramic.executors.base import EXECUTORS, ExecutorSettings


def add_executor_options(
    parser: argparse.ArgumentParser, *, choices: list[str] | None = None, workers: bool = True
) -> None:
    """Add --executor, --workers (unless the parser has its own), --cpus-per-job and --ray-address."""
    choices = choices or EXECUTORS.names()
    described = "; ".join(f"{name}: {EXECUTORS.get(name).description}" for name in choices)
    parser.add_argument(
        "--executor",
        choices=choices,
        default=None,
        help=f"how jobs run ({described}). Default: {choices[0]}, or local with --workers, "
        "or ray with --ray-address",
    )
    if workers:
        parser.add_argument(
            "--workers",
            type=positive_int,
            default=None,
            metavar="N",
            help="photos at once (local: default one per core, divided by --cpus-per-job; ray: default as "
            "many as the cluster has room for)",
        )
    parser.add_argument(
        "--cpus-per-job",
        type=positive_int,
        default=None,
        metavar="N",
        help="CPU cores one photo uses (default 1): its renderer's threads are capped at N, and Ray "
        "reserves N CPUs (and a GPU where the cluster has them) per photo",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="the Ray cluster to use ('auto' for the one this machine belongs to, or HOST:PORT); "
        "default: start a Ray on this machine. Paths must then be absolute and on storage every "
        "machine shares",
    )


def executor_from_args(args: argparse.Namespace, default: str = "serial") -> tuple[str, ExecutorSettings]:
    """The executor's name and settings from parsed options, checked (UsageError)."""
    name = args.executor or ("ray" if args.ray_address else "local" if args.workers else default)
    settings = ExecutorSettings(
        workers=args.workers, cpus_per_job=args.cpus_per_job, address=args.ray_address
    )
    EXECUTORS.get(name).check(settings)
    return name, settings
