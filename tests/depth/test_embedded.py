"""The 'embedded' depth backend on files built here byte by byte: JPEGs with Google GDepth XMP (standard
and extended XMP), Android Dynamic Depth JPEGs, and HEICs with a depth auxiliary image."""

from __future__ import annotations

import base64
import hashlib
import io
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from dioramic.depth import DEPTH_BACKENDS, DepthOptions, choose_backend
from dioramic.depth.embedded import EmbeddedDepth, apply_exif_orientation, carries_depth
from dioramic.errors import InputError, MissingDependencyError
from dioramic.photo import load_photo
from dioramic.types import Photo

XMP_NS = b"http://ns.adobe.com/xap/1.0/\x00"
EXT_NS = b"http://ns.adobe.com/xmp/extension/\x00"
RDF = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'


# --- JPEG builders ----------------------------------------------------------------------------------


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def plain_jpeg(width: int, height: int, orientation: int | None = None) -> bytes:
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[: height // 2, : width // 2] = (255, 0, 0)  # a marked corner, to see orientation
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    Image.fromarray(rgb).save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def with_app1(jpeg: bytes, payloads: list[bytes]) -> bytes:
    """Insert APP1 segments right after SOI."""
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + b"".join(segment(0xE1, p) for p in payloads) + jpeg[2:]


def xmp(description_attrs: str, body: str = "") -> bytes:
    return (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF {RDF}>'
        f'<rdf:Description rdf:about="" {description_attrs}>{body}</rdf:Description>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def png_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def gdepth_jpeg(
    width: int,
    height: int,
    depth_png: bytes,
    *,
    fmt: str = "RangeInverse",
    near: float = 0.5,
    far: float = 4.0,
    extended: bool = True,
    orientation: int | None = None,
    decoy_guid: bool = False,
    extra: str = "",
) -> bytes:
    """A JPEG carrying a Google depth map; with `extended`, GDepth:Data goes into extended XMP chunks
    (written in reverse order, so the reader must sort them by offset)."""
    ns = 'xmlns:GDepth="http://ns.google.com/photos/1.0/depthmap/"'
    common = f'GDepth:Format="{fmt}" GDepth:Near="{near}" GDepth:Far="{far}" GDepth:Mime="image/png" {extra}'
    data = base64.b64encode(depth_png).decode()
    if not extended:
        return with_app1(
            plain_jpeg(width, height, orientation), [XMP_NS + xmp(f'{ns} {common} GDepth:Data="{data}"')]
        )
    ext = xmp(f'{ns} GDepth:Data="{data}"')
    guid = hashlib.md5(ext).hexdigest().upper().encode()
    chunk = min(-(-len(ext) // 4), 65000)  # at least four chunks, each fitting a JPEG segment
    note = 'xmlns:xmpNote="http://ns.adobe.com/xmp/note/"'
    payloads = [XMP_NS + xmp(f'{ns} {note} {common} xmpNote:HasExtendedXMP="{guid.decode()}"')]
    pieces = [
        EXT_NS + guid + len(ext).to_bytes(4, "big") + offset.to_bytes(4, "big") + ext[offset : offset + chunk]
        for offset in range(0, len(ext), chunk)
    ]
    assert len(pieces) >= 3
    if decoy_guid:  # chunks of another extended packet (e.g. a gain map) must be ignored
        junk = xmp(f'{ns} GDepth:Data="AAAA"')
        pieces.insert(1, EXT_NS + b"F" * 32 + len(junk).to_bytes(4, "big") + bytes(4) + junk)
    return with_app1(plain_jpeg(width, height, orientation), payloads + pieces[::-1])


def range_inverse(v: np.ndarray, near: float, far: float) -> np.ndarray:
    return far * near / (far - v * (far - near))


def photo_of(path: Path, height: int, width: int) -> Photo:
    return Photo(rgb=np.zeros((height, width, 3), np.uint8), source=path)


# --- orientation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow(orientation: int) -> None:
    stored = np.arange(12, dtype=np.float32).reshape(3, 4)
    image = Image.fromarray(stored, mode="F")
    exif = image.getexif()
    exif[0x0112] = orientation
    image.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(image))
    np.testing.assert_array_equal(apply_exif_orientation(stored, orientation), expected)


# --- GDepth -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("extended", [True, False])
def test_gdepth_range_inverse_values(tmp_path: Path, extended: bool) -> None:
    v16 = np.linspace(0, 65535, 12 * 16).reshape(12, 16).astype(np.uint16)
    path = tmp_path / "lensblur.jpg"
    path.write_bytes(gdepth_jpeg(16, 12, png_bytes(v16), near=0.5, far=4.0, extended=extended))
    photo = load_photo(path)
    backend = EmbeddedDepth(DepthOptions())
    assert backend.available(photo)
    p = backend.predict(photo)
    assert p.kind == "metric" and p.values.shape == (12, 16) and p.values.dtype == np.float32
    expected = range_inverse(v16 / 65535.0, 0.5, 4.0)
    np.testing.assert_allclose(p.values, expected, rtol=1e-5)
    assert p.values.min() == pytest.approx(0.5) and p.values.max() == pytest.approx(4.0)


def test_gdepth_range_linear_8bit_resized(tmp_path: Path) -> None:
    v8 = np.tile(np.array([0, 51, 102, 153, 204, 255], np.uint8), (3, 1))  # 6x3, photo 12x6
    path = tmp_path / "linear.jpg"
    path.write_bytes(gdepth_jpeg(12, 6, png_bytes(v8), fmt="RangeLinear", near=1.0, far=6.0, decoy_guid=True))
    p = EmbeddedDepth().predict(load_photo(path))
    assert p.values.shape == (6, 12)
    np.testing.assert_allclose(p.values[:, 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(p.values[:, -1], 6.0, rtol=1e-6)
    assert np.all(np.diff(p.values[0]) >= 0)
    np.testing.assert_allclose(p.values[0, 5:7].mean(), 3.5, rtol=1e-3)  # middle of a linear ramp


def test_gdepth_follows_exif_rotation(tmp_path: Path) -> None:
    # stored landscape 16x12 with orientation 6: the upright photo is 12x16 portrait
    v8 = (np.arange(12 * 16).reshape(12, 16) + 10).astype(np.uint8)
    v8[:6, :8] = 250  # the stored top-left quadrant is near
    path = tmp_path / "rotated.jpg"
    path.write_bytes(gdepth_jpeg(16, 12, png_bytes(v8), fmt="RangeLinear", near=1.0, far=2.0, orientation=6))
    photo = load_photo(path)
    assert (photo.height, photo.width) == (16, 12)
    p = EmbeddedDepth().predict(photo)
    expected_v = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(png_bytes(v8))).copy()))
    exif_image = Image.fromarray(v8)
    exif = exif_image.getexif()
    exif[0x0112] = 6
    exif_image.info["exif"] = exif.tobytes()
    expected_v = np.asarray(ImageOps.exif_transpose(exif_image)).astype(np.float64)
    np.testing.assert_allclose(p.values, expected_v / 255.0 + 1.0, rtol=1e-6)
    # the near quadrant follows the photo's marked (red) corner: top-right after a clockwise turn
    red = photo.rgb[..., 0] > 128
    assert red[:8, 6:].all() and p.values[:8, 6:].max() > 1.9


def test_gdepth_units_and_optic_ray(tmp_path: Path) -> None:
    # every pixel 2000 mm away along its ray: the centre's axial depth is ~2 m, the corners' less
    path = tmp_path / "ray.jpg"
    extra = 'GDepth:Units="mm" GDepth:MeasureType="OpticRay"'
    v8 = np.full((30, 40), 255, np.uint8)
    path.write_bytes(gdepth_jpeg(40, 30, png_bytes(v8), fmt="RangeLinear", near=1000, far=2000, extra=extra))
    photo = load_photo(path)
    p = EmbeddedDepth().predict(photo)
    f = 28.0 / math.hypot(36, 24) * math.hypot(40, 30)  # the default 28 mm focal length, in pixels
    corner = 2.0 / math.sqrt(1 + (19.5 / f) ** 2 + (14.5 / f) ** 2)
    assert p.values[15, 20] == pytest.approx(2.0 / math.sqrt(1 + (0.5 / f) ** 2 * 2), rel=1e-5)
    assert p.values[0, 0] == pytest.approx(corner, rel=1e-5) and corner < 1.9


def test_gdepth_bad_range_and_bad_image(tmp_path: Path) -> None:
    path = tmp_path / "badrange.jpg"
    path.write_bytes(gdepth_jpeg(8, 8, png_bytes(np.zeros((8, 8), np.uint8)), near=3.0, far=1.0))
    with pytest.raises(InputError, match=r"badrange\.jpg.*near=3.0, far=1.0"):
        EmbeddedDepth().predict(load_photo(path))
    path = tmp_path / "badimage.jpg"
    path.write_bytes(gdepth_jpeg(8, 8, b"\x89PNG\r\n\x1a\nnot really", extended=False))
    with pytest.raises(InputError, match=r"badimage\.jpg.*cannot be decoded"):
        EmbeddedDepth().predict(load_photo(path))


def test_gdepth_other_framing_refused(tmp_path: Path) -> None:
    path = tmp_path / "cropped.jpg"
    path.write_bytes(gdepth_jpeg(16, 8, png_bytes(np.full((8, 8), 9, np.uint8)), extended=False))
    with pytest.raises(InputError, match=r"cropped\.jpg.*8x8.*16x8"):
        EmbeddedDepth().predict(load_photo(path))


# --- Dynamic Depth ----------------------------------------------------------------------------------


def dynamic_depth_jpeg(width: int, height: int, depth_png: bytes, near: float, far: float) -> bytes:
    confidence = png_bytes(np.full((4, 4), 255, np.uint8))
    ns = (
        'xmlns:Container="http://ns.google.com/photos/1.0/container/" '
        'xmlns:Item="http://ns.google.com/photos/1.0/container/item/" '
        'xmlns:Device="http://ns.google.com/photos/dd/1.0/device/" '
        'xmlns:Camera="http://ns.google.com/photos/dd/1.0/camera/" '
        'xmlns:DepthMap="http://ns.google.com/photos/dd/1.0/depthmap/"'
    )
    body = (
        "<Device:Container><Container:Directory><rdf:Seq>"
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/jpeg" Item:Semantic="Primary"/>'
        "</rdf:li>"
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/png" Item:Semantic="Depth" '
        f'Item:Length="{len(depth_png)}" Item:Padding="3"/></rdf:li>'
        '<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/png" Item:Semantic="Confidence" '
        f'Item:Length="{len(confidence)}"/></rdf:li>'
        "</rdf:Seq></Container:Directory></Device:Container>"
        '<Device:Cameras><rdf:Seq><rdf:li rdf:parseType="Resource"><Device:Camera rdf:parseType="Resource">'
        f'<Camera:DepthMap DepthMap:Format="RangeLinear" DepthMap:Near="{near}" DepthMap:Far="{far}" '
        'DepthMap:Units="Meters" DepthMap:MeasureType="OpticalAxis" DepthMap:ItemSemantic="Depth" '
        'DepthMap:ConfidenceItemSemantic="Confidence"/>'
        "</Device:Camera></rdf:li></rdf:Seq></Device:Cameras>"
    )
    primary = with_app1(plain_jpeg(width, height), [XMP_NS + xmp(ns, body)])
    return primary + b"\0\0\0" + depth_png + confidence


def test_dynamic_depth_without_its_item(tmp_path: Path) -> None:
    data = dynamic_depth_jpeg(8, 6, png_bytes(np.full((6, 8), 9, np.uint8)), near=1.0, far=2.0)
    path = tmp_path / "stripped.jpg"
    path.write_bytes(data[: data.index(b"\xff\xd9") + 2])  # an editor kept the XMP, dropped the items
    assert not carries_depth(path)
    assert not EmbeddedDepth().available(load_photo(path))


def test_dynamic_depth(tmp_path: Path) -> None:
    v8 = np.linspace(0, 255, 6 * 8).reshape(6, 8).astype(np.uint8)
    path = tmp_path / "pixel.jpg"
    path.write_bytes(dynamic_depth_jpeg(8, 6, png_bytes(v8), near=0.25, far=2.25))
    photo = load_photo(path)
    assert carries_depth(path)
    p = EmbeddedDepth().predict(photo)
    assert p.kind == "metric"
    np.testing.assert_allclose(p.values, v8 / 255.0 * 2.0 + 0.25, rtol=1e-6)


# --- availability and choice ------------------------------------------------------------------------


def test_available_only_for_files_with_depth(tmp_path: Path) -> None:
    assert DEPTH_BACKENDS.get("embedded") is EmbeddedDepth
    backend = EmbeddedDepth()
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(plain_jpeg(8, 8))
    other_xmp = tmp_path / "xmp.jpg"
    other_xmp.write_bytes(with_app1(plain_jpeg(8, 8), [XMP_NS + xmp('xmlns:dc="http://purl.org/dc/1.1/"')]))
    png = tmp_path / "p.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(png)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8\xff\xe1\x00")  # truncated after SOI
    for path in (plain, other_xmp, png, junk, tmp_path / "missing.jpg", tmp_path):
        assert not backend.available(photo_of(path, 8, 8)), path
    assert not backend.available(Photo(rgb=np.zeros((8, 8, 3), np.uint8)))
    assert not backend.available(None)
    with pytest.raises(InputError, match=r"plain\.jpg: the photo carries no embedded depth"):
        backend.predict(load_photo(plain))


