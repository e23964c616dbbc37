"""The progress of a reconstruction job, from the stage lines `dioramic reconstruct` prints."""

from __future__ import annotations

from dioramic.reconstruct.run import STAGES
from dioramic.web.reconstruct_job import STAGE_SHARES, StageProgress, stage_span


def test_every_stage_of_the_reconstruction_has_a_share() -> None:
    assert set(STAGES) <= set(STAGE_SHARES)


def test_the_stage_lines_of_a_run_give_a_progress_that_only_grows() -> None:
    n = len(STAGES)
    lines = [f"[1/{n}] {STAGES[0]}", f"[2/{n}] {STAGES[1]}: 12 images"]
    lines += [f"[2/{n}] {STAGES[1]}: {step}" for step in ("finding SIFT features", "matching", "mapping")]
    lines += [f"[{k + 1}/{n}] {name}" for k, name in enumerate(STAGES) if k >= 2]
    views = [f"[4/{n}] {STAGES[3]}: view {k}/12" for k in range(1, 13)]
    at = lines.index(f"[4/{n}] {STAGES[3]}") + 1
    lines[at:at] = views
    progress = StageProgress()
    fractions = [progress(line) for line in lines]
    assert fractions[0] == 0.0 and fractions == sorted(fractions) and fractions[-1] < 1.0
    for line, fraction in zip(lines, fractions, strict=True):
        span = stage_span(line)
        assert span is not None and span[1] <= fraction < span[2], line
    # the steps of structure from motion and the views of stereo move the bar within their stage
    assert len(set(fractions[1:5])) == 4 and len(set(fractions[at : at + 12])) == 12


def test_a_stage_list_of_another_length_is_shared_evenly() -> None:
    assert stage_span("[2/4] something new") == (2, 0.25, 0.5)
    assert stage_span("[5/4] past the end") is None and stage_span("[0/4] none") is None
