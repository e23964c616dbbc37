"""The run's camera move: its amplitude, its zoom (overscan), and the move a scene is built for.

* `scene_reach`: how far the scene must let the camera go, the run's move or, for a scene file
  (`dioramic mesh`, `export`) with no move named, every preset at once;
* `choose_motion`: the amplitude (`dioramic.render.fit`), then the zoom that keeps the frames inside
  the photo (`dioramic.render.overscan`), and one warning when the move goes past what the scene
  holds, with what its frames are predicted to show.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from dioramic.config import RunOptions
from dioramic.types import Scene

if TYPE_CHECKING:
    from dioramic.motion import Motion
    from dioramic.render.fit import FitResult, Prediction
    from dioramic.render.overscan import OverscanFit

log = logging.getLogger(__name__)

_REACH_TOLERANCE = 1e-3
"""A move counts as going past a scene's reach when it exceeds it by more than this fraction."""


def make_motion_at(scene: Scene, options: RunOptions, amplitude: float, aspect: float | None) -> Motion:
    """The run's motion over `scene` at `amplitude`, framed for a video of width / height `aspect`
    (None: the photo's), without overscan."""
    from dioramic.camera import cover
    from dioramic.motion import DEFAULT_MOTION, make_motion

    framed = scene if aspect is None else replace(scene, camera=cover(scene.camera, aspect))
    return make_motion(
        options.motion or DEFAULT_MOTION,
        framed,
        duration=options.duration,
        amplitude=amplitude,
        easing=options.easing,
        loop=options.loop,
        fps=options.fps,
    )


def scene_reach(
    proxy: Scene, options: RunOptions, aspect: float | None = None, any_move: bool = False
) -> tuple[float, float]:
    """(sideways, axial) reach, fractions of the subject distance, that a scene must hold for the
    run's move at its amplitude (auto: 1); with `any_move` and no move named, for every preset of
    `dioramic.motion.photo_presets` at that amplitude (a scene file that any of them can film).
    `proxy` stands for the scene to come: its camera, depth range and subject distance."""
    from dioramic.motion import motion_reach, presets_reach

    amplitude = 1.0 if options.amplitude is None else options.amplitude
    if any_move and options.motion is None:
        return presets_reach(proxy, amplitude)
    return motion_reach(make_motion_at(proxy, options, amplitude, aspect), proxy.focus)


@dataclass(frozen=True)
class MotionChoice:
    """The motion of a run, how its amplitude and its zoom were chosen."""

    motion: Motion
    """The motion, zoomed by `zoom` (`dioramic.motion.zoom.Zoomed`)."""
    spec: str
    """The preset name or timeline file."""
    amplitude: float
    """The amplitude used."""
    auto: bool
    """True when `--amplitude auto` chose it, False when the user gave it."""
    fit: FitResult
    """The artifact prediction at that amplitude (and zoom, for a given amplitude)."""
    zoom: float = 1.0
    """The focal length factor of the overscan (1: the move's own framing)."""
    zoom_auto: bool = True
    """True when `--overscan auto` chose the zoom, False when the user gave it."""
    overscan: OverscanFit | None = None
    """The overscan's measurement, None where no pose was measured for it (no zoom asked for and
    an auto amplitude, or a reconstructed model)."""

    def report(self) -> dict[str, object]:
        """The overscan as render.json holds it."""
        out: dict[str, object] = {"mode": "auto" if self.zoom_auto else "given", "zoom": round(self.zoom, 4)}
        if self.overscan is not None:
            out.update(
                predicted_beyond=self.overscan.prediction.beyond,
                predicted_beyond_unzoomed=self.overscan.unzoomed.beyond,
                capped=self.overscan.capped,
                measured_times=[round(t, 3) for t in self.overscan.times],
                seconds=round(self.overscan.seconds, 3),
            )
        return out


def _zoom_asked(options: RunOptions, motion: Motion, reconstructed: bool) -> float | None:
    """The zoom the run asks for: None to choose it (`--overscan auto` on a photo's scene), else a
    number (`--overscan X`: 1 + X; auto on a reconstructed model, which has no photo frame to stay
    inside, or on a timeline that sets its own field of view: 1)."""
    from dioramic.motion.zoom import frames_itself

    if options.overscan is not None:
        return 1.0 + options.overscan
    if reconstructed or frames_itself(motion):
        return 1.0
    return None