def test_auto_picks_embedded_depth(tmp_path: Path) -> None:
    path = tmp_path / "auto.jpg"
    path.write_bytes(gdepth_jpeg(8, 8, png_bytes(np.full((8, 8), 128, np.uint8))))
    chosen = choose_backend("auto", load_photo(path), DepthOptions())
    assert isinstance(chosen, EmbeddedDepth)


# --- HEIC -------------------------------------------------------------------------------------------
# pillow-heif cannot write depth images, so the test writes a two-image HEIC with pillow-heif and turns
# the second image into a depth auxiliary image by editing the ISO-BMFF boxes: an 'auxC' property
# ("urn:mpeg:hevc:2015:auxid:2" + a depth representation info SEI), an 'auxl' reference to the primary,
# and the item locations shifted by the growth of the 'meta' box.


def box(kind: bytes, payload: bytes) -> bytes:
    return (len(payload) + 8).to_bytes(4, "big") + kind + payload


def children(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of the boxes in data[start:end]."""
    out = []
    while start < end:
        size = int.from_bytes(data[start : start + 4], "big")
        out.append((data[start + 4 : start + 8], start, start + size))
        start += size
    return out


class Bits:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def put(self, value: int, n: int) -> None:
        self.bits += [(value >> (n - 1 - i)) & 1 for i in range(n)]

    def ue(self, value: int) -> None:
        code = value + 1
        self.put(0, code.bit_length() - 1)
        self.put(code, code.bit_length())

    def element(self, x: float, mantissa_bits: int = 16) -> None:
        exponent = math.floor(math.log2(x)) + 31
        mantissa = round((x / 2.0 ** (exponent - 31) - 1.0) * 2**mantissa_bits)
        self.put(0, 1)
        self.put(exponent, 7)
        self.put(mantissa_bits - 1, 5)
        self.put(mantissa, mantissa_bits)

    def bytes(self) -> bytes:
        bits = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


def depth_sei(rep_type: int, z: tuple[float, float] | None, d: tuple[float, float] | None) -> bytes:
    bits = Bits()
    bits.put(int(z is not None), 1)
    bits.put(int(z is not None), 1)
    bits.put(int(d is not None), 1)
    bits.put(int(d is not None), 1)
    bits.ue(rep_type)
    if d is not None:
        bits.ue(0)  # disparity_reference_view
    for value in (*(z or ()), *(d or ())):
        bits.element(value)
    payload = bits.bytes()
    nal = b"\x4e\x01" + bytes([177, len(payload)]) + payload  # prefix SEI, depth representation info
    array = len(nal).to_bytes(4, "big") + nal
    return len(array).to_bytes(4, "big") + array


def heic_with_depth(
    rgb: np.ndarray,
    depth: np.ndarray,
    sei: bytes,
    orientation: int = 1,
    depth_shares_transforms: bool = False,
) -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    heif = pillow_heif.from_bytes("RGB", (rgb.shape[1], rgb.shape[0]), rgb.tobytes())
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        heif[0].info["exif"] = exif.tobytes()
    heif.add_frombytes("L", (depth.shape[1], depth.shape[0]), np.ascontiguousarray(depth).tobytes())
    out = io.BytesIO()
    heif.save(out, quality=-1)
    data = out.getvalue()

    top = children(data, 0, len(data))
    (_, meta_start, meta_end) = next(b for b in top if b[0] == b"meta")
    meta_boxes = children(data, meta_start + 12, meta_end)
    found = {kind: (s, e) for kind, s, e in meta_boxes}
    s, e = found[b"iinf"]
    infes = children(data, s + 14, e)  # infe version 2: item_ID, protection index, item_type
    items = [
        int.from_bytes(data[bs + 12 : bs + 14], "big")
        for _, bs, _ in infes
        if data[bs + 16 : bs + 20] == b"hvc1"
    ]
    s, e = found[b"pitm"]
    primary = int.from_bytes(data[s + 12 : s + 14], "big")
    depth_item = next(i for i in items if i != primary)

    s, e = found[b"iprp"]
    (_, ipco_s, ipco_e), (_, ipma_s, _) = children(data, s + 8, e)
    properties = children(data, ipco_s + 8, ipco_e)
    auxc = box(b"auxC", bytes(4) + b"urn:mpeg:hevc:2015:auxid:2\0" + sei)
    new_ipco = box(b"ipco", data[ipco_s + 8 : ipco_e] + auxc)
    auxc_index = len(properties) + 1

    version, flags = data[ipma_s + 8], int.from_bytes(data[ipma_s + 9 : ipma_s + 12], "big")
    assert version == 0
    wide = flags & 1
    pos, count = ipma_s + 16, int.from_bytes(data[ipma_s + 12 : ipma_s + 16], "big")
    entries = []
    for _ in range(count):
        item = int.from_bytes(data[pos : pos + 2], "big")
        n = data[pos + 2]
        size = 2 if wide else 1
        assoc = [int.from_bytes(data[pos + 3 + k * size : pos + 3 + (k + 1) * size], "big") for k in range(n)]
        entries.append((item, assoc))
        pos += 3 + n * size
    mask = 0x7FFF if wide else 0x7F

    def property_kind(a: int) -> bytes:
        return properties[(a & mask) - 1][0]

    primary_transforms = [
        a for i, assoc in entries if i == primary for a in assoc if property_kind(a) in (b"irot", b"imir")
    ]
    payload = bytearray(data[ipma_s + 8 : ipma_s + 16])
    for item, assoc in entries:
        if item == depth_item:
            assoc = [a for a in assoc if property_kind(a) not in (b"irot", b"imir")] + [auxc_index]
            if depth_shares_transforms:
                assoc += primary_transforms
        payload += item.to_bytes(2, "big") + bytes([len(assoc)])
        payload += b"".join(a.to_bytes(2 if wide else 1, "big") for a in assoc)
    new_iprp = box(b"iprp", new_ipco + box(b"ipma", bytes(payload)))

    auxl = box(b"auxl", depth_item.to_bytes(2, "big") + (1).to_bytes(2, "big") + primary.to_bytes(2, "big"))
    if b"iref" in found:
        s, e = found[b"iref"]
        new_iref = box(b"iref", data[s + 8 : e] + auxl)
    else:
        new_iref = box(b"iref", bytes(4) + auxl)

    body = b""
    for kind, bs, be in meta_boxes:
        if kind == b"iprp":
            body += new_iprp
        elif kind == b"iref":
            continue
        else:
            body += data[bs:be]
    body += new_iref
    new_meta = box(b"meta", data[meta_start + 8 : meta_start + 12] + body)
    delta = len(new_meta) - (meta_end - meta_start)

    # shift the item locations (absolute file offsets) that point after the meta box
    iloc_at = new_meta.index(b"iloc") - 4
    iloc = bytearray(new_meta[iloc_at : iloc_at + int.from_bytes(new_meta[iloc_at : iloc_at + 4], "big")])
    v = iloc[8]
    offset_size, length_size = iloc[12] >> 4, iloc[12] & 15
    base_size, index_size = iloc[13] >> 4, (iloc[13] & 15) if v in (1, 2) else 0
    pos = 14
    count = int.from_bytes(iloc[pos : pos + (4 if v == 2 else 2)], "big")
    pos += 4 if v == 2 else 2
    for _ in range(count):
        pos += 4 if v == 2 else 2
        method = 0
        if v in (1, 2):
            method = int.from_bytes(iloc[pos : pos + 2], "big") & 15
            pos += 2
        pos += 2  # data_reference_index
        base = int.from_bytes(iloc[pos : pos + base_size], "big") if base_size else 0
        if base_size and method == 0 and base:
            iloc[pos : pos + base_size] = (base + delta).to_bytes(base_size, "big")
        pos += base_size
        extents = int.from_bytes(iloc[pos : pos + 2], "big")
        pos += 2
        for _ in range(extents):
            pos += index_size
            if method == 0 and not base:
                value = int.from_bytes(iloc[pos : pos + offset_size], "big")
                iloc[pos : pos + offset_size] = (value + delta).to_bytes(offset_size, "big")
            pos += offset_size + length_size
    new_meta = new_meta[:iloc_at] + bytes(iloc) + new_meta[iloc_at + len(iloc) :]
    assert (
        all(b[1] < meta_start for b in top if b[0] == b"ftyp")
        and data[meta_end + 4 : meta_end + 8] == b"mdat"
    )
    return data[:meta_start] + new_meta + data[meta_end:]


def heic_photo(tmp_path: Path, name: str, data: bytes) -> tuple[Path, Photo]:
    path = tmp_path / name
    path.write_bytes(data)
    return path, load_photo(path)


def test_heic_disparity_with_range(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    rgb = np.full((48, 64, 3), 90, np.uint8)
    depth = np.tile(np.linspace(0, 255, 32).round().astype(np.uint8), (24, 1))
    data = heic_with_depth(rgb, depth, depth_sei(1, None, (1.5, 4.5)))
    path, photo = heic_photo(tmp_path, "portrait.heic", data)
    backend = EmbeddedDepth()
    assert backend.available(photo) and carries_depth(path)
    p = backend.predict(photo)
    assert p.kind == "inverse" and p.values.shape == (48, 64)
    expected_small = 1.5 + depth / 255.0 * 3.0  # disparity, 1/m
    np.testing.assert_allclose(p.values[::2, ::2][:, 1:-1], expected_small[:, 1:-1], atol=0.06)
    np.testing.assert_allclose(p.values[:, 0], 1.5, atol=1e-4)
    np.testing.assert_allclose(p.values[:, -1], 4.5, atol=1e-4)


def test_heic_uniform_z_is_metric(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    rgb = np.full((24, 32, 3), 90, np.uint8)
    depth = np.tile(np.array([0, 85, 170, 255], np.uint8).repeat(8), (24, 1))
    data = heic_with_depth(rgb, depth, depth_sei(2, (0.5, 3.5), None))
    _, photo = heic_photo(tmp_path, "z.heic", data)
    p = EmbeddedDepth().predict(photo)
    assert p.kind == "metric"
    np.testing.assert_allclose(p.values[0, ::8], [0.5, 1.5, 2.5, 3.5], rtol=1e-4)


@pytest.mark.parametrize("shares", [False, True])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_heic_depth_turned_like_the_photo(tmp_path: Path, orientation: int, shares: bool) -> None:
    """The stored photo and depth have the same four distinct quadrants (photo in red, depth as values):
    after orientation, wherever the upright photo shows a quadrant's level, the depth must too. With
    `shares`, the depth item carries the primary's own irot/imir (libheif turns it); without, the
    backend turns it like the primary."""
    pillow_heif = pytest.importorskip("pillow_heif")
    levels = np.array([[30, 100], [170, 240]], np.uint8)
    quadrants = levels.repeat(12, axis=0).repeat(16, axis=1)  # (24, 32)
    rgb = np.zeros((24, 32, 3), np.uint8)
    rgb[..., 0] = quadrants
    data = heic_with_depth(
        rgb, quadrants, depth_sei(1, None, None), orientation=orientation, depth_shares_transforms=shares
    )
    heif = pillow_heif.open_heif(io.BytesIO(data))
    assert bool(heif.info["depth_images"][0]._c_image.transformations[1:]) == (shares and orientation != 1)
    _, photo = heic_photo(tmp_path, "rot.heic", data)
    assert (photo.height, photo.width) == ((32, 24) if orientation >= 5 else (24, 32))
    p = EmbeddedDepth().predict(photo)
    assert p.kind == "inverse"
    red = photo.rgb[..., 0].astype(np.float64)
    inner = np.abs(red[..., None] - levels.ravel()).min(axis=2) < 15  # away from blurred borders
    assert inner.mean() > 0.6
    np.testing.assert_allclose(p.values[inner] * 255.0, red[inner], atol=12)


def test_heic_without_depth_and_without_pillow_heif(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    heif = pillow_heif.from_bytes("RGB", (16, 8), np.zeros((8, 16, 3), np.uint8).tobytes())
    plain = tmp_path / "plain.heic"
    heif.save(plain)
    photo = load_photo(plain)
    assert not EmbeddedDepth().available(photo)
    depth = np.full((8, 16), 100, np.uint8)
    path = tmp_path / "d.heic"
    path.write_bytes(heic_with_depth(np.zeros((8, 16, 3), np.uint8), depth, depth_sei(1, None, None)))
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if the 'heic' extra were not installed
    assert not EmbeddedDepth().available(photo_of(path, 8, 16))
    with pytest.raises(MissingDependencyError, match=r"pillow-heif.*dioramic\[heic\]"):
        EmbeddedDepth().predict(photo_of(path, 8, 16))
