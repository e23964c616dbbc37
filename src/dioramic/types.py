"""Frozen dataclasses passed between the stages: Photo -> DepthMap -> Scene -> Pose -> frames.

Coordinate convention (the glTF / OpenGL one, used everywhere): metres, right-handed, +X right,
+Y up, and the photo's camera at the origin looking down -Z. A pixel (u, v) (column, row, origin at the
top-left corner of the top-left pixel, so pixel centres sit at +0.5) at depth d (distance along the
optical axis) is the point ``((u - cx) / fx * d, -(v - cy) / fy * d, -d)``.

Texture coordinates follow glTF: origin at the top-left of the image, u to the right, v downwards, both
in [0, 1]; pixel (u, v) is sampled at ``((u) / W, (v) / H)`` for its corner and ``+0.5`` for its centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Default vertical field of view when a photo carries no focal length: a 35 mm-equivalent focal
# length of 28 mm (a typical phone main camera) gives 46.4 degrees vertically on a 3:2 / 4:3 frame.
DEFAULT_FOCAL_35MM = 28.0
_FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)


@dataclass(frozen=True)
class Photo:
    """A photo ready for the pipeline."""

    rgb: np.ndarray
    """(H, W, 3) uint8, sRGB, upright (EXIF orientation already applied)."""
    source: Path | None = None
    """The file it was read from, if any (backends that read embedded data open it again)."""
    alpha: np.ndarray | None = None
    """(H, W) uint8 opacity when the file had transparency, else None."""
    focal_length_35mm: float | None = None
    """35 mm-equivalent focal length in mm from EXIF, if the file states one (or it can be derived)."""

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3 or self.rgb.dtype != np.uint8:
            raise ValueError(f"Photo.rgb must be (H, W, 3) uint8, got {self.rgb.shape} {self.rgb.dtype}")
        if self.alpha is not None and self.alpha.shape != self.rgb.shape[:2]:
            raise ValueError("Photo.alpha must be (H, W) like rgb")

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def name(self) -> str:
        """A short name for messages and output folders: the file's stem, or 'photo'."""
        return self.source.stem if self.source is not None else "photo"


@dataclass(frozen=True)
class DepthMap:
    """Per-pixel depth of a photo."""

    depth: np.ndarray
    """(H, W) float32, finite and > 0, larger = farther. Metres when `metric`, else relative depth in
    the near/far convention of `dioramic.depth.convert` (nearest surface about `near`)."""
    metric: bool = False
    """True when `depth` is in real metres (from a metric backend, a depth sensor or the user)."""
    backend: str = ""
    """Name of the backend that produced it."""

    def __post_init__(self) -> None:
        if self.depth.ndim != 2 or self.depth.dtype != np.float32:
            raise ValueError(
                f"DepthMap.depth must be (H, W) float32, got {self.depth.shape} {self.depth.dtype}"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.depth.shape[0]), int(self.depth.shape[1]))


@dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics of an image of `width` x `height` pixels (all values in pixels)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_fov(cls, width: int, height: int, fov_y_deg: float) -> Camera:
        """Square pixels, centred principal point, the given vertical field of view in degrees."""
        if not 1.0 <= fov_y_deg <= 170.0:
            raise ValueError(f"field of view must be within 1..170 degrees, got {fov_y_deg}")
        f = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2.0)
        return cls(width, height, f, f, width / 2.0, height / 2.0)

    @classmethod
    def from_focal_35mm(cls, width: int, height: int, focal_35mm: float | None) -> Camera:
        """From a 35 mm-equivalent focal length (diagonal convention), or DEFAULT_FOCAL_35MM if None."""
        f35 = focal_35mm if focal_35mm and focal_35mm > 0 else DEFAULT_FOCAL_35MM
        f = f35 / _FULL_FRAME_DIAGONAL_MM * math.hypot(width, height)
        return cls(width, height, f, f, width / 2.0, height / 2.0)

    @property
    def fov_y(self) -> float:
        """Vertical field of view in radians."""
        return 2.0 * math.atan(0.5 * self.height / self.fy)

    @property
    def fov_x(self) -> float:
        """Horizontal field of view in radians."""
        return 2.0 * math.atan(0.5 * self.width / self.fx)

    @property
    def aspect(self) -> float:
        return self.width / self.height

    @property
    def K(self) -> np.ndarray:  # noqa: N802 - the usual name of the intrinsic matrix
        """(3, 3) float64 intrinsic matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def resized(self, width: int, height: int) -> Camera:
        """The same camera for an image resampled to `width` x `height`."""
        sx, sy = width / self.width, height / self.height
        return Camera(width, height, self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy)


@dataclass(frozen=True)
class Mesh:
    """One textured triangle mesh (a layer of the scene)."""

    name: str
    """Node/mesh name in exports, e.g. 'foreground' or 'background'."""
    vertices: np.ndarray
    """(N, 3) float32 positions in metres, world coordinates (see module docstring)."""
    uvs: np.ndarray
    """(N, 2) float32 texture coordinates, glTF convention (origin top-left, v down)."""
    faces: np.ndarray
    """(M, 3) uint32 vertex indices, counter-clockwise as seen from the photo's camera."""
    texture: np.ndarray
    """(Ht, Wt, 3) or (Ht, Wt, 4) uint8 image the uvs index; RGBA where edges are soft."""

    def __post_init__(self) -> None:
        n = len(self.vertices)
        if self.vertices.shape != (n, 3) or self.uvs.shape != (n, 2):
            raise ValueError("Mesh.vertices must be (N, 3) and Mesh.uvs (N, 2)")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3:
            raise ValueError("Mesh.faces must be (M, 3)")


