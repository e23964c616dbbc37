"""The 3DGS PLY of Kerbl et al. 2023: the splat format every splat viewer and trainer reads.

Binary little-endian, one ``vertex`` element per splat, every property a float::

    x y z                 centre (metres, the scene's coordinates: those of scene.glb)
    nx ny nz              unit normal of the surface the splat lies on (3DGS trainers write zeros)
    f_dc_0 f_dc_1 f_dc_2  colour as the degree-0 spherical harmonic: colour = 0.5 + SH_C0 * f_dc
    f_rest_0 ...          only where the colour changes with the view (`Splats.sh`, a reconstruction's
                          splats): the higher harmonics, all of red's, then green's, then blue's
    opacity               logit of the peak opacity: opacity = 1 / (1 + exp(-value))
    scale_0 scale_1 scale_2   natural log of the standard deviations along the rotation's axes
    rot_0 rot_1 rot_2 rot_3   rotation quaternion w, x, y, z (unit length)

Without ``f_rest_*`` (the scene of one photo) the colours do not change with the view; readers that
want them (the original SIBR viewer) take ``sh_degree=0`` files too in current versions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dioramic.errors import InputError
from dioramic.files import atomic_path
from dioramic.splats import SH_C0, Splats

FIELDS = (
    ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity"]
    + [f"scale_{k}" for k in range(3)]
    + [f"rot_{k}" for k in range(4)]
)
"""The properties of a splat without higher harmonics, in file order."""


def fields(rest: int = 0) -> list[str]:
    """The properties of a splat with `rest` higher harmonics per channel, in file order (the 3DGS
    trainers' order: the harmonics after f_dc).

    >>> fields(3)[6:20]
    ['f_dc_0', 'f_dc_1', 'f_dc_2', 'f_rest_0', 'f_rest_1', 'f_rest_2', 'f_rest_3', 'f_rest_4', \
'f_rest_5', 'f_rest_6', 'f_rest_7', 'f_rest_8', 'opacity', 'scale_0']
    """
    return FIELDS[:9] + [f"f_rest_{k}" for k in range(3 * rest)] + FIELDS[9:]


COMMENT = "dioramic splats: metres, +X right, +Y up, the photo's camera at the origin looking down -Z"
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, np.float32(_EPS), np.float32(1.0 - _EPS))
    return np.log(p / (np.float32(1.0) - p))


def to_records(splats: Splats) -> np.ndarray:
    """The splats as the PLY's (N, 17 + 3 K) little-endian float32 rows, `fields(K)` in order (K: the
    higher harmonics per channel)."""
    rest = 0 if splats.sh is None else splats.sh.shape[1]
    table = np.empty((len(splats), len(FIELDS) + 3 * rest), dtype="<f4")
    table[:, 0:3] = splats.means
    table[:, 3:6] = splats.normals
    table[:, 6:9] = (splats.colours - np.float32(0.5)) / np.float32(SH_C0)
    if splats.sh is not None:  # per channel, its coefficients in order
        table[:, 9 : 9 + 3 * rest] = splats.sh.transpose(0, 2, 1).reshape(len(splats), 3 * rest)
    end = 9 + 3 * rest
    table[:, end] = _logit(splats.opacities)
    table[:, end + 1 : end + 4] = np.log(np.maximum(splats.scales, np.float32(1e-30)))
    table[:, end + 4 : end + 8] = splats.rotations
    return table


def header(count: int, rest: int = 0) -> bytes:
    """The PLY header of `count` splats with `rest` higher harmonics per channel."""
    lines = ["ply", "format binary_little_endian 1.0", f"comment {COMMENT}", f"element vertex {count}"]
    lines += [f"property float {name}" for name in fields(rest)]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def write_ply(splats: Splats, path: str | Path) -> Path:
    """Write `splats` as a 3DGS binary PLY at `path`, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(header(len(splats), 0 if splats.sh is None else splats.sh.shape[1]))
        fh.write(memoryview(to_records(splats)))  # 68 bytes a splat (+ 12 per harmonic), without a copy
    return path


def read_ply(path: str | Path) -> Splats:
    """Read a 3DGS PLY (ours, or a trainer's: binary little-endian with at least the `FIELDS` but the
    normals, which may be missing), with its higher harmonics where it has them (degree 1 to 3)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the splat file ({exc.strerror})") from None
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply\n") or end < 0:
        raise InputError(f"{path}: not a PLY file")
    lines = data[:end].decode("ascii", "replace").splitlines()
    if "format binary_little_endian 1.0" not in lines:
        raise InputError(f"{path}: only binary little-endian splat PLYs are read")
    count, names, in_vertex = 0, [], False
    for line in lines:
        words = line.split()
        if words[:1] == ["element"]:
            in_vertex = words[1] == "vertex"
            count = int(words[2]) if in_vertex else count
        elif words[:1] == ["property"] and in_vertex:
            if words[1] != "float":
                raise InputError(f"{path}: splat property {words[-1]} is not a float")
            names.append(words[2])
    missing = [n for n in FIELDS if n not in names and n not in ("nx", "ny", "nz")]
    if missing:
        raise InputError(f"{path}: not a 3DGS splat file (missing {', '.join(missing)})")
    table = np.frombuffer(data, dtype=[(n, "<f4") for n in names], count=count, offset=end + 11)

    def stack(fields: list[str]) -> np.ndarray:
        return np.stack([table[f] for f in fields], axis=1).astype(np.float32)

    normals = stack(["nx", "ny", "nz"]) if "nx" in names else np.zeros((count, 3), np.float32)
    rest = sum(1 for n in names if n.startswith("f_rest_")) // 3
    sh = None
    if rest in (3, 8, 15):
        sh = stack([f"f_rest_{k}" for k in range(3 * rest)]).reshape(count, 3, rest).transpose(0, 2, 1)
        sh = np.ascontiguousarray(sh)
    rotations = stack([f"rot_{k}" for k in range(4)])
    rotations /= np.maximum(np.linalg.norm(rotations, axis=1, keepdims=True), 1e-12)
    return Splats(
        means=stack(["x", "y", "z"]),
        normals=normals,
        colours=(0.5 + SH_C0 * stack([f"f_dc_{k}" for k in range(3)])).astype(np.float32),
        opacities=(1.0 / (1.0 + np.exp(-table["opacity"].astype(np.float64)))).astype(np.float32),
        scales=np.exp(stack([f"scale_{k}" for k in range(3)])).astype(np.float32),
        rotations=rotations,
        sh=sh,
    )
