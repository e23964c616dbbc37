"""The 'embedded' depth backend: depth that a phone stored inside the photo file.

Read from `Photo.source`:

* JPEG with Google "GDepth" XMP (the Google Depth Map format of the Camera app's lens blur and of
  many Android phones): XMP in APP1 with the namespace ``http://ns.google.com/photos/1.0/depthmap/``,
  whose ``GDepth:Data`` (base64 PNG or JPEG, usually in the extended XMP chunks) holds the range image
  and ``GDepth:Format``/``Near``/``Far`` how to decode it. Result: metric depth.
* JPEG with Android "Dynamic Depth" (Camera XMP ``DepthMap`` of the first camera, the depth image
  appended after the primary JPEG and located through ``Container:Directory``). Result: metric depth.
* HEIC/HEIF with a depth auxiliary image (iPhone Portrait mode; needs the `heic` extra, pillow-heif).
  Disparity images (Apple's usual) give an 'inverse' prediction in 1/m; depth images that state
  their near/far range give metric depth.

The photo handed to `predict` is upright; the depth image is stored like the file's pixels, so it is
turned by the file's own orientation (EXIF for JPEG; the HEIF item transforms for HEIC) and resized.
"""

from __future__ import annotations

import base64
import io
import logging
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from dioramic.depth.base import DEPTH_BACKENDS, DepthBackend, Prediction, PredictionKind
from dioramic.depth.files import ASPECT_TOLERANCE, resize_values
from dioramic.errors import InputError, MissingDependencyError, UsageError
from dioramic.types import Camera, Photo

log = logging.getLogger(__name__)

GDEPTH_NS = "http://ns.google.com/photos/1.0/depthmap/"
DD_DEPTHMAP_NS = "http://ns.google.com/photos/dd/1.0/depthmap/"
CONTAINER_ITEM_NS = "http://ns.google.com/photos/1.0/container/item/"
XMP_NS = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXTENSION_NS = b"http://ns.adobe.com/xmp/extension/\x00"
_MAX_EXTENDED_XMP = 64 * 1024 * 1024
"""Extended XMP larger than this (bytes) is ignored (a broken or hostile length field)."""
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif")

# HEIF depth representation types (ISO/IEC 23008-2 depth representation information SEI).
_UNIFORM_INVERSE_Z, _UNIFORM_DISPARITY, _UNIFORM_Z, _NONUNIFORM_DISPARITY = 0, 1, 2, 3


# --- orientation -----------------------------------------------------------------------------------


