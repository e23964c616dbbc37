"""The 'file' depth backend: every map format, kinds, invalid values, resizing and bad inputs."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dioramic.depth import DEPTH_BACKENDS, DepthOptions, choose_backend
from dioramic.depth.files import FileDepth, read_depth_file, resize_values
from dioramic.errors import InputError, UsageError
from dioramic.types import Photo


def photo(height: int, width: int) -> Photo:
    return Photo(rgb=np.zeros((height, width, 3), np.uint8))


def predict(path: Path, shape: tuple[int, int], **options: object):
    backend = FileDepth(DepthOptions(depth_map=path, **options))  # type: ignore[arg-type]
    return backend.predict(photo(*shape))


def ramp(height: int = 6, width: int = 8, start: float = 1.0) -> np.ndarray:
    return (start + np.arange(height * width, dtype=np.float32).reshape(height, width)).astype(np.float32)


def write_pfm(path: Path, image: np.ndarray, little_endian: bool = True, header: bytes | None = None) -> Path:
    """A PFM file written byte by byte: rows bottom-to-top, 'Pf' for (h, w), 'PF' for (h, w, 3)."""
    colour = image.ndim == 3
    h, w = image.shape[:2]
    magic = b"PF" if colour else b"Pf"
    scale = -1.0 if little_endian else 1.0
    head = header if header is not None else magic + b"\n%d %d\n%s\n" % (w, h, str(scale).encode())
    dtype = "<f4" if little_endian else ">f4"
    path.write_bytes(head + np.ascontiguousarray(image[::-1]).astype(dtype).tobytes())
    return path


# --- formats -----------------------------------------------------------------------------------------


def test_registered_and_available_only_with_a_map(tmp_path: Path) -> None:
    assert DEPTH_BACKENDS.get("file") is FileDepth
    assert not FileDepth(DepthOptions()).available(photo(4, 4))
    assert FileDepth(DepthOptions(depth_map=tmp_path / "d.png")).available(photo(4, 4))


def test_auto_prefers_the_users_map(tmp_path: Path) -> None:
    path = tmp_path / "d.npy"
    np.save(path, ramp())
    chosen = choose_backend("auto", photo(6, 8), DepthOptions(depth_map=path))
    assert isinstance(chosen, FileDepth)


def test_png_16bit_values_kept(tmp_path: Path) -> None:
    values = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000 + 7).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "d.png")
    assert Image.open(tmp_path / "d.png").mode.startswith("I")
    p = predict(tmp_path / "d.png", (6, 8))
    assert p.kind == "depth" and p.values.dtype == np.float32 and p.values.shape == (6, 8)
    np.testing.assert_array_equal(p.values, values.astype(np.float32))


def test_png_8bit_and_grey_rgb(tmp_path: Path) -> None:
    values = np.arange(1, 49, dtype=np.uint8).reshape(6, 8) * 5
    Image.fromarray(values).save(tmp_path / "l.png")
    Image.fromarray(np.repeat(values[..., None], 3, axis=2)).save(tmp_path / "rgb.png")
    for name in ("l.png", "rgb.png"):
        p = predict(tmp_path / name, (6, 8), depth_kind="inverse")
        assert p.kind == "inverse"
        np.testing.assert_array_equal(p.values, values.astype(np.float32))


def test_png_16bit_rgb_grey_keeps_16_bits(tmp_path: Path) -> None:
    import cv2

    values = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1300 + 300).astype(np.uint16)
    assert cv2.imwrite(str(tmp_path / "rgb16.png"), np.repeat(values[..., None], 3, axis=2))
    np.testing.assert_array_equal(predict(tmp_path / "rgb16.png", (6, 8)).values, values.astype(np.float32))


def test_grey_jpeg_tolerates_compression_noise(tmp_path: Path) -> None:
    values = np.repeat(np.array([40, 120, 200], np.uint8), 16)[None, :].repeat(48, axis=0)  # (48, 48)
    Image.fromarray(np.repeat(values[..., None], 3, axis=2)).save(tmp_path / "d.jpg", quality=95)
    p = predict(tmp_path / "d.jpg", (48, 48))
    np.testing.assert_allclose(p.values[:, 4:12], 40, atol=4)
    np.testing.assert_allclose(p.values[:, 36:44], 200, atol=4)


def test_colour_png_refused(tmp_path: Path) -> None:
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[..., 0], rgb[..., 1] = 200, 10
    Image.fromarray(rgb).save(tmp_path / "turbo.png")
    with pytest.raises(InputError, match=r"turbo\.png.*channels differ"):
        predict(tmp_path / "turbo.png", (6, 8))


def test_float_tiff(tmp_path: Path) -> None:
    values = ramp() * 0.25
    Image.fromarray(values, mode="F").save(tmp_path / "d.tif")
    p = predict(tmp_path / "d.tif", (6, 8), metric=True)
    assert p.kind == "metric"
    np.testing.assert_array_equal(p.values, values)


def test_float16_tiff_via_opencv(tmp_path: Path) -> None:
    import cv2

    values = ramp().astype(np.float16)
    if not cv2.imwrite(str(tmp_path / "h.tiff"), values):
        pytest.skip("this OpenCV build cannot write float16 TIFF")
    np.testing.assert_array_equal(read_depth_file(tmp_path / "h.tiff").values, values.astype(np.float32))


def test_npy_float_and_int(tmp_path: Path) -> None:
    np.save(tmp_path / "f.npy", ramp().astype(np.float64))
    np.save(tmp_path / "i.npy", ramp().astype(np.int32))
    np.testing.assert_array_equal(predict(tmp_path / "f.npy", (6, 8)).values, ramp())
    raw = read_depth_file(tmp_path / "i.npy")
    assert raw.integer and raw.bits == 32
    np.testing.assert_array_equal(raw.values, ramp())


@pytest.mark.parametrize("little_endian", [True, False])
def test_pfm_grey_both_endians_flipped(tmp_path: Path, little_endian: bool) -> None:
    values = ramp(5, 7)  # row 0 is the top row of the image
    path = write_pfm(tmp_path / "d.pfm", values, little_endian)
    np.testing.assert_array_equal(predict(path, (5, 7)).values, values)


def test_pfm_colour_takes_first_channel(tmp_path: Path) -> None:
    values = ramp(5, 7)
    colour = np.stack([values, values * 10, -values], axis=2)
    path = write_pfm(tmp_path / "c.pfm", colour, little_endian=False)
    np.testing.assert_array_equal(predict(path, (5, 7)).values, values)


# --- invalid values ---------------------------------------------------------------------------------


def test_zero_negative_nonfinite_become_nan(tmp_path: Path) -> None:
    values = ramp()
    values[0, 0], values[1, 1], values[2, 2], values[3, 3] = 0.0, -4.0, np.nan, np.inf
    np.save(tmp_path / "d.npy", values)
    p = predict(tmp_path / "d.npy", (6, 8))
    bad = np.zeros((6, 8), bool)
    bad[[0, 1, 2, 3], [0, 1, 2, 3]] = True
    assert np.isnan(p.values[bad]).all()
    np.testing.assert_array_equal(p.values[~bad], values[~bad])


def test_zero_in_16bit_png_is_no_value(tmp_path: Path) -> None:
    values = np.full((6, 8), 1500, np.uint16)
    values[2:4, 3:5] = 0
    Image.fromarray(values).save(tmp_path / "d.png")
    p = predict(tmp_path / "d.png", (6, 8), metric=True)
    assert p.kind == "metric"
    assert np.isnan(p.values[2:4, 3:5]).all()
    np.testing.assert_allclose(p.values[0], 1.5)  # 16-bit metric maps are millimetres


# --- resizing ---------------------------------------------------------------------------------------


def test_resize_same_aspect_bilinear(tmp_path: Path) -> None:
    x = np.linspace(1.0, 2.0, 20, dtype=np.float32)
    values = np.tile(x, (10, 1))  # a linear ramp stays linear under bilinear resizing
    np.save(tmp_path / "d.npy", values)
    p = predict(tmp_path / "d.npy", (40, 80))
    assert p.values.shape == (40, 80) and np.isfinite(p.values).all()
    assert np.all(np.diff(p.values[0]) >= -1e-6)
    assert p.values[0, 0] == pytest.approx(1.0) and p.values[0, -1] == pytest.approx(2.0)
    np.testing.assert_allclose(p.values[:, 40], p.values[0, 40])  # constant down a column
    np.testing.assert_allclose(p.values[0, 38:42].mean(), 1.5, atol=0.01)


def test_resize_does_not_bleed_holes(tmp_path: Path) -> None:
    values = np.full((12, 16), 3.0, np.float32)
    values[4:8, 6:10] = 0.0  # a hole of no value
    np.save(tmp_path / "d.npy", values)
    for shape in ((24, 32), (9, 12), (6, 8)):
        out = predict(tmp_path / "d.npy", shape).values
        valid = np.isfinite(out)
        assert 0 < (~valid).sum() < out.size
        np.testing.assert_allclose(out[valid], 3.0, rtol=1e-6)  # never pulled towards zero
    up = predict(tmp_path / "d.npy", (24, 32)).values
    assert np.isnan(up[8:16, 12:20]).all() and np.isfinite(up[:6]).all()


def test_resize_values_doctest_grid() -> None:
    v = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    out = resize_values(v, 4, 4)
    np.testing.assert_allclose(out[0], [1.0, 1.25, 1.75, 2.0])


def test_resize_values_keeps_holes_nearest() -> None:
    v = np.array([[1.0, np.nan], [3.0, 5.0]], np.float32)
    out = resize_values(v, 4, 4)
    hole = np.zeros((4, 4), bool)
    hole[:2, 2:] = True  # the enlarged image of the missing source pixel
    np.testing.assert_array_equal(np.isnan(out), hole)
    assert out[0, 0] == 1.0 and out[0, 1] == 1.0  # only valid neighbours contribute
    assert out[3, 3] == 5.0 and out[2, 0] == 2.5


def test_aspect_within_one_percent_is_resized(tmp_path: Path) -> None:
    np.save(tmp_path / "d.npy", ramp(100, 150))
    assert predict(tmp_path / "d.npy", (100, 151)).values.shape == (100, 151)


def test_other_aspect_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "wide.npy", ramp(10, 30))
    with pytest.raises(InputError, match=r"wide\.npy.*30x10.*40x20.*same framing"):
        predict(tmp_path / "wide.npy", (20, 40))


def test_transposed_map_refused_with_rotation_hint(tmp_path: Path) -> None:
    np.save(tmp_path / "rot.npy", ramp(8, 6))
    with pytest.raises(InputError, match=r"rot\.npy.*6x8.*8x6.*exactly transposed.*EXIF"):
        predict(tmp_path / "rot.npy", (6, 8))


# --- bad inputs -------------------------------------------------------------------------------------


def test_corrupt_png(tmp_path: Path) -> None:
    path = tmp_path / "bad.png"
    Image.fromarray(np.ones((32, 32), np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(InputError, match=r"bad\.png"):
        predict(path, (32, 32))


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello")
    with pytest.raises(InputError, match=r"notes\.png: not an image"):
        predict(path, (4, 4))


@pytest.mark.parametrize(
    ("name", "array", "message"),
    [
        ("cube.npy", np.ones((4, 4, 3), np.float32), r"shape \(4, 4, 3\).*2D"),
        ("empty.npy", np.ones((0, 5), np.float32), r"empty"),
        ("zeros.npy", np.zeros((4, 4), np.float32), r"no valid value"),
        ("nan.npy", np.full((4, 4), np.nan, np.float32), r"no valid value"),
        ("neg.npy", -np.ones((4, 4), np.float32), r"no valid value"),
        ("text.npy", np.array([["a", "b"]]), r"dtype"),
    ],
)
def test_bad_npy(tmp_path: Path, name: str, array: np.ndarray, message: str) -> None:
    np.save(tmp_path / name, array)
    with pytest.raises(InputError, match=name.replace(".", r"\.") + ".*" + message):
        predict(tmp_path / name, (4, 4))


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "zero.pfm").write_bytes(b"")
    with pytest.raises(InputError, match=r"zero\.pfm.*empty"):
        predict(tmp_path / "zero.pfm", (4, 4))
    with pytest.raises(InputError, match=r"absent\.png: no such"):
        predict(tmp_path / "absent.png", (4, 4))


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"P6\n7 5\n-1.0\n", "not a PFM"),
        (b"Pf\n7\n", "not a PFM"),
        (b"Pf\n7 5\n0.0\n", "non-zero"),
        (b"Pf\n70 50\n-1.0\n", "truncated"),
    ],
)
def test_bad_pfm(tmp_path: Path, header: bytes, message: str) -> None:
    path = write_pfm(tmp_path / "bad.pfm", ramp(5, 7), header=header)
    with pytest.raises(InputError, match=r"bad\.pfm.*" + message):
        predict(path, (5, 7))


def test_pfm_header_bytes_layout(tmp_path: Path) -> None:
    # an independent writer (struct, one float at a time) agrees with the reader
    h, w = 2, 3
    rows = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]  # top row first
    body = b"".join(struct.pack(">f", value) for row in reversed(rows) for value in row)
    path = tmp_path / "s.pfm"
    path.write_bytes(b"Pf %d %d 1.0\n" % (w, h) + body)
    np.testing.assert_array_equal(read_depth_file(path).values, np.array(rows, np.float32))


def test_option_combinations(tmp_path: Path) -> None:
    Image.fromarray(np.full((4, 4), 9, np.uint8)).save(tmp_path / "d8.png")
    with pytest.raises(UsageError, match="--depth-kind metric"):
        predict(tmp_path / "d8.png", (4, 4), metric=True, depth_kind="inverse")
    with pytest.raises(InputError, match=r"d8\.png: an 8-bit map cannot hold metric depth"):
        predict(tmp_path / "d8.png", (4, 4), metric=True)
    with pytest.raises(UsageError, match="--depth-map"):
        FileDepth(DepthOptions()).predict(photo(4, 4))