HIDDEN_LAYER_PREFIX = "hidden"
"""Meshes named ``hidden-1``, ``hidden-2``, ... hold what the photo does not show: the surfaces a
scene rebuilds behind its depth edges (`dioramic.scene`). Renderers count what of them a frame shows."""


def is_hidden_layer(name: str) -> bool:
    """Whether a mesh of this name is a hidden layer (see `HIDDEN_LAYER_PREFIX`).

    >>> is_hidden_layer("hidden-2"), is_hidden_layer("surface")
    (True, False)
    """
    return name.startswith(HIDDEN_LAYER_PREFIX + "-")


SURFACE_LAYER = "surface"
"""The mesh of a single-photo scene that shows the photo itself (`dioramic.scene`)."""


def holds_photo_alpha(name: str) -> bool:
    """Whether a mesh of this name carries the photo's own transparency in its texture's alpha (the
    surface and the hidden layers behind it; not the silhouettes, whose alpha is a soft edge over
    the layers behind them). Where such a texture is transparent the photo shows nothing (a cut-out's
    empty surroundings): renderers draw the background colour there, and it is no hole.

    >>> holds_photo_alpha("surface"), holds_photo_alpha("hidden-1"), holds_photo_alpha("silhouettes")
    (True, True, False)
    """
    return name == SURFACE_LAYER or is_hidden_layer(name)


@dataclass(frozen=True)
class ViewCircle:
    """Where the input views of a multi-view reconstruction stood around the model: the circle that
    the `spin` motion follows (scene coordinates, metres)."""

    centre: np.ndarray
    """(3,) float64 the model's centre: the point the views look at, the spin's pivot."""
    axis: np.ndarray
    """(3,) float64 unit vector, the model's up: the normal of the circle the views stood on."""
    radius: float
    """Mean distance of the views from the axis, > 0."""
    height: float
    """Mean height of the views above the centre, along `axis` (negative: below it)."""
    cameras: np.ndarray | None = None
    """(N, 3) float64 where each input view's camera stood (the `capture` motion flies along them);
    None when unknown (a scene file written before they were stored)."""

    def __post_init__(self) -> None:
        centre = np.asarray(self.centre, dtype=np.float64)
        axis = np.asarray(self.axis, dtype=np.float64)
        if centre.shape != (3,) or axis.shape != (3,) or not np.isfinite([*centre, *axis]).all():
            raise ValueError("ViewCircle.centre and .axis must be finite (3,) vectors")
        if not abs(float(np.linalg.norm(axis)) - 1.0) < 1e-6:
            raise ValueError(f"ViewCircle.axis must be a unit vector, got {axis.tolist()}")
        if not (math.isfinite(self.radius) and self.radius > 0 and math.isfinite(self.height)):
            raise ValueError(f"ViewCircle.radius must be > 0, got {self.radius}")
        object.__setattr__(self, "centre", centre)
        object.__setattr__(self, "axis", axis)
        if self.cameras is not None:
            cameras = np.asarray(self.cameras, dtype=np.float64)
            if cameras.ndim != 2 or cameras.shape[1] != 3 or not np.isfinite(cameras).all():
                raise ValueError("ViewCircle.cameras must be finite (N, 3) positions")
            object.__setattr__(self, "cameras", cameras)


