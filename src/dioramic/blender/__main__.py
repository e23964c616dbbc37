"""``python -m dioramic.blender setup|check``: create Blender's environment, or say whether it works.

python -m dioramic.blender setup [--target DIR] [--python PYTHON3.11]
python -m dioramic.blender check
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from dioramic.blender.env import (
    BPY_REQUIREMENT,
    BlenderUnavailableError,
    default_venv,
    find_blender_python,
    run_script,
    setup_blender,
)
from dioramic.errors import DioramicError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dioramic.blender", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    setup = commands.add_parser("setup", help=f"create the environment and install {BPY_REQUIREMENT}")
    setup.add_argument("--target", help=f"environment folder (default: {default_venv()})")
    setup.add_argument("--python", help="a CPython 3.11 to base it on (default: this one)")
    commands.add_parser("check", help="run Blender once and print its version")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "setup":
            python = setup_blender(args.target, base_python=args.python)
            sys.stdout.write(f"Blender's Python: {python}\n")
        else:
            python = find_blender_python()
            version = run_script("version", {})["version"]
            sys.stdout.write(f"Blender {version} ({python})\n")
    except BlenderUnavailableError as exc:
        sys.stderr.write(f"dioramic: {exc}\n")
        return 1
    except DioramicError as exc:
        sys.stderr.write(f"dioramic: {exc}\n")
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
