"""View-dependent splat colours (dioramic.splats.harmonics): the fit, the files, the centres' check."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dioramic.splats import SH_C0, Splats
from dioramic.splats.harmonics import PhotoView, basis, fit_harmonics, terms, view_colours
from dioramic.splats.ply import read_ply, write_ply
from dioramic.splats.spz import read_spz, write_spz
from dioramic.splats.view import centre_image
from dioramic.types import Camera

plyfile = pytest.importorskip("plyfile", reason="plyfile is not installed (the dev extra)")


def _plane(count: int = 40, depth: float = 2.0) -> Splats:
    """A count x count grid of flat, opaque splats on the plane z = -depth, facing +Z, grey."""
    ticks = (np.arange(count) + 0.5) / count - 0.5
    x, y = np.meshgrid(ticks, ticks)
    n = x.size
    means = np.stack([x.ravel(), y.ravel(), np.full(n, -depth)], axis=1).astype(np.float32)
    spacing = 1.0 / count
    return Splats(
        means=means,
        normals=np.tile(np.float32([0, 0, 1]), (n, 1)),
        colours=np.full((n, 3), 0.5, np.float32),
        opacities=np.full(n, 0.99, np.float32),
        scales=np.tile(np.float32([0.6 * spacing, 0.6 * spacing, 1e-5]), (n, 1)),
        rotations=np.tile(np.float32([1, 0, 0, 0]), (n, 1)),
    )


def _look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(4, 4) world-from-camera of a camera at `position` looking at `target` (OpenGL axes, +Y up)."""
    back = position - target
    back /= np.linalg.norm(back)
    right = np.cross([0.0, 1.0, 0.0], back)
    right /= np.linalg.norm(right)
    up = np.cross(back, right)
    out = np.eye(4)
    out[:3, :3] = np.stack([right, up, back], axis=1)
    out[:3, 3] = position
    return out


def _colour_seen_from(angle: float) -> np.ndarray:
    """The colour the plane shows from a camera `angle` radians round the vertical axis: red grows
    to the right, blue to the left (light that changes with the view)."""
    return np.array([0.5 + 0.3 * math.sin(angle), 0.4, 0.5 - 0.3 * math.sin(angle)])


def _photos(angles: list[float], size: int = 64) -> list[PhotoView]:
    camera = Camera.from_fov(size, size, 40.0)
    out = []
    for angle in angles:
        position = np.array([3.0 * math.sin(angle), 0.0, -2.0 + 3.0 * math.cos(angle)])
        image = np.empty((size, size, 3), np.uint8)
        image[:] = np.round(255 * _colour_seen_from(angle)).astype(np.uint8)
        out.append(PhotoView(image, camera, _look_at(position, np.array([0.0, 0.0, -2.0]))))
    return out


def test_the_colours_follow_each_photo_and_blend_between_them() -> None:
    splats = _plane()
    angles = [-0.6, -0.3, 0.0, 0.3, 0.6]
    fitted = fit_harmonics(splats, _photos(angles))
    assert fitted.degree == 2 and fitted.sh is not None and fitted.sh.shape == (len(splats), 8, 3)
    middle = np.abs(splats.means[:, :2]).max(axis=1) < 0.2  # seen by every photo, near the axis

    def seen_from(angle: float) -> np.ndarray:
        position = np.array([3.0 * math.sin(angle), 0.0, -2.0 + 3.0 * math.cos(angle)])
        return view_colours(fitted.subset(middle), position)

    mean = np.mean([_colour_seen_from(a) for a in angles], axis=0)
    for angle in angles:  # from each photo's viewpoint, towards that photo's colour (half way at least)
        colours = seen_from(angle)
        spread = np.abs(_colour_seen_from(angle) - mean).max()  # one colour for all: off by this
        assert np.abs(colours - _colour_seen_from(angle)).max() <= spread + 0.02, angle
        assert np.abs(colours.mean(axis=0) - _colour_seen_from(angle)).max() <= 0.5 * spread + 0.01, angle
    # between two photos, between their colours (red grows to the right)
    reds = [float(seen_from(a)[:, 0].mean()) for a in (-0.6, -0.45, -0.3, 0.0, 0.15, 0.3)]
    assert reds == sorted(reds) and reds[-1] - reds[0] > 0.1
    # the shrinkage towards one colour: a splat's own colour stays the mean of what the photos show
    np.testing.assert_allclose(fitted.colours[middle][:, [0, 2]].mean(axis=0), mean[[0, 2]], atol=0.01)


def test_the_fit_is_the_same_solved_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import dioramic.splats.harmonics as harmonics

    splats, photos = _plane(12), _photos([-0.4, 0.0, 0.4])
    whole = fit_harmonics(splats, photos)
    monkeypatch.setattr(harmonics, "CHUNK", 7)
    chunked = fit_harmonics(splats, photos)
    assert whole.sh is not None and chunked.sh is not None and np.abs(whole.sh).max() > 0.01
    np.testing.assert_array_equal(chunked.sh, whole.sh)
    np.testing.assert_array_equal(chunked.colours, whole.colours)


_FIELDS = ("means", "normals", "colours", "opacities", "scales", "rotations")