def choose_motion(scene: Scene, options: RunOptions, aspect: float | None = None) -> MotionChoice:
    """The run's motion.

    Amplitude: with ``amplitude=None`` (auto) the strongest <= 1 whose predicted frames keep within
    the artifact limits (`dioramic.render.fit`); a given amplitude is used as is. A reconstructed
    model (`Scene.views`) keeps amplitude 1 under auto.

    Zoom (`options.overscan`): auto zooms in just enough that the move's frames stay inside the
    photo's frame (`dioramic.render.overscan`); a number zooms by 1 + that. `aspect` is the video's
    width / height: when it differs from the photo's, the motion frames the largest part of the
    photo with that aspect (the field of view narrows) before any zoom.

    One warning, with the predicted worst frame, when the move goes past what the scene was built
    for (`Scene.reach`), or else, for a given amplitude, when its frames are predicted to go past
    the artifact limits (holes, stretched surfaces, wide rebuilt areas).
    """
    from dioramic.motion import DEFAULT_MOTION
    from dioramic.motion.zoom import with_zoom
    from dioramic.render.fit import ArtifactLimits, FitResult, extreme_times, fit_amplitude
    from dioramic.render.overscan import fit_overscan

    spec = options.motion or DEFAULT_MOTION

    def make(amplitude: float) -> Motion:
        return make_motion_at(scene, options, amplitude, aspect)

    limits = ArtifactLimits()
    # A model reconstructed from several photos has no photo frame to keep filled: its empty
    # surroundings count as uncovered in every view, so `auto` keeps the preset's own strength.
    reconstructed = scene.views is not None
    fit: FitResult | None = None
    if options.amplitude is None and not reconstructed:
        fit = fit_amplitude(scene, make, limits)
        amplitude = fit.amplitude
        log.info(
            "amplitude %.3g (auto): predicted worst frame %s (%.2f s)",
            amplitude, fit.prediction.describe(), fit.seconds,
        )  # fmt: skip
    else:
        amplitude = 1.0 if options.amplitude is None else float(options.amplitude)
    base = make(amplitude)
    asked = _zoom_asked(options, base, reconstructed)
    overscan = None
    if not reconstructed and (asked is None or asked != 1.0 or fit is None):
        # a given amplitude is judged on more poses, as the video's frames will be measured
        extra = extreme_times(scene, base, 9) if fit is None else ()
        overscan = fit_overscan(
            scene, base, aspect=aspect or scene.camera.aspect, zoom=asked, extra_times=extra
        )
    zoom = overscan.zoom if overscan is not None else 1.0 if asked is None else asked
    if fit is None:
        if overscan is not None:
            within = overscan.prediction.within(limits)
            fit = FitResult(amplitude, overscan.prediction, within, 1, overscan.seconds)
        else:  # a reconstructed model
            fit = fit_amplitude(scene, make, limits, maximum=amplitude, iterations=0, samples=9, size=384)
    if overscan is not None and asked is None:
        log.info(
            "zoom %.3f (overscan auto): the worst measured frame %.1f %% beyond the photo, %.2f %% zoomed%s",
            zoom, 100 * overscan.unzoomed.beyond, 100 * overscan.prediction.beyond,
            " (the largest zoom: a wider move shows some of the margin)" if overscan.capped else "",
        )  # fmt: skip
    motion = with_zoom(base, zoom)
    predicted = overscan.prediction if overscan is not None else fit.prediction
    if not _warn_beyond_reach(scene, motion, spec, amplitude, predicted):
        if not fit.within_limits and not reconstructed and options.amplitude is not None:
            log.warning(
                "amplitude %.3g goes past what the scene holds: its worst frame is predicted to show "
                "%s (limits %.2f %%, %.2f %%, %.0f %% and %.0f %%); --amplitude auto keeps within them",
                amplitude, fit.prediction.describe(), 100 * limits.uncovered, 100 * limits.stretched,
                100 * limits.revealed, 100 * limits.beyond,
            )  # fmt: skip
        elif options.amplitude is not None:
            log.info("amplitude %.3g: predicted worst frame %s", amplitude, fit.prediction.describe())
    return MotionChoice(
        motion, str(spec), amplitude, options.amplitude is None, fit, zoom, options.overscan is None, overscan
    )


def _warn_beyond_reach(
    scene: Scene, motion: Motion, spec: str, amplitude: float, predicted: Prediction
) -> bool:
    """Warn, once, when `motion` takes the camera farther than `scene` was built for (`Scene.reach`);
    whether it did."""
    from dioramic.motion import motion_reach

    if scene.reach is None or scene.views is not None:
        return False
    lateral, axial = motion_reach(motion, scene.focus)
    held_lateral, held_axial = scene.reach
    if lateral <= held_lateral * (1 + _REACH_TOLERANCE) and axial <= held_axial * (1 + _REACH_TOLERANCE):
        return False
    log.warning(
        "the scene was built for moves up to %.1f %% of the subject distance sideways and %.0f %% along "
        "the view; %s at amplitude %.3g goes %.1f %% and %.0f %%: its worst frame is predicted to show "
        "%s (build the scene for this move: dioramic mesh PHOTO --motion %s --amplitude %.3g)",
        100 * held_lateral, 100 * held_axial, spec, amplitude, 100 * lateral, 100 * axial,
        predicted.describe(), spec, amplitude,
    )  # fmt: skip
    return True


def make_motion_for(scene: Scene, options: RunOptions, aspect: float | None = None) -> Motion:
    """The run's motion for a video of width / height `aspect` (see `choose_motion`)."""
    return choose_motion(scene, options, aspect).motion
