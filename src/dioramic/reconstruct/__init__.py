"""Several photos or a video of an object -> camera poses, a fused textured 3D model, a 360-degree spin.

    images (inputs) -> poses and sparse points (sfm, pycolmap) -> undistorted views (model)
      -> depth per view (stereo, OpenCV SGBM) -> one surface (fusion, Open3D TSDF) -> decimation
      -> texture atlas cut from the photos (texture) -> placed in a view's camera (placement)
      -> Scene -> scene.glb, sparse/ (COLMAP, nerfstudio), holdout/, video.mp4, report.json (run)

    >>> from dioramic.reconstruct import ReconstructOptions, reconstruct      # doctest: +SKIP
    >>> result = reconstruct(["photos/"], "out", ReconstructOptions(holdout=4))  # doctest: +SKIP
    >>> result.report["registered"], result.scene.triangle_count               # doctest: +SKIP
    (16, 200000)

Needs the `reconstruct` extra (pycolmap, open3d); everything runs on the CPU. The heavy modules are
imported when used, so importing this package is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "reconstruct": "dioramic.reconstruct.run",
    "ReconstructOptions": "dioramic.reconstruct.run",
    "ReconstructResult": "dioramic.reconstruct.run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dioramic.reconstruct' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