def apply_exif_orientation(values: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an (h, w) array stored with EXIF `orientation` (1..8) upright, as Pillow's
    `ImageOps.exif_transpose` turns the photo (6: 90 degrees clockwise, 8: counter-clockwise,
    2/4: mirrored, 3: 180 degrees, 5/7: transposed).
    """
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1, :],
        5: lambda a: a.T,
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 2).T,
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(values)) if op else values


def _exif_orientation(path: Path) -> int:
    from PIL import Image

    try:
        with Image.open(path) as image:
            value = int(image.getexif().get(0x0112, 1))
    except Exception:  # malformed EXIF is common: keep the map as stored
        return 1
    return value if 1 <= value <= 8 else 1


def _fit(values: np.ndarray, photo: Photo, path: Path) -> np.ndarray:
    """Resize an upright depth image to the photo, refusing one of another framing."""
    (h, w), (ph, pw) = values.shape, (photo.height, photo.width)
    if abs(w / h - pw / ph) / (pw / ph) > ASPECT_TOLERANCE:
        raise InputError(
            f"{path}: the embedded depth map is {w}x{h} but the photo is {pw}x{ph} (different framing: "
            "was the photo cropped after capture?); choose another depth backend with --depth-backend"
        )
    return resize_values(values, ph, pw)


# --- JPEG: XMP ------------------------------------------------------------------------------------


def _jpeg_app1_payloads(data: bytes) -> list[bytes]:
    """Payloads of the APP1 segments of a JPEG, in file order (segments before the image data)."""
    if data[:2] != b"\xff\xd8":
        return []
    out, pos = [], 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # segments without a length
            pos += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: no metadata after this
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            break
        if marker == 0xE1:
            out.append(data[pos + 4 : pos + 2 + length])
        pos += 2 + length
    return out


def _jpeg_xmp_packets(data: bytes) -> list[bytes]:
    """The standard XMP packet and the reassembled extended XMP (if any) of a JPEG."""
    standard: list[bytes] = []
    chunks: dict[bytes, list[tuple[int, int, bytes]]] = {}
    for payload in _jpeg_app1_payloads(data):
        if payload.startswith(XMP_NS):
            standard.append(payload[len(XMP_NS) :])
        elif payload.startswith(XMP_EXTENSION_NS) and len(payload) >= len(XMP_EXTENSION_NS) + 40:
            head = len(XMP_EXTENSION_NS)
            guid = payload[head : head + 32]
            full = int.from_bytes(payload[head + 32 : head + 36], "big")
            offset = int.from_bytes(payload[head + 36 : head + 40], "big")
            if full <= _MAX_EXTENDED_XMP and offset < full:
                chunks.setdefault(guid, []).append((offset, full, payload[head + 40 :]))
    packets = list(standard)
    wanted = None
    for packet in standard:
        match = re.search(rb'HasExtendedXMP\s*=\s*["\']([0-9A-Fa-f]{32})', packet) or re.search(
            rb"HasExtendedXMP>\s*([0-9A-Fa-f]{32})", packet
        )
        if match:
            wanted = match.group(1)
    for guid, parts in chunks.items():
        if wanted is not None and guid != wanted:
            continue
        full = parts[0][1]
        buffer = bytearray(full)
        for offset, _, chunk in sorted(parts):
            buffer[offset : offset + len(chunk)] = chunk
        packets.append(bytes(buffer[:full]))
    return packets


def _xmp_root(packet: bytes) -> ET.Element | None:
    start = packet.find(b"<x:xmpmeta")
    end = packet.rfind(b"</x:xmpmeta>")
    if start < 0 or end < 0:
        start, end = packet.find(b"<rdf:RDF"), packet.rfind(b"</rdf:RDF>")
        if start < 0 or end < 0:
            return None
        end += len(b"</rdf:RDF>")
    else:
        end += len(b"</x:xmpmeta>")
    try:
        return ET.fromstring(packet[start:end])
    except ET.ParseError:
        return None


def _xmp_records(packets: list[bytes], namespace: str) -> list[dict[str, str]]:
    """Properties of `namespace`, one dict per XMP element that carries some (as attributes or as
    simple child elements), in document order."""
    prefix = "{" + namespace + "}"
    records: list[dict[str, str]] = []
    for packet in packets:
        root = _xmp_root(packet)
        if root is None:
            continue
        for element in root.iter():
            record = {k[len(prefix) :]: v for k, v in element.attrib.items() if k.startswith(prefix)}
            for child in element:
                if child.tag.startswith(prefix) and len(child) == 0 and child.text and child.text.strip():
                    record[child.tag[len(prefix) :]] = child.text.strip()
            if record:
                records.append(record)
    return records


# --- JPEG: decoding the range image -----------------------------------------------------------------


def _decode_range_image(blob: bytes, path: Path) -> np.ndarray:
    """(h, w) float64 in [0, 1] from an embedded PNG/JPEG range image (8- or 16-bit)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(blob)) as image:
            mode = image.mode
            array = np.asarray(image.convert("L") if mode not in ("L", "I;16", "I;16B", "I") else image)
    except Exception as exc:  # any decoder failure is the file's fault
        raise InputError(f"{path}: the embedded depth image cannot be decoded ({exc})") from None
    top = 255.0 if array.dtype == np.uint8 else 65535.0
    return np.clip(array.astype(np.float64) / top, 0.0, 1.0)


def _range_to_depth(v: np.ndarray, fmt: str, near: float, far: float, path: Path) -> np.ndarray:
    """Google depth map decoding of v in [0, 1]: RangeInverse (v = 1 at `near`, uniform in 1/d) or
    RangeLinear (uniform in d); returns float64 depth in the units of near/far."""
    if not (math.isfinite(near) and math.isfinite(far) and 0 < near < far):
        raise InputError(f"{path}: the embedded depth map states near={near}, far={far}; need 0 < near < far")
    if fmt == "RangeInverse":
        return far * near / (far - v * (far - near))
    if fmt == "RangeLinear":
        return v * (far - near) + near
    raise InputError(f"{path}: unknown embedded depth format '{fmt}' (expected RangeInverse or RangeLinear)")


def _units_scale(units: str) -> float:
    return 0.001 if units.strip().lower() in ("mm", "millimeters", "millimetres") else 1.0


def _number(record: dict[str, str], key: str, path: Path) -> float:
    try:
        return float(record[key])
    except (KeyError, ValueError):
        raise InputError(f"{path}: the embedded depth metadata lacks a valid {key}") from None


def _gdepth(packets: list[bytes]) -> dict[str, str] | None:
    merged: dict[str, str] = {}
    for record in _xmp_records(packets, GDEPTH_NS):
        merged.update(record)
    return merged if "Data" in merged else None


