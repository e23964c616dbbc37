"""What a reconstruction job of the web app does where its executor runs it: `dioramic reconstruct`.

`run_reconstruction` calls `dioramic.reconstruct.reconstruct` as the command line does, with the
uploaded photos (or video) under the names they were uploaded with, so that its one-line errors name
them as the command would. Its stage lines ("[4/8] stereo depth: view 3/12") become the page's stage
text, and `StageProgress` turns them into an overall progress fraction.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dioramic.web.worker import Event

if TYPE_CHECKING:
    from dioramic.reconstruct import ReconstructOptions

DOWNLOADS = ("scene.glb", "video.mp4", "report.json", "splats.ply")
"""The files of a reconstruction a client may download, in the order the page lists them."""
STAGE_SHARES = {
    "reading the images": 2,
    "structure from motion": 20,
    "preparing the views": 2,
    "stereo depth": 22,
    "fusing the depth maps": 16,
    "texturing": 12,
    "writing the files": 5,
    "rendering the video": 21,
}
"""Rough share of a reconstruction's time each stage takes, in percent (the stage timings of
`bench/reconstruct.py` on templeSparseRing and entry-P10 with the default video, docs/reconstruct.md).
A stage not listed counts as an average one."""
_STAGE_LINE = re.compile(r"\[(\d+)/(\d+)\] ([^:]+)(?:: (.*))?")
_COUNT = re.compile(r"\b(\d+)/(\d+)\b")


@dataclass(frozen=True)
class ReconstructSpec:
    """Everything a reconstruction job's process needs; picklable."""

    inputs: tuple[Path, ...]
    """The uploaded photos, or one video, all in one folder of the job, under their own names."""
    outdir: Path
    """OUT: the folder `reconstruct` writes (scene.glb, video.mp4, report.json, ...)."""
    options: ReconstructOptions


def stage_span(line: str, stages: Sequence[str] | None = None) -> tuple[int, float, float] | None:
    """(stage number, where the stage starts, where it ends) in the overall progress (0..1) for the
    stage that `line` announces ("[4/8] stereo depth: view 3/12"); None for a line that is not a
    stage's. `stages` names the reconstruction's stages in order (default:
    `dioramic.reconstruct.run.STAGES`); each weighs its `STAGE_SHARES`.

    >>> stages = ["structure from motion", "stereo depth", "a new stage"]  # shares 20, 22, (20 + 22) / 2
    >>> [tuple(round(x, 3) for x in stage_span(f"[{k}/3] {name}", stages))
    ...  for k, name in enumerate(stages, 1)]
    [(1, 0.0, 0.317), (2, 0.317, 0.667), (3, 0.667, 1.0)]
    >>> stage_span("placed 6 of 6 images", stages) is None
    True
    """
    match = _STAGE_LINE.fullmatch(line.strip())
    if match is None:
        return None
    number, count = int(match.group(1)), int(match.group(2))
    if not 1 <= number <= count:
        return None
    if stages is None:
        from dioramic.reconstruct.run import STAGES

        stages = STAGES
    names = list(stages) if len(stages) == count else [match.group(3)] * count
    known = [STAGE_SHARES[n] for n in names if n in STAGE_SHARES]
    typical = sum(known) / len(known) if known else 1.0
    weights = [STAGE_SHARES.get(n, typical) for n in names]
    total = sum(weights)
    start = sum(weights[: number - 1])
    return number, start / total, (start + weights[number - 1]) / total


def counted_part(line: str) -> float | None:
    """The part of its stage done when a stage line counts ("view 3/12" is said as view 3 begins:
    2/12 done); None when it does not count.

    >>> counted_part("[4/8] stereo depth: view 3/12"), counted_part("[5/8] fusing the depth maps")
    (0.16666666666666666, None)
    """
    match = _STAGE_LINE.fullmatch(line.strip())
    part = _COUNT.search(match.group(4) or "") if match else None
    if part is None or int(part.group(2)) == 0:
        return None
    return min(1.0, max(0.0, (int(part.group(1)) - 1) / int(part.group(2))))


class StageProgress:
    """The overall progress of a reconstruction from its stage lines: each stage's share begins when
    it is announced; within a stage, a counted line ("view 3/12") says how far it is, and each
    further uncounted line (a step of structure from motion) covers half of what is left of it.
    Never goes back.

    >>> progress = StageProgress(["structure from motion", "stereo depth"])
    >>> [round(progress(line), 3) for line in ("[1/2] structure from motion",
    ...  "[1/2] structure from motion: matching", "[1/2] structure from motion: mapping",
    ...  "[2/2] stereo depth: view 2/4", "not a stage line")]
    [0.0, 0.238, 0.357, 0.607, 0.607]
    """

    def __init__(self, stages: Sequence[str] | None = None) -> None:
        self.stages = stages
        self.fraction = 0.0
        self._stage = 0
        self._steps = 0

    def __call__(self, line: str) -> float:
        span = stage_span(line, self.stages)
        if span is None:
            return self.fraction
        number, start, end = span
        self._steps = self._steps + 1 if number == self._stage else 0
        self._stage = number
        part = counted_part(line)
        if part is None:
            part = 1.0 - 0.5**self._steps
        self.fraction = max(self.fraction, start + (end - start) * part)
        return self.fraction


def run_reconstruction(spec: ReconstructSpec, report: Callable[[Event], None]) -> None:
    """Reconstruct the model from `spec.inputs` into `spec.outdir`, reporting each stage line and,
    at the end, the downloads written. Raises what `reconstruct` raises (InputError, with the
    command line's one line, when too few images can be placed)."""
    from dioramic.reconstruct import reconstruct

    folder, out = spec.inputs[0].parent, spec.outdir.resolve()
    previous = os.getcwd()
    progress = StageProgress()

    def on_stage(line: str) -> None:
        report(Event("stage", line, progress(line)))

    # the inputs are named relative to their folder, as in `dioramic reconstruct a.jpg b.jpg ...`
    # run there: its errors and report.json name the files as uploaded, not the server's folders
    os.chdir(folder)
    try:
        reconstruct([p.name for p in spec.inputs], out, spec.options, on_stage)
    finally:
        os.chdir(previous)
    for name in DOWNLOADS:
        if (out / name).is_file():
            report(Event("file", name, 1.0))
