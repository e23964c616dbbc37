"""The 3DGS PLY of Kerbl et al. 2023: the splat format every splat viewer and trainer reads.

Binary little-endian, one ``vertex`` element per splat, every property a float::

    x y z                 centre (metres, the scene's coordinates: those of scene.glb)
    nx ny nz              unit normal of the surface the splat lies on (3DGS trainers write zeros)
    f_dc_0 f_dc_1 f_dc_2  colour as the degree-0 spherical harmonic: colour = 0.5 + SH_C0 * f_dc
    opacity               logit of the peak opacity: opacity = 1 / (1 + exp(-value))
    scale_0 scale_1 scale_2   natural log of the standard deviations along the rotation's axes
    rot_0 rot_1 rot_2 rot_3   rotation quaternion w, x, y, z (unit length)

No higher-degree harmonics (``f_rest_*``): the colours do not change with the view. Readers that
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
"""The properties of a splat, in file order."""
COMMENT = "dioramic splats: metres, +X right, +Y up, the photo's camera at the origin looking down -Z"
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, np.float32(_EPS), np.float32(1.0 - _EPS))
    return np.log(p / (np.float32(1.0) - p))


def to_records(splats: Splats) -> np.ndarray:
    """The splats as the PLY's (N, 17) little-endian float32 rows, `FIELDS` in order."""
    table = np.empty((len(splats), len(FIELDS)), dtype="<f4")
    table[:, 0:3] = splats.means
    table[:, 3:6] = splats.normals
    table[:, 6:9] = (splats.colours - np.float32(0.5)) / np.float32(SH_C0)
    table[:, 9] = _logit(splats.opacities)
    table[:, 10:13] = np.log(np.maximum(splats.scales, np.float32(1e-30)))
    table[:, 13:17] = splats.rotations
    return table


def header(count: int) -> bytes:
    """The PLY header of `count` splats."""
    lines = ["ply", "format binary_little_endian 1.0", f"comment {COMMENT}", f"element vertex {count}"]
    lines += [f"property float {name}" for name in FIELDS]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def write_ply(splats: Splats, path: str | Path) -> Path:
    """Write `splats` as a 3DGS binary PLY at `path`, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(header(len(splats)))
        fh.write(memoryview(to_records(splats)))  # 68 bytes a splat, written without a copy
    return path


def read_ply(path: str | Path) -> Splats:
    """Read a 3DGS PLY (ours, or a trainer's: binary little-endian with at least the `FIELDS` but the
    normals, which may be missing); higher-degree harmonics are ignored."""
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
    rotations = stack([f"rot_{k}" for k in range(4)])
    rotations /= np.maximum(np.linalg.norm(rotations, axis=1, keepdims=True), 1e-12)
    return Splats(
        means=stack(["x", "y", "z"]),
        normals=normals,
        colours=(0.5 + SH_C0 * stack([f"f_dc_{k}" for k in range(3)])).astype(np.float32),
        opacities=(1.0 / (1.0 + np.exp(-table["opacity"].astype(np.float64)))).astype(np.float32),
        scales=np.exp(stack([f"scale_{k}" for k in range(3)])).astype(np.float32),
        rotations=rotations,
    )
