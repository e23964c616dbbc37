import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dioramic.errors import InputError
from dioramic.photo import load_photo, photo_from_array


def _quadrants(w: int = 40, h: int = 30) -> np.ndarray:
    """Four coloured quadrants: red top-left, green top-right, blue bottom-left, white bottom-right."""
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2, : w // 2] = (255, 0, 0)
    a[: h // 2, w // 2 :] = (0, 255, 0)
    a[h // 2 :, : w // 2] = (0, 0, 255)
    a[h // 2 :, w // 2 :] = (255, 255, 255)
    return a


# For each EXIF orientation, the transform that turns the upright image into the stored pixels.
_STORED = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, 1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, -1),
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_upright_photo(tmp_path: Path, orientation: int) -> None:
    upright = _quadrants()
    stored = np.ascontiguousarray(_STORED[orientation](upright))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.png"
    Image.fromarray(stored).save(path, exif=exif.tobytes())
    photo = load_photo(path)
    assert photo.rgb.shape == upright.shape
    assert np.array_equal(photo.rgb, upright)


def test_modes_and_formats(tmp_path: Path) -> None:
    rgb = _quadrants()
    Image.fromarray(rgb).convert("L").save(tmp_path / "grey.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "pal.png")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    Image.fromarray(rgb).save(tmp_path / "a.webp", lossless=True)
    Image.fromarray(rgb).save(tmp_path / "a.tiff")
    Image.fromarray(rgb).save(tmp_path / "a.bmp")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(tmp_path / "g16.png")
    for name in ("grey.png", "pal.png", "cmyk.jpg", "a.webp", "a.tiff", "a.bmp", "g16.png"):
        photo = load_photo(tmp_path / name)
        assert photo.rgb.shape == (30, 40, 3) and photo.rgb.dtype == np.uint8, name
    assert np.array_equal(load_photo(tmp_path / "a.webp").rgb, rgb)
    assert load_photo(tmp_path / "g16.png").rgb[0, 0, 0] == 255


def test_rgba_keeps_alpha(tmp_path: Path) -> None:
    rgba = np.dstack([_quadrants(), np.full((30, 40), 255, np.uint8)])
    rgba[:5, :5, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "a.png")
    photo = load_photo(tmp_path / "a.png")
    assert photo.alpha is not None and photo.alpha[0, 0] == 0 and photo.alpha[-1, -1] == 255


def test_exif_focal_length_is_read(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 26
    Image.fromarray(_quadrants()).save(tmp_path / "f.jpg", exif=exif.tobytes())
    assert load_photo(tmp_path / "f.jpg").focal_length_35mm == 26.0
    Image.fromarray(_quadrants()).save(tmp_path / "n.jpg")
    assert load_photo(tmp_path / "n.jpg").focal_length_35mm is None


def test_large_photo_is_downscaled(tmp_path: Path) -> None:
    Image.fromarray(_quadrants(400, 300)).save(tmp_path / "big.png")
    photo = load_photo(tmp_path / "big.png", max_pixels=30_000)
    assert photo.width * photo.height <= 30_000 and abs(photo.width / photo.height - 4 / 3) < 0.02


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("this is not an image"), "not an image"),
        (lambda p: p.write_bytes(_png_bytes()[:200]), "corrupt or truncated"),
        (lambda p: Image.new("RGB", (1, 1)).save(p, format="PNG"), "at least 2x2"),
    ],
)
def test_bad_inputs_give_one_clear_error(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(InputError, match=message) as info:
        load_photo(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_decompression_bomb_refused(tmp_path: Path) -> None:
    # a valid PNG header declaring 30000 x 30000 pixels
    buf = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buf, format="PNG")
    path = tmp_path / "bomb.png"
    path.write_bytes(buf.getvalue())
    with pytest.raises(InputError, match=r"megapixels|decompression"):
        load_photo(path)


def _png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_photo_from_array() -> None:
    p = photo_from_array(np.zeros((4, 5, 4), np.uint8), name="x.png")
    assert p.rgb.shape == (4, 5, 3) and p.alpha is not None and p.name == "x"
    with pytest.raises(InputError):
        photo_from_array(np.zeros((4, 5), np.float32))


def test_icc_profiles_are_applied_or_ignored_with_a_notice(tmp_path: Path, caplog) -> None:
    from PIL import ImageCms

    rgb = _quadrants()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(rgb).save(tmp_path / "srgb.png", icc_profile=srgb)
    assert np.abs(load_photo(tmp_path / "srgb.png").rgb.astype(int) - rgb).max() <= 1
    Image.fromarray(rgb).save(tmp_path / "junk.png", icc_profile=b"not a profile")
    assert np.array_equal(load_photo(tmp_path / "junk.png").rgb, rgb)
    assert "colour profile" in caplog.text


def test_more_formats(tmp_path: Path) -> None:
    rgb = _quadrants()
    la = Image.fromarray(rgb).convert("LA")
    la.save(tmp_path / "la.png")
    frames = [Image.fromarray(rgb), Image.fromarray(255 - rgb)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    Image.fromarray(np.repeat(rgb, 8, axis=1)[:, :240]).save(tmp_path / "pano.png")  # 8:1
    assert load_photo(tmp_path / "la.png").alpha is None  # opaque alpha is dropped
    first = load_photo(tmp_path / "anim.gif").rgb
    assert first[0, 0, 0] > 200 and first[0, 0, 1] < 50  # the first frame (red corner), not the second
    pano = load_photo(tmp_path / "pano.png")
    assert (pano.width, pano.height) == (240, 30)
    odd = tmp_path / "dossier photo é 写真.png"
    Image.fromarray(rgb).save(odd)
    assert load_photo(odd).name == "dossier photo é 写真"


def test_heic_loads_when_pillow_heif_is_installed(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    rgb = _quadrants(64, 48)
    pillow_heif.from_pillow(Image.fromarray(rgb)).save(tmp_path / "a.heic", quality=95)
    photo = load_photo(tmp_path / "a.heic")
    assert photo.rgb.shape == (48, 64, 3)
    assert np.abs(photo.rgb.astype(int) - rgb).mean() < 12


def test_sixteen_bit_rgb_png(tmp_path: Path) -> None:
    import cv2

    rgb16 = (_quadrants().astype(np.uint16) * 257)[..., ::-1]  # cv2 writes BGR
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb16)
    photo = load_photo(tmp_path / "rgb16.png")
    assert photo.rgb.dtype == np.uint8 and np.array_equal(photo.rgb, _quadrants())
