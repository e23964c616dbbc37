"""The OpenGL renderer on tiny hand-built scenes whose images are known."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dioramic.errors import UsageError
from dioramic.render.context import GLContextError, create_context
from dioramic.render.opengl import GLRenderer, perspective
from dioramic.render.yuv import rgb_to_yuv709

pytestmark = pytest.mark.usefixtures("gl")

BLUE = (10, 20, 200)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def solid(color: tuple[int, ...], shape: tuple[int, int] = (8, 8)) -> np.ndarray:
    return np.broadcast_to(np.array(color, dtype=np.uint8), (*shape, len(color))).copy()


@pytest.mark.parametrize(("supersample", "mipmaps"), [(1, True), (2, True), (3, True), (2, False), (2, None)])
def test_full_frame_quad_reproduces_the_texture(
    make_quad, make_scene, camera, pattern, identity_pose, supersample, mipmaps
):
    scene = make_scene(camera, make_quad(camera, 2.0, pattern))
    with GLRenderer(scene, 64, 48, supersample=supersample, mipmaps=mipmaps) as renderer:
        frame, uncovered = renderer.render(identity_pose, with_coverage=True)
    assert frame.shape == (48, 64, 3)
    assert frame.dtype == np.uint8
    assert frame.flags.c_contiguous
    assert uncovered < 0.005
    # Top row first and u to the right: each quadrant lands where it is in the texture.
    for rows, cols in [(slice(2, 22), slice(2, 30)), (slice(26, 46), slice(34, 62))]:
        assert np.abs(frame[rows, cols].astype(int) - pattern[rows, cols]).max() <= 2
    assert psnr(frame, pattern) > 25.0


@pytest.mark.parametrize(("mipmaps", "filtered"), [(True, True), (None, True), (False, False)])
def test_mipmaps_filter_minified_textures(make_quad, make_scene, camera, identity_pose, mipmaps, filtered):
    # A 1-texel checkerboard 7.5 times smaller on screen: mipmaps average it to grey; sampled
    # bilinearly without them it aliases into a pattern of near-black and near-white pixels.
    checker = ((np.indices((360, 480)).sum(axis=0) % 2) * 255).astype(np.uint8)
    texture = np.repeat(checker[:, :, None], 3, axis=2)
    scene = make_scene(camera, make_quad(camera, 2.0, texture))
    with GLRenderer(scene, 64, 48, mipmaps=mipmaps) as renderer:  # auto: 480 > 2 * 64, mipmaps on
        frame = renderer.render(identity_pose)
    inner = frame[4:-4, 4:-4].astype(int)
    grey = inner.max() - inner.min() < 40 and abs(inner.mean() - 127.5) < 20
    assert grey == filtered, (inner.min(), inner.max(), inner.mean())


def test_background_and_coverage(make_quad, make_scene, camera, pattern, identity_pose):
    mesh = make_quad(camera, 2.0, pattern, box=(16, 12, 48, 36))
    with GLRenderer(make_scene(camera, mesh), 64, 48, background=BLUE) as renderer:
        frame, uncovered = renderer.render(identity_pose, with_coverage=True)
        plain = renderer.render(identity_pose)
    assert uncovered == pytest.approx(0.75, abs=0.01)
    np.testing.assert_array_equal(plain, frame)
    for y, x in [(0, 0), (47, 63), (5, 40), (40, 5)]:
        assert tuple(frame[y, x]) == BLUE
    # The quad shows the whole texture squeezed into 32 x 24 pixels: its top-left quadrant is red.
    assert np.abs(frame[14:22, 18:30].astype(int) - (220, 40, 40)).max() <= 3


def test_the_frames_close_a_crack_but_not_the_open_background(make_quad, make_scene, camera, identity_pose):
    # two quads side by side with a 2-pixel crack between them (as where a hidden layer's fill
    # meets the surface in front of it): the video's frame shows no background in the crack, only
    # what its two sides show; render_rgba keeps the coverage as drawn
    left = make_quad(camera, 2.0, solid((220, 40, 40)), box=(16, 12, 31, 36), name="left")
    right = make_quad(camera, 2.0, solid((40, 200, 60)), box=(33, 12, 48, 36), name="right")
    with GLRenderer(make_scene(camera, left, right), 64, 48, background=BLUE) as renderer:
        frame = renderer.render(identity_pose)
        (sequence,) = list(renderer.render_sequence([(identity_pose, 0.0, None)]))
        rgba = renderer.render_rgba(identity_pose)
    crack = (slice(14, 34), slice(31, 33))
    assert (rgba[crack][:, :, 3] == 0).all()
    red, green = np.array((220, 40, 40)), np.array((40, 200, 60))
    seen = frame[crack].astype(int)  # a blend of its sides, the nearer one weighing more
    np.testing.assert_allclose(seen[:, 0], np.broadcast_to((2 * red + green) / 3, seen[:, 0].shape), atol=2)
    np.testing.assert_allclose(seen[:, 1], np.broadcast_to((red + 2 * green) / 3, seen[:, 1].shape), atol=2)
    np.testing.assert_array_equal(sequence, frame)
    # the open background around the quads keeps its colour, to the quads' very edges
    assert (frame[:, :15] == BLUE).all() and (frame[:11] == BLUE).all() and (frame[:, 49:] == BLUE).all()
    # the frames drawn into YUV on the GPU are sealed by the same rule, in a shader
    (i420,) = list(renderer_yuv(make_scene(camera, left, right), identity_pose))
    luma = rgb_to_yuv709(*(frame[:, :, k].astype(np.float64) for k in range(3)))[0]
    assert np.abs(i420[:48].astype(float) - luma).max() <= 1.0


def renderer_yuv(scene, pose):
    with GLRenderer(scene, 64, 48, background=BLUE) as renderer:
        return list(renderer.render_sequence([(pose, 0.0, None)], yuv420=True))


def test_object_translation_moves_the_image(make_quad, make_scene, camera, pattern, identity_pose):
    depth, shift_px = 2.0, 8
    mesh = make_quad(camera, depth, pattern, box=(12, 12, 44, 36))
    moved = np.eye(4)
    moved[0, 3] = shift_px * depth / camera.fx  # metres that project to `shift_px` pixels at `depth`
    with GLRenderer(make_scene(camera, mesh), 64, 48) as renderer:
        still = renderer.render(identity_pose)
        shifted = renderer.render(dataclasses.replace(identity_pose, object_matrix=moved))
        # Moving the camera right by the same amount moves the image the other way.
        camera_right = renderer.render(dataclasses.replace(identity_pose, camera_position=-moved[:3, 3]))
    np.testing.assert_allclose(shifted[:, shift_px:].astype(int), still[:, :-shift_px].astype(int), atol=2)
    assert np.abs(shifted.astype(int) - still).max() > 100
    np.testing.assert_allclose(camera_right.astype(int), shifted.astype(int), atol=2)


def test_supersampling_antialiases_edges(make_quad, make_scene, camera, identity_pose):
    white = solid((255, 255, 255))
    mesh = make_quad(camera, 2.0, white, box=(20.5, 0, 64, 48))  # left edge through the middle of column 20
    scene = make_scene(camera, mesh)
    with GLRenderer(scene, 64, 48, supersample=2) as renderer:
        smooth, smooth_uncovered = renderer.render(identity_pose, with_coverage=True)
    with GLRenderer(scene, 64, 48, supersample=1) as renderer:
        hard = renderer.render(identity_pose)
    assert 90 <= int(smooth[24, 20, 0]) <= 165
    assert set(np.unique(hard)) <= {0, 255}
    assert smooth_uncovered == pytest.approx(20.5 / 64, abs=0.01)


def test_rgba_layers_blend_over_the_layers_behind(make_quad, make_scene, camera, identity_pose):
    back = make_quad(camera, 3.0, solid((200, 0, 0)), name="background")
    texture = np.zeros((8, 8, 4), dtype=np.uint8)
    texture[:, :4] = (0, 200, 0, 255)  # opaque green left half
    texture[:, 4:] = (0, 0, 200, 0)  # fully transparent right half
    texture[6:, 4:] = (0, 0, 200, 128)  # a half-transparent blue corner, bottom right
    front = make_quad(camera, 2.0, texture, name="foreground")
    with GLRenderer(make_scene(camera, back, front), 64, 48) as renderer:
        frame, uncovered = renderer.render(identity_pose, with_coverage=True)
    with GLRenderer(make_scene(camera, front), 64, 48) as renderer:
        _, front_uncovered = renderer.render(identity_pose, with_coverage=True)
    assert tuple(frame[10, 10]) == (0, 200, 0)
    assert tuple(frame[10, 54]) == (200, 0, 0)
    assert np.abs(frame[44, 54].astype(int) - (100, 0, 100)).max() <= 3
    assert uncovered < 0.005
    # Alone, the foreground covers the left half, and half of the bottom right corner.
    assert front_uncovered == pytest.approx(0.5 * (0.75 + 0.25 * 0.5), abs=0.02)


def test_where_a_cut_out_photo_is_transparent_the_background_shows_and_it_is_no_hole(
    make_quad, make_scene, camera, identity_pose
):
    # The photo's own layers (surface, hidden-N) with an alpha channel: a cut-out whose right half
    # is empty space. It is drawn opaque in the background's colour there, so nothing counts as a
    # hole, and what a transparent texel of a hidden layer shows is no fill.
    texture = np.zeros((8, 8, 4), dtype=np.uint8)
    texture[:, :4] = (0, 200, 0, 255)
    texture[:, 4:] = (0, 0, 200, 0)
    texture[6:, 4:] = (0, 0, 200, 128)  # half transparent, bottom right
    magenta = (255, 0, 255)
    hidden = make_quad(camera, 3.0, texture, name="hidden-1")
    surface = make_quad(camera, 2.0, texture, name="surface")
    foreign = make_quad(camera, 2.0, texture, name="foreground")  # not the photo's: blended as ever
    with GLRenderer(make_scene(camera, surface), 64, 48, background=magenta) as renderer:
        frame, uncovered = renderer.render(identity_pose, with_coverage=True)
        stats = renderer.measure(identity_pose)
    assert tuple(frame[10, 10]) == (0, 200, 0)
    assert tuple(frame[10, 54]) == magenta
    assert np.abs(frame[44, 54].astype(int) - (128, 0, 228)).max() <= 3  # half blue over magenta
    assert uncovered == 0.0 and stats.uncovered == 0.0
    with GLRenderer(make_scene(camera, hidden), 64, 48, background=magenta) as renderer:
        stats = renderer.measure(identity_pose)
    assert stats.uncovered == 0.0
    assert stats.revealed == pytest.approx(0.5 + 0.25 * 0.5 * 128 / 255, abs=0.02)
    with GLRenderer(make_scene(camera, foreign), 64, 48, background=magenta) as renderer:
        _, uncovered = renderer.render(identity_pose, with_coverage=True)
    assert uncovered == pytest.approx(0.5 * (0.75 + 0.25 * 0.5), abs=0.02)


def test_depth_test_hides_what_is_behind_whatever_the_order(make_quad, make_scene, camera, identity_pose):
    near = make_quad(camera, 1.5, solid(BLUE), name="near")
    far = make_quad(camera, 3.0, solid((200, 0, 0)), name="far")
    with GLRenderer(make_scene(camera, near, far), 64, 48) as renderer:  # the far layer drawn last
        frame = renderer.render(identity_pose)
    assert np.all(frame == BLUE)


def test_clip_planes_follow_the_camera(make_quad, make_scene, camera, pattern, identity_pose):
    scene = make_scene(camera, make_quad(camera, 2.0, pattern))
    closer = dataclasses.replace(identity_pose, camera_position=np.array([0.0, 0.0, -1.5]))
    with GLRenderer(scene, 64, 48) as renderer:
        near, far = renderer.clip_planes(identity_pose)
        assert near < 2.0 < far
        near, far = renderer.clip_planes(closer)
        assert near < 0.5 < far
        frame, uncovered = renderer.render(closer, with_coverage=True)
    # Four times closer: the centre of the texture (where the four quadrants meet) fills the frame.
    assert uncovered < 0.005
    assert tuple(frame[2, 2]) == pytest.approx((220, 40, 40), abs=3)
    assert tuple(frame[45, 61]) == pytest.approx((230, 220, 50), abs=3)


def test_stereo_eyes_converge_on_the_focus_plane(make_quad, make_scene, camera, pattern, identity_pose):
    focus = 2.0
    at_focus = make_scene(camera, make_quad(camera, focus, pattern, box=(8, 8, 56, 40)), focus=focus)
    behind = make_scene(camera, make_quad(camera, 2 * focus, pattern, box=(8, 8, 56, 40)), focus=focus)
    eye = 0.05
    with GLRenderer(at_focus, 64, 48) as renderer:
        mono = renderer.render(identity_pose)
        left = renderer.render(identity_pose, eye_offset=-eye, convergence=focus)
        right = renderer.render(identity_pose, eye_offset=eye, convergence=focus)
    assert psnr(left, mono) > 30.0
    assert psnr(right, mono) > 30.0
    with GLRenderer(behind, 64, 48) as renderer:
        left = renderer.render(identity_pose, eye_offset=-eye, convergence=focus)
        right = renderer.render(identity_pose, eye_offset=eye, convergence=focus)
    # Beyond the focus plane the left eye sees things further left than the right eye does.
    disparity = eye * 2 * camera.fx * (1 / focus - 1 / (2 * focus))  # pixels
    cols = np.nonzero(left[24].any(axis=1))[0]
    right_cols = np.nonzero(right[24].any(axis=1))[0]
    assert right_cols[0] - cols[0] == pytest.approx(disparity, abs=1.0)


def test_perspective_maps_the_frustum_to_the_unit_cube():
    proj = perspective(np.radians(60.0), 2.0, 1.0, 10.0)
    for depth, expected_z in [(1.0, -1.0), (10.0, 1.0)]:
        clip = proj @ np.array([0.0, np.tan(np.radians(30.0)) * depth, -depth, 1.0])
        ndc = clip[:3] / clip[3]
        assert ndc[1] == pytest.approx(1.0)
        assert ndc[2] == pytest.approx(expected_z)


def test_invalid_arguments_and_closed_renderer(make_quad, make_scene, camera, pattern, identity_pose):
    scene = make_scene(camera, make_quad(camera, 2.0, pattern))
    with pytest.raises(UsageError, match="supersample"):
        GLRenderer(scene, 64, 48, supersample=0)
    with pytest.raises(UsageError, match="background"):
        GLRenderer(scene, 64, 48, background=(0, 0, 300))
    renderer = GLRenderer(scene, 64, 48)
    renderer.close()
    renderer.close()
    with pytest.raises(GLContextError, match="closed"):
        renderer.render(identity_pose)


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(GLContextError, match="unknown OpenGL backend 'vulkan'"):
        create_context("vulkan")


def test_locality_order_is_a_permutation_that_keeps_neighbours_together():
    from dioramic.render.opengl import _in_locality_order

    # a 32 x 32 grid of cells, two triangles each, listed in a scattered (shuffled) order
    n = 32
    index = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = (
        index[:-1, :-1].ravel(),
        index[:-1, 1:].ravel(),
        index[1:, :-1].ravel(),
        index[1:, 1:].ravel(),
    )
    faces = np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])
    faces = faces[np.random.default_rng(0).permutation(len(faces))]
    u, v = np.meshgrid(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1))
    uvs = np.stack([u.ravel(), v.ravel()], 1)
    ordered = _in_locality_order(faces, uvs)
    assert sorted(map(tuple, ordered)) == sorted(map(tuple, faces))  # the same triangles, once each

    def mean_step(f: np.ndarray) -> float:  # texture distance between consecutive triangles
        centres = uvs[f].mean(axis=1)
        return float(np.linalg.norm(np.diff(centres, axis=0), axis=1).mean())

    assert mean_step(ordered) < 0.1 * mean_step(faces)
    assert _in_locality_order(faces[:1], uvs).tolist() == faces[:1].tolist()
