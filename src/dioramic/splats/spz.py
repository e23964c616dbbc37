"""SPZ, Niantic's compressed splat format (version 2): about a tenth of the PLY, for sharing and phones.

A gzip stream of a 16-byte little-endian header (magic 0x5053474e "NGSP", version 2, splat count,
spherical-harmonic degree (0 to 3), 12 fractional bits, flags 0, a zero byte) and then, per attribute
for all splats in turn: positions as 24-bit signed fixed point (1/4096 m: 0.24 mm), alphas (8 bits),
colours (the degree-0 harmonic scaled by 0.15, 8 bits each), scales (log + 10, times 16, 8 bits each),
rotations (x, y, z of the unit quaternion with w >= 0, 8 bits each) and, with a degree, the higher
harmonics (per splat, coefficient by coefficient, red, green and blue each: 128 + 128 times the
coefficient, 8 bits, within -1..1). SPZ's own axes are right, up,
back, those of three.js and of our scenes, so nothing is turned. Read by Spark, SuperSplat and
Niantic's spz library.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from dioramic.errors import InputError, UsageError
from dioramic.files import write_bytes
from dioramic.splats import SH_C0, Splats

MAGIC = 0x5053474E
VERSION = 2
FRACTIONAL_BITS = 12
COLOUR_SCALE = 0.15
_LIMIT = (1 << 23) - 1


def _bytes(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def encode(splats: Splats) -> bytes:
    """The SPZ bytes (before gzip) of `splats`."""
    fixed = np.rint(splats.means.astype(np.float64) * (1 << FRACTIONAL_BITS))
    if len(fixed) and np.abs(fixed).max() > _LIMIT:
        raise UsageError("SPZ holds positions within 2048 m of the origin: write a .ply instead")
    fixed = fixed.astype(np.int32).reshape(-1)
    positions = np.stack([fixed & 0xFF, (fixed >> 8) & 0xFF, (fixed >> 16) & 0xFF], axis=1).astype(np.uint8)
    alphas = _bytes(splats.opacities * 255.0)
    f_dc = (splats.colours.astype(np.float64) - 0.5) / SH_C0
    colours = _bytes(f_dc * (COLOUR_SCALE * 255.0) + 127.5)
    scales = _bytes((np.log(np.maximum(splats.scales.astype(np.float64), 1e-30)) + 10.0) * 16.0)
    q = splats.rotations.astype(np.float64)
    q = np.where(q[:, :1] < 0, -q, q)  # w >= 0, then x, y, z are stored
    rotations = _bytes(q[:, 1:] * 127.5 + 127.5)
    header = struct.pack("<IIIBBBB", MAGIC, VERSION, len(splats), splats.degree, FRACTIONAL_BITS, 0, 0)
    parts = [positions, alphas, colours, scales, rotations]
    if splats.sh is not None:
        parts.append(_bytes(splats.sh.astype(np.float64).reshape(len(splats), -1) * 128.0 + 128.0))
    return header + b"".join(np.ascontiguousarray(p).tobytes() for p in parts)


def write_spz(splats: Splats, path: str | Path) -> Path:
    """Write `splats` as a gzip-compressed SPZ file at `path`, atomically."""
    return write_bytes(path, gzip.compress(encode(splats), compresslevel=6, mtime=0))


def read_spz(path: str | Path) -> Splats:
    """Read an SPZ file of version 2 (as `write_spz` writes); the normals, which SPZ does not hold,
    are zero."""
    path = Path(path)
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable SPZ file ({exc})") from None
    magic, version, count, degree, bits, _, _ = struct.unpack_from("<IIIBBBB", data)
    if magic != MAGIC or version != VERSION or degree > 3:
        raise InputError(f"{path}: only SPZ version 2 (harmonics of degree 0 to 3) is read")
    rest = (degree + 1) ** 2 - 1
    if len(data) != 16 + count * (19 + 3 * rest):
        raise InputError(f"{path}: the SPZ file is truncated")
    offset = 16

    def take(width: int) -> np.ndarray:
        nonlocal offset
        block = np.frombuffer(data, np.uint8, count * width, offset).reshape(count, width)
        offset += count * width
        return block.astype(np.float64)

    raw = take(9).reshape(count, 3, 3).astype(np.int64)
    fixed = raw[:, :, 0] | (raw[:, :, 1] << 8) | (raw[:, :, 2] << 16)
    fixed = np.where(fixed >= 1 << 23, fixed - (1 << 24), fixed)
    alphas, colours, scales, xyz = take(1)[:, 0], take(3), take(3), take(3) / 127.5 - 1.0
    w = np.sqrt(np.maximum(0.0, 1.0 - (xyz**2).sum(axis=1)))
    rotations = np.concatenate([w[:, None], xyz], axis=1)
    rotations /= np.linalg.norm(rotations, axis=1, keepdims=True)
    sh = ((take(3 * rest) - 128.0) / 128.0).reshape(count, rest, 3).astype(np.float32) if rest else None
    return Splats(
        means=(fixed / float(1 << bits)).astype(np.float32),
        normals=np.zeros((count, 3), np.float32),
        colours=(0.5 + SH_C0 * (colours - 127.5) / (COLOUR_SCALE * 255.0)).astype(np.float32),
        opacities=(alphas / 255.0).astype(np.float32),
        scales=np.exp(scales / 16.0 - 10.0).astype(np.float32),
        rotations=rotations.astype(np.float32),
        sh=sh,
    )