def test_one_photo_gives_its_colour_and_unseen_splats_keep_theirs() -> None:
    splats = _plane()
    lonely = splats.means[:, 0] > 0.3  # the photo below sees only the left part of the plane
    camera = Camera.from_fov(64, 64, 20.0)
    image = np.full((64, 64, 3), (200, 40, 90), np.uint8)
    photo = PhotoView(image, camera, _look_at(np.array([-0.3, 0.0, 1.0]), np.array([-0.3, 0.0, -2.0])))
    fitted = fit_harmonics(splats, [photo])
    colour = np.float32([200, 40, 90]) / 255
    seen = np.abs(fitted.colours - colour).max(axis=1) < 0.02
    assert seen.sum() > 100 and not seen[lonely].any()
    # from its photo's viewpoint, the photo's colour
    np.testing.assert_allclose(view_colours(fitted.subset(seen), photo.world_from_camera[:3, 3]),
                               np.broadcast_to(colour, (seen.sum(), 3)), atol=0.02)  # fmt: skip
    assert fitted.sh is not None and np.abs(fitted.sh[seen]).max() < 0.05  # one view: no change with it
    np.testing.assert_array_equal(fitted.colours[lonely], splats.colours[lonely])
    assert fitted.sh is not None and not fitted.sh[lonely].any()


def test_the_basis_is_the_3dgs_one() -> None:
    """Against the reference formulas at one direction (x, y, z) = (0.48, 0.6, 0.64)."""
    d = np.array([[0.48, 0.6, 0.64]])
    x, y, z = d[0]
    c1, c2 = 0.4886025119029199, 1.0925484305920792
    y1 = basis(d, 1)[0]
    np.testing.assert_allclose(y1, [-c1 * y, c1 * z, -c1 * x])
    y2 = basis(d, 2)[0]
    expected = [c2 * x * y, -c2 * y * z, 0.31539156525252005 * (2 * z * z - x * x - y * y)]
    expected += [-c2 * x * z, 0.5462742152960396 * (x * x - y * y)]
    np.testing.assert_allclose(y2[3:], expected)
    assert [basis(d, k).shape[1] for k in range(4)] == [terms(k) for k in range(4)] == [0, 3, 8, 15]
    # orthonormal on the sphere: the mean of Y_j Y_k over many directions is 1 / (4 pi) on the diagonal
    rng = np.random.default_rng(0)
    many = rng.normal(size=(200_000, 3))
    many /= np.linalg.norm(many, axis=1, keepdims=True)
    full = np.concatenate([np.full((len(many), 1), SH_C0), basis(many, 3)], axis=1)
    np.testing.assert_allclose(full.T @ full / len(many) * 4 * np.pi, np.eye(16), atol=0.02)


def test_the_files_carry_the_harmonics(tmp_path: Path) -> None:
    splats = _plane(8)
    rng = np.random.default_rng(1)
    sh = rng.uniform(-0.5, 0.5, (len(splats), 8, 3)).astype(np.float32)
    with_sh = Splats(*[getattr(splats, k) for k in _FIELDS], sh)
    ply = write_ply(with_sh, tmp_path / "s.ply")
    vertex = plyfile.PlyData.read(str(ply))["vertex"]
    names = [p.name for p in vertex.properties]
    assert names[6 : 9 + 24] == [f"f_dc_{k}" for k in range(3)] + [f"f_rest_{k}" for k in range(24)]
    assert names[9 + 24] == "opacity"
    # 3DGS's layout: all of red's coefficients, then green's, then blue's
    np.testing.assert_allclose(vertex["f_rest_9"], with_sh.sh[:, 1, 1])
    back = read_ply(ply)
    assert back.sh is not None
    np.testing.assert_array_equal(back.sh, with_sh.sh)
    spz = read_spz(write_spz(with_sh, tmp_path / "s.spz"))
    assert spz.degree == 2 and spz.sh is not None
    np.testing.assert_allclose(spz.sh, with_sh.sh, atol=0.5 / 128 + 1e-6)
    # parts with and without harmonics concatenate: the others get zeros
    both = Splats.concatenate([with_sh, splats])
    assert both.sh is not None and not both.sh[len(splats) :].any()
    np.testing.assert_array_equal(both.subset(np.arange(len(splats))).sh, with_sh.sh)


def test_the_centres_check_sees_the_colour_of_its_viewpoint() -> None:
    splats = _plane()
    fitted = fit_harmonics(splats, _photos([-0.5, 0.0, 0.5]))
    camera = Camera.from_fov(64, 64, 40.0)
    angle = 0.5
    position = np.array([3.0 * math.sin(angle), 0.0, -2.0 + 3.0 * math.cos(angle)])
    world_from_camera = _look_at(position, np.array([0.0, 0.0, -2.0]))
    image, covered = centre_image(fitted, camera, world_from_camera)
    flat, same = centre_image(Splats(*[getattr(fitted, k) for k in _FIELDS]), camera, world_from_camera)
    assert covered.mean() > 0.1 and (covered == same).all()
    truth = _colour_seen_from(angle)
    assert np.abs(image[covered] - truth).mean() < 0.5 * np.abs(flat[covered] - truth).mean()
