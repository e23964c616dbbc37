"""Rotation helpers for motions: look-at, Euler angles, quaternions, slerp, rigid transforms.

Conventions (those of `dioramic.types`): right-handed, +X right, +Y up, a camera looks along its -Z.
A camera rotation is world-from-camera: its columns are the camera's right, up and backward axes.
Quaternions are stored (x, y, z, w), the glTF order, as (4,) float64 arrays.
"""

from __future__ import annotations

import math

import numpy as np

WORLD_UP = np.array([0.0, 1.0, 0.0])
_EPS = 1e-12


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = WORLD_UP) -> np.ndarray:
    """(3, 3) float64 world-from-camera rotation of a camera at `eye` looking at `target`.

    The camera's up axis lies in the plane of `up` and the viewing direction (no roll). When the view is
    parallel to `up`, -Z serves as up instead; when `eye` and `target` coincide, the identity.

    >>> look_at(np.zeros(3), np.array([0.0, 0.0, -2.0])).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    eye = np.asarray(eye, dtype=np.float64)
    back = eye - np.asarray(target, dtype=np.float64)
    norm = float(np.linalg.norm(back))
    if not norm > _EPS * max(1.0, float(np.abs(eye).max())):
        return np.eye(3)
    back = back / norm
    right = np.cross(np.asarray(up, dtype=np.float64), back)
    if np.linalg.norm(right) < 1e-9:
        right = np.cross(np.array([0.0, 0.0, -1.0]), back)
    right = right / np.linalg.norm(right)
    true_up = np.cross(back, right)
    return np.stack([right, true_up, back], axis=1)


def rotation_x(degrees: float) -> np.ndarray:
    """(3, 3) rotation by `degrees` about +X (positive tilts +Y towards +Z)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rotation_y(degrees: float) -> np.ndarray:
    """(3, 3) rotation by `degrees` about +Y (positive turns -Z towards -X, i.e. to the left)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rotation_z(degrees: float) -> np.ndarray:
    """(3, 3) rotation by `degrees` about +Z (positive turns +X towards +Y)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def euler_to_matrix(degrees: np.ndarray) -> np.ndarray:
    """(3, 3) rotation from Euler angles [x, y, z] in degrees, composed as Ry(y) @ Rx(x) @ Rz(z).

    For a camera that is yaw (y, positive turns left), then pitch (x, positive looks up), then roll
    (z, positive tilts counter-clockwise), each about the camera's own turned axes.

    >>> np.round(euler_to_matrix(np.array([0.0, 90.0, 0.0])) @ [0.0, 0.0, -1.0], 6).tolist()
    [-1.0, 0.0, -0.0]
    """
    x, y, z = (float(v) for v in degrees)
    return rotation_y(y) @ rotation_x(x) @ rotation_z(z)


def quat_from_matrix(matrix: np.ndarray) -> np.ndarray:
    """(4,) unit quaternion (x, y, z, w), w >= 0, of the (3, 3) rotation `matrix`."""
    m = np.asarray(matrix, dtype=np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0.0:
        s = 2.0 * math.sqrt(trace + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] >= m[1, 1] and m[0, 0] >= m[2, 2]:
        s = 2.0 * math.sqrt(max(1.0 + m[0, 0] - m[1, 1] - m[2, 2], _EPS))
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] >= m[2, 2]:
        s = 2.0 * math.sqrt(max(1.0 + m[1, 1] - m[0, 0] - m[2, 2], _EPS))
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * math.sqrt(max(1.0 + m[2, 2] - m[0, 0] - m[1, 1], _EPS))
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    quat = np.array(q)
    quat /= np.linalg.norm(quat)
    return -quat if quat[3] < 0.0 else quat


def matrix_from_quat(quat: np.ndarray) -> np.ndarray:
    """(3, 3) rotation of the quaternion (x, y, z, w) (normalised first)."""
    x, y, z, w = np.asarray(quat, dtype=np.float64) / np.linalg.norm(quat)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def slerp(q0: np.ndarray, q1: np.ndarray, s: float) -> np.ndarray:
    """(4,) spherical interpolation from unit quaternion `q0` (s = 0) to `q1` (s = 1), shortest path.

    `s` outside [0, 1] extrapolates along the same great circle (eased curves may overshoot).

    >>> q = slerp(np.array([0.0, 0.0, 0.0, 1.0]), quat_from_matrix(rotation_y(90.0)), 0.5)
    >>> bool(np.allclose(matrix_from_quat(q), rotation_y(45.0)))
    True
    """
    a = np.asarray(q0, dtype=np.float64)
    b = np.asarray(q1, dtype=np.float64)
    dot = float(np.dot(a, b))
    if dot < 0.0:
        b, dot = -b, -dot
    if dot > 0.9995:
        out = a + s * (b - a)
        return out / np.linalg.norm(out)
    theta = math.acos(min(1.0, dot))
    sin_theta = math.sin(theta)
    out = (math.sin((1.0 - s) * theta) * a + math.sin(s * theta) * b) / sin_theta
    return out / np.linalg.norm(out)


def scale_rotation(quat: np.ndarray, factor: float) -> np.ndarray:
    """(4,) the rotation `quat` with its angle multiplied by `factor` (same axis), shortest form."""
    return slerp(np.array([0.0, 0.0, 0.0, 1.0]), quat, factor)


def pivot_transform(
    rotation: np.ndarray, scale: np.ndarray, translation: np.ndarray, pivot: np.ndarray
) -> np.ndarray:
    """(4, 4) world-from-object matrix: scale, then rotate about `pivot`, then translate.

    ``M = T(pivot + translation) @ R @ S @ T(-pivot)``; with identity rotation, unit scale and zero
    translation it is the identity, and `pivot` itself moves only by `translation`.
    """
    linear = np.asarray(rotation, dtype=np.float64) @ np.diag(np.asarray(scale, dtype=np.float64))
    matrix = np.eye(4)
    matrix[:3, :3] = linear
    pivot = np.asarray(pivot, dtype=np.float64)
    matrix[:3, 3] = pivot + np.asarray(translation, dtype=np.float64) - linear @ pivot
    return matrix
