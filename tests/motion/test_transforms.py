"""Rotation helpers: look-at, Euler angles, quaternions, slerp, pivot transforms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dioramic.motion.transforms import (
    euler_to_matrix,
    look_at,
    matrix_from_quat,
    pivot_transform,
    quat_from_matrix,
    rotation_x,
    rotation_y,
    rotation_z,
    scale_rotation,
    slerp,
)

angles = st.floats(-360.0, 360.0, allow_nan=False)


def assert_rotation(matrix: np.ndarray) -> None:
    assert matrix.shape == (3, 3)
    np.testing.assert_allclose(matrix.T @ matrix, np.eye(3), atol=1e-9)
    assert np.linalg.det(matrix) == pytest.approx(1.0, abs=1e-9)


def test_look_at_straight_ahead_is_identity() -> None:
    np.testing.assert_allclose(look_at(np.zeros(3), np.array([0.0, 0.0, -3.0])), np.eye(3), atol=1e-12)


@pytest.mark.parametrize(
    ("eye", "target"),
    [((0.3, 0.1, 0.0), (0, 0, -2)), ((-1, 2, 5), (0, 0, 0)), ((0, 0, 0), (0, -5, 0)), ((0, 0, 0), (0, 5, 0))],
)
def test_look_at_points_minus_z_at_the_target(eye: tuple, target: tuple) -> None:
    eye_a, target_a = np.array(eye, float), np.array(target, float)
    rotation = look_at(eye_a, target_a)
    assert_rotation(rotation)
    direction = (target_a - eye_a) / np.linalg.norm(target_a - eye_a)
    np.testing.assert_allclose(-rotation[:, 2], direction, atol=1e-12)


def test_look_at_keeps_the_horizon_level() -> None:
    rotation = look_at(np.array([0.4, 0.3, 0.0]), np.array([0.0, 0.0, -2.0]))
    assert rotation[1, 0] == pytest.approx(0.0, abs=1e-12)  # the right axis has no vertical component
    assert rotation[1, 1] > 0.9  # up stays up


def test_look_at_same_point_is_identity() -> None:
    np.testing.assert_array_equal(look_at(np.ones(3), np.ones(3)), np.eye(3))


def test_axis_rotations_turn_the_way_documented() -> None:
    forward = np.array([0.0, 0.0, -1.0])
    np.testing.assert_allclose(rotation_y(90) @ forward, [-1, 0, 0], atol=1e-12)  # yaw left
    np.testing.assert_allclose(rotation_x(90) @ forward, [0, 1, 0], atol=1e-12)  # pitch up
    np.testing.assert_allclose(rotation_z(90) @ [1.0, 0, 0], [0, 1, 0], atol=1e-12)  # roll ccw


def test_euler_order_is_yaw_pitch_roll() -> None:
    np.testing.assert_allclose(
        euler_to_matrix(np.array([10.0, 20.0, 30.0])), rotation_y(20) @ rotation_x(10) @ rotation_z(30)
    )


@given(angles, angles, angles)
def test_quaternion_round_trip(x: float, y: float, z: float) -> None:
    matrix = euler_to_matrix(np.array([x, y, z]))
    quat = quat_from_matrix(matrix)
    assert np.linalg.norm(quat) == pytest.approx(1.0)
    assert quat[3] >= 0.0
    np.testing.assert_allclose(matrix_from_quat(quat), matrix, atol=1e-9)


def test_slerp_halfway_is_half_the_angle() -> None:
    q0 = quat_from_matrix(np.eye(3))
    q1 = quat_from_matrix(rotation_y(90.0))
    np.testing.assert_allclose(matrix_from_quat(slerp(q0, q1, 0.5)), rotation_y(45.0), atol=1e-12)
    np.testing.assert_allclose(matrix_from_quat(slerp(q0, q1, 0.25)), rotation_y(22.5), atol=1e-12)
    np.testing.assert_allclose(slerp(q0, q1, 0.0), q0, atol=1e-12)
    np.testing.assert_allclose(slerp(q0, q1, 1.0), q1, atol=1e-12)


def test_slerp_takes_the_short_way_round() -> None:
    q0 = quat_from_matrix(rotation_y(170.0))
    q1 = quat_from_matrix(rotation_y(-170.0))
    np.testing.assert_allclose(matrix_from_quat(slerp(q0, q1, 0.5)), rotation_y(180.0), atol=1e-9)


def test_scale_rotation_scales_the_angle() -> None:
    quat = quat_from_matrix(rotation_x(30.0))
    np.testing.assert_allclose(matrix_from_quat(scale_rotation(quat, 0.5)), rotation_x(15.0), atol=1e-12)
    np.testing.assert_allclose(matrix_from_quat(scale_rotation(quat, 0.0)), np.eye(3), atol=1e-12)


def test_pivot_transform_keeps_the_pivot_fixed() -> None:
    pivot = np.array([0.0, 0.0, -2.0])
    matrix = pivot_transform(rotation_y(30.0), np.full(3, 1.5), np.zeros(3), pivot)
    np.testing.assert_allclose(matrix @ np.append(pivot, 1.0), np.append(pivot, 1.0), atol=1e-12)
    moved = matrix @ np.array([0.0, 0.0, -1.0, 1.0])  # 1 m in front of the pivot, scaled 1.5 and turned
    np.testing.assert_allclose(moved[:3], pivot + 1.5 * (rotation_y(30.0) @ [0.0, 0.0, 1.0]), atol=1e-12)
    translated = pivot_transform(np.eye(3), np.ones(3), np.array([0.1, 0.2, 0.3]), pivot)
    np.testing.assert_allclose(translated[:3, 3], [0.1, 0.2, 0.3], atol=1e-12)
    np.testing.assert_allclose(pivot_transform(np.eye(3), np.ones(3), np.zeros(3), pivot), np.eye(4))
