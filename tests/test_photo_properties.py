"""Property-based: no bytes make the photo loader raise anything but the project's own errors."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from dioramic.errors import DioramicError
from dioramic.photo import load_photo


def _valid_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _valid_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


SEEDS = [_valid_png(), _valid_jpeg()]


@st.composite
def mangled_images(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return bytes(data[:cut])


def _load(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"photo{suffix}"
        path.write_bytes(data)
        try:
            photo = load_photo(path)
        except DioramicError as exc:
            assert "\n" not in str(exc)
        else:
            assert photo.rgb.ndim == 3 and photo.rgb.dtype == np.uint8


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled_images(), st.sampled_from([".png", ".jpg", ".webp"]))
def test_mangled_images_raise_only_project_errors(data: bytes, suffix: str) -> None:
    _load(data, suffix)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from([".png", ".jpg", ".gif", ".tiff", ".bmp", ".heic"]))
def test_random_bytes_raise_only_project_errors(data: bytes, suffix: str) -> None:
    _load(data, suffix)