@dataclass(frozen=True)
class PhotoSurface:
    """One input photo of a reconstruction with the surface it sees, for view-dependent rendering: near
    this photo's viewpoint a renderer shows the photo itself, draped over its own surface, blended
    with its neighbours' (see `dioramic.render.blend`). Scene coordinates, metres."""

    name: str
    """The photo's file name."""
    image: np.ndarray
    """(H, W, 4) uint8 the undistorted photo; alpha 255 where its surface was measured (stereo or
    the fused model), 0 where the surface was filled in (a guess, yielding to measured surfaces)."""
    vertices: np.ndarray
    """(N, 3) float32 the photo's surface (its depth map, cut at depth jumps, decimated)."""
    uvs: np.ndarray
    """(N, 2) float32 where each vertex lies in `image` (glTF convention)."""
    faces: np.ndarray
    """(M, 3) uint32 vertex indices."""
    position: np.ndarray
    """(3,) float64 the photo's camera centre."""

    def __post_init__(self) -> None:
        n = len(self.vertices)
        if self.image.ndim != 3 or self.image.shape[2] != 4 or self.image.dtype != np.uint8:
            raise ValueError("PhotoSurface.image must be (H, W, 4) uint8")
        if self.vertices.shape != (n, 3) or self.uvs.shape != (n, 2) or self.faces.ndim != 2:
            raise ValueError("PhotoSurface needs (N, 3) vertices, (N, 2) uvs and (M, 3) faces")
        object.__setattr__(self, "position", np.asarray(self.position, dtype=np.float64))


@dataclass(frozen=True)
class Scene:
    """The 3D scene built from one photo (or reconstructed from several, see `views`)."""

    meshes: tuple[Mesh, ...]
    """Layers, farthest first (background, then foreground)."""
    camera: Camera
    """The photo's own camera, at the origin looking down -Z."""
    near: float
    """Depth (metres) of the nearest geometry."""
    far: float
    """Depth (metres) of the farthest geometry."""
    focus: float
    """Depth (metres) of the subject: motions orbit and pivot around the point (0, 0, -focus)."""
    views: ViewCircle | None = None
    """Where the input views stood, for a model reconstructed from several photos or a video
    (`dioramic.reconstruct`); None for a scene built from one photo."""
    photos: tuple[PhotoSurface, ...] = ()
    """A reconstruction's photos with their own surfaces: renderers that can blend them show these
    near the photos' viewpoints (the meshes remain what exports hold). Empty for other scenes."""
    reach: tuple[float, float] | None = None
    """The largest camera move the scene was built for, (sideways, along the view axis) as fractions
    of `focus` (`dioramic.scene.SceneOptions.lateral_move`, `axial_move`): how far its hidden layers
    and its margin beyond the frame reach. A move that goes farther may look past them. None: not
    known (a reconstruction, a glTF file from elsewhere)."""

    @property
    def triangle_count(self) -> int:
        return int(sum(len(m.faces) for m in self.meshes))


@dataclass(frozen=True)
class Pose:
    """Where the camera is and how the object is placed at one instant of a motion."""

    camera_position: np.ndarray
    """(3,) float64 camera centre in world coordinates, metres."""
    camera_rotation: np.ndarray
    """(3, 3) float64 world-from-camera rotation: its columns are the camera's right (+x), up (+y)
    and backward (+z) axes in world coordinates; the camera looks along -z."""
    fov_y: float
    """Vertical field of view in radians."""
    object_matrix: np.ndarray = field(default_factory=lambda: np.eye(4))
    """(4, 4) float64 world-from-object transform applied to the scene (identity = as built)."""

    def world_matrix(self) -> np.ndarray:
        """(4, 4) world-from-camera matrix: where the camera stands (the inverse of `view_matrix`)."""
        matrix = np.eye(4)
        matrix[:3, :3] = self.camera_rotation
        matrix[:3, 3] = self.camera_position
        return matrix

    def view_matrix(self) -> np.ndarray:
        """(4, 4) camera-from-world matrix."""
        view = np.eye(4)
        view[:3, :3] = self.camera_rotation.T
        view[:3, 3] = -self.camera_rotation.T @ self.camera_position
        return view