def _dynamic_depth(data: bytes, packets: list[bytes]) -> tuple[dict[str, str], bytes] | None:
    """The first camera's DepthMap record and the bytes of its depth item, or None."""
    depth_maps = _xmp_records(packets, DD_DEPTHMAP_NS)
    items = [r for r in _xmp_records(packets, CONTAINER_ITEM_NS) if "Mime" in r]
    if not depth_maps or len(items) < 2:
        return None
    record = depth_maps[0]
    semantic = record.get("ItemSemantic", "Depth")
    # Items follow the primary image back to back (with optional padding): count from the file's end.
    try:
        sizes = [(int(r.get("Length", 0) or 0), int(r.get("Padding", 0) or 0)) for r in items[1:]]
    except ValueError:
        return None
    position = len(data) - sum(length + padding for length, padding in sizes)
    for item, (length, padding) in zip(items[1:], sizes, strict=True):
        position += padding
        if item.get("Semantic") == semantic and length > 0:
            blob = data[max(position, 0) : position + length]
            # the item must really be there (an editor may keep the XMP but drop the appended items)
            return (record, blob) if blob.startswith((b"\x89PNG", b"\xff\xd8")) else None
        position += length
    return None


def _jpeg_depth(path: Path) -> tuple[np.ndarray, str] | None:
    """Metric depth (h, w) float64 (stored orientation) and the measure type from a JPEG, or None."""
    data = path.read_bytes()
    packets = _jpeg_xmp_packets(data)
    if not packets:
        return None
    record = _gdepth(packets)
    if record is not None:
        try:
            blob = base64.b64decode(record["Data"])
        except ValueError:
            raise InputError(
                f"{path}: the GDepth:Data of the embedded depth map is not valid base64"
            ) from None
    else:
        found = _dynamic_depth(data, packets)
        if found is None:
            return None
        record, blob = found
    v = _decode_range_image(blob, path)
    scale = _units_scale(record.get("Units", "m"))
    near, far = _number(record, "Near", path) * scale, _number(record, "Far", path) * scale
    depth = _range_to_depth(v, record.get("Format", "RangeInverse"), near, far, path)
    return depth, record.get("MeasureType", "OpticalAxis")


def _ray_to_axis(depth: np.ndarray, photo: Photo) -> np.ndarray:
    """Distances along each pixel's ray -> depth along the optical axis, for (H, W) maps."""
    cam = Camera.from_focal_35mm(photo.width, photo.height, photo.focal_length_35mm)
    x = (np.arange(photo.width) + 0.5 - cam.cx) / cam.fx
    y = (np.arange(photo.height) + 0.5 - cam.cy) / cam.fy
    return (depth / np.sqrt(1.0 + x[None, :] ** 2 + y[:, None] ** 2)).astype(np.float32)


# --- HEIC -----------------------------------------------------------------------------------------


def _is_heif(head: bytes) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS


def _heif_depth_image(path: Path) -> tuple[Any, Any] | None:
    """(primary image, depth image) of a HEIF file, or None when it has no depth image."""
    try:
        import pillow_heif
    except ImportError:
        raise MissingDependencyError("pillow-heif", "heic", "depth in HEIC photos") from None
    try:
        heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=False)
        primary = heif[heif.primary_index]
        depth_images = primary.info.get("depth_images") or []
    except Exception as exc:  # libheif errors come as several exception types
        raise InputError(f"{path}: the HEIC file cannot be read ({exc})") from None
    return (primary, depth_images[0]) if depth_images else None


def _orientation_ops(transformations: object) -> tuple[tuple[str, int], ...]:
    ops = []
    for item in transformations or ():
        if isinstance(item, tuple) and len(item) >= 2 and item[0] in ("irot", "imir"):
            ops.append((str(item[0]), int(item[1])))
    return tuple(ops)


def _heif_transforms(image: Any) -> tuple[tuple[str, int], ...]:
    c_image = getattr(image, "_c_image", None)  # pillow-heif exposes no public accessor
    return _orientation_ops(getattr(c_image, "transformations", ()))


