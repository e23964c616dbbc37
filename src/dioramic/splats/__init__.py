"""Gaussian splats of a scene: one flat splat per texel-sized piece of every textured layer.

    >>> from dioramic.splats import splats_from_scene, write_splats   # doctest: +SKIP
    >>> splats = splats_from_scene(scene, max_splats=2_000_000)        # doctest: +SKIP
    >>> write_splats(splats, "out/splats.ply")                         # doctest: +SKIP

`splats_from_scene` (`dioramic.splats.build`) works on the public `Scene` meshes only, so the scene of
one photo and a reconstructed model get their splats the same way. `write_splats` writes the standard
3DGS binary PLY of Kerbl et al. 2023 (`dioramic.splats.ply`) or, for a name ending in ``.spz``, the
compact gzip-compressed SPZ format (`dioramic.splats.spz`). `dioramic.splats.refine` trains them
further against photos on a CUDA GPU (optional: gsplat and PyTorch).

Coordinates are the scene's, those of scene.glb: metres, +X right, +Y up, the photo's camera at the
origin looking down -Z (see `dioramic.types`). A splat-trained file (COLMAP's frame, Y down) usually
needs a 180-degree turn about X in a viewer; ours does not, and is the right way up in three.js.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SH_C0 = 0.28209479177387814
"""The degree-0 spherical harmonic: a colour c (0..1) is stored as f_dc = (c - 0.5) / SH_C0."""
DEFAULT_MAX_SPLATS = 2_000_000
"""Default splat budget: a 12 MP photo's scene is cut into pieces of about 3 x 3 texels (4 texels of
its 4096-texel texture per pixel of a 1280 px video frame: no detail of the video is lost), 2M splats,
136 MB of PLY, which browsers (Spark, SuperSplat) load; smaller scenes get one splat per texel."""


@dataclass(frozen=True)
class Splats:
    """Gaussian splats: N anisotropic 3D Gaussians with a colour and an opacity each."""

    means: np.ndarray
    """(N, 3) float32 centres, metres, the scene's coordinates."""
    normals: np.ndarray
    """(N, 3) float32 unit normals of the surface each splat lies on (towards the views that made it)."""
    colours: np.ndarray
    """(N, 3) float32 sRGB colours in 0..1 (the degree-0 spherical harmonic, see `SH_C0`)."""
    opacities: np.ndarray
    """(N,) float32 peak opacities in (0, 1)."""
    scales: np.ndarray
    """(N, 3) float32 standard deviations in metres along the rotation's x, y and z axes (z: the normal,
    tiny: the splats are flat)."""
    rotations: np.ndarray
    """(N, 4) float32 unit quaternions w, x, y, z: the world-from-splat rotation."""
    sh: np.ndarray | None = None
    """(N, K, 3) float32 the higher-degree spherical harmonics of the colour (K = 3, 8 or 15 for
    degree 1, 2 or 3), in the 3DGS convention (`dioramic.splats.harmonics`): seen along the unit
    direction d from a camera, a splat's colour is `colours` + sum_k Y_k(d) sh[k]. None: the same
    colour from every side."""

    def __post_init__(self) -> None:
        n = len(self.means)
        shapes = {
            "means": (n, 3),
            "normals": (n, 3),
            "colours": (n, 3),
            "opacities": (n,),
            "scales": (n, 3),
            "rotations": (n, 4),
        }
        for name, shape in shapes.items():
            value = getattr(self, name)
            if value.shape != shape or value.dtype != np.float32:
                raise ValueError(f"Splats.{name} must be {shape} float32, got {value.shape} {value.dtype}")
        sh = self.sh
        if sh is not None and (sh.dtype != np.float32 or sh.ndim != 3 or sh.shape[0] != n or sh.shape[2] != 3
                               or sh.shape[1] not in (3, 8, 15)):  # fmt: skip
            raise ValueError(f"Splats.sh must be (N, 3 | 8 | 15, 3) float32, got {sh.shape} {sh.dtype}")

    @property
    def degree(self) -> int:
        """The degree of the colour's spherical harmonics (0: one colour from every side)."""
        return 0 if self.sh is None else {3: 1, 8: 2, 15: 3}[self.sh.shape[1]]

    def __len__(self) -> int:
        return len(self.means)

    def subset(self, keep: np.ndarray) -> Splats:
        """The splats selected by `keep` (a boolean mask or indices)."""
        return Splats(
            self.means[keep],
            self.normals[keep],
            self.colours[keep],
            self.opacities[keep],
            self.scales[keep],
            self.rotations[keep],
            None if self.sh is None else self.sh[keep],
        )

    @staticmethod
    def concatenate(parts: list[Splats]) -> Splats:
        """The splats of `parts`, one after another."""
        if not parts:
            return Splats(*(np.zeros(s, np.float32) for s in ((0, 3), (0, 3), (0, 3), (0,), (0, 3), (0, 4))))
        terms = max(0 if p.sh is None else p.sh.shape[1] for p in parts)
        sh = None
        if terms:  # the parts without (or with fewer) harmonics get zeros: the same colour from every side
            sh = np.zeros((sum(len(p) for p in parts), terms, 3), np.float32)
            start = 0
            for p in parts:
                if p.sh is not None:
                    sh[start : start + len(p), : p.sh.shape[1]] = p.sh
                start += len(p)
        return Splats(
            *(
                np.concatenate([getattr(p, name) for p in parts])
                for name in ("means", "normals", "colours", "opacities", "scales", "rotations")
            ),
            sh,
        )


def splats_from_scene(scene: object, max_splats: int = DEFAULT_MAX_SPLATS) -> Splats:
    """The splats of every textured layer of `scene` (see `dioramic.splats.build`)."""
    from dioramic.splats.build import splats_from_scene as build

    return build(scene, max_splats)  # type: ignore[arg-type]


def write_splats(splats: Splats, path: object) -> object:
    """Write `splats` to `path` atomically: SPZ for a name ending in .spz, else the 3DGS PLY."""
    from pathlib import Path

    path = Path(str(path))
    if path.name.lower().endswith(".spz"):
        from dioramic.splats.spz import write_spz

        return write_spz(splats, path)
    from dioramic.splats.ply import write_ply

    return write_ply(splats, path)


__all__ = ["DEFAULT_MAX_SPLATS", "SH_C0", "Splats", "splats_from_scene", "write_splats"]