def _apply_heif_ops(values: np.ndarray, ops: tuple[tuple[str, int], ...]) -> np.ndarray:
    """Apply HEIF 'irot' (counter-clockwise degrees) and 'imir' in order; the mirror direction is
    libheif's `heif_transform_mirror_direction`: 0 flips top to bottom, 1 flips left to right."""
    for op, arg in ops:
        if op == "irot":
            values = np.rot90(values, (arg // 90) % 4)
        elif op == "imir":
            values = values[:, ::-1] if arg == 1 else values[::-1, :]
    return np.ascontiguousarray(values)


def _heic_prediction(path: Path, photo: Photo) -> Prediction | None:
    found = _heif_depth_image(path)
    if found is None:
        return None
    primary, depth_image = found
    array = np.asarray(depth_image)
    if array.ndim == 3:
        array = array[..., 0]
    top = 255.0 if array.dtype == np.uint8 else 65535.0
    v = array.astype(np.float64) / top
    # libheif applies each item's own transforms when decoding; a depth item without any was stored
    # in the primary's orientation before its transforms, so give it the primary's.
    if not _heif_transforms(depth_image):
        v = _apply_heif_ops(v, _heif_transforms(primary))
    kind: PredictionKind
    meta = depth_image.info.get("metadata") or {}
    rep = int(meta.get("representation_type", _UNIFORM_DISPARITY))
    z_near, z_far = meta.get("z_near"), meta.get("z_far")
    d_min, d_max = meta.get("d_min"), meta.get("d_max")
    if rep in (_UNIFORM_Z, _UNIFORM_INVERSE_Z) and z_near is not None and z_far is not None:
        if not 0 < z_near < z_far:
            raise InputError(f"{path}: the HEIC depth image states z_near={z_near}, z_far={z_far}")
        if rep == _UNIFORM_Z:
            values, kind = z_near + v * (z_far - z_near), "metric"
        else:
            values, kind = 1.0 / (1.0 / z_far + v * (1.0 / z_near - 1.0 / z_far)), "metric"
    elif rep in (_UNIFORM_Z, _UNIFORM_INVERSE_Z):
        values, kind = v, ("depth" if rep == _UNIFORM_Z else "inverse")
    else:
        if rep == _NONUNIFORM_DISPARITY:
            log.info("%s: non-uniform disparity read as uniform (its curve is not exposed by libheif)", path)
        has_range = d_min is not None and d_max is not None
        values = d_min + v * (d_max - d_min) if has_range else v  # disparity in 1/m when stated
        kind = "inverse"
    values = np.asarray(values, dtype=np.float32)
    if kind in ("metric", "depth"):
        values = np.where(values > 0, values, np.nan).astype(np.float32)
    return Prediction(_fit(values, photo, path), kind)


# --- backend --------------------------------------------------------------------------------------


def carries_depth(path: Path) -> bool:
    """Whether the file at `path` holds an embedded depth map this backend reads (never raises;
    decodes no pixels)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
        if head[:2] == b"\xff\xd8":
            data = Path(path).read_bytes()
            packets = _jpeg_xmp_packets(data)
            return _gdepth(packets) is not None or _dynamic_depth(data, packets) is not None
        if _is_heif(head):
            try:
                return _heif_depth_image(Path(path)) is not None
            except MissingDependencyError:
                log.info("%s may carry depth, but reading HEIC needs pillow-heif (the 'heic' extra)", path)
                return False
    except Exception:  # available() must never raise
        return False
    return False


@DEPTH_BACKENDS.register("embedded")
class EmbeddedDepth(DepthBackend):
    """Depth recorded by the phone inside the photo file (JPEG GDepth / Dynamic Depth, HEIC)."""

    name = "embedded"
    description = "depth stored in the photo by the phone (Android GDepth/Dynamic Depth JPEG, iPhone HEIC)"

    def available(self, photo: Photo | None = None) -> bool:
        return photo is not None and photo.source is not None and carries_depth(photo.source)

    def predict(self, photo: Photo) -> Prediction:
        """(H, W) float32: 'metric' depth in metres, or 'inverse' disparity for HEIC disparity maps."""
        path = photo.source
        if path is None or not Path(path).is_file():
            raise UsageError("the 'embedded' depth backend reads the photo file; this photo has none")
        path = Path(path)
        with open(path, "rb") as handle:
            head = handle.read(16)
        if _is_heif(head):
            prediction = _heic_prediction(path, photo)
        elif head[:2] == b"\xff\xd8":
            found = _jpeg_depth(path)
            prediction = None
            if found is not None:
                depth, measure = found
                depth = apply_exif_orientation(depth, _exif_orientation(path))
                values = _fit(np.where(depth > 0, depth, np.nan).astype(np.float32), photo, path)
                if measure == "OpticRay":
                    values = _ray_to_axis(values, photo)
                prediction = Prediction(values, "metric")
        else:
            prediction = None
        if prediction is None:
            raise InputError(
                f"{path}: the photo carries no embedded depth map (GDepth/Dynamic Depth JPEG or HEIC "
                "depth image); choose another depth backend"
            )
        return prediction
