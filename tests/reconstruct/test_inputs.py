"""Gathering the images: photos, folders, and the sharpest frames of a video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dioramic.errors import InputError
from dioramic.reconstruct.inputs import collect_images, frame_count, sample_video

from .conftest import noise_texture


def test_photos_are_kept_as_they_are_or_made_upright(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    pixels = noise_texture(64, 0)[:48]
    Image.fromarray(pixels).save(source / "b.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: to be rotated 90 degrees clockwise for display
    Image.fromarray(pixels).save(source / "a.jpg", exif=exif, quality=95)
    images = collect_images([source], tmp_path / "out")
    assert images.names == ("a.jpg", "b.png") and not images.video
    assert (tmp_path / "out" / "b.png").read_bytes() == (source / "b.png").read_bytes()
    upright = np.asarray(Image.open(tmp_path / "out" / "a.jpg"))
    assert upright.shape == (64, 48, 3) and images.pixels[0].shape == (64, 48, 3)
    assert images.sources[1] == str(source / "b.png")


def test_missing_and_empty_inputs_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        collect_images([tmp_path / "nope.jpg"], tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no photos"):
        collect_images([tmp_path / "empty"], tmp_path / "out")
    (tmp_path / "a.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="one video alone"):
        collect_images([tmp_path / "a.mp4", tmp_path / "a.mp4"], tmp_path / "out")


def _video(path: Path, frames: int, fps: int = 10) -> None:
    """Every other frame sharp noise, the others blurred (a shaky hand)."""
    import av
    import cv2

    sharp = noise_texture(96, 7)[:64]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"crf": "10"}
        for k in range(frames):
            image = sharp if k % 2 == 0 else cv2.GaussianBlur(sharp, (0, 0), 3)
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            ):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_a_video_gives_the_sharpest_frame_of_each_interval(tmp_path: Path) -> None:
    _video(tmp_path / "walk.mp4", 48)
    frames = sample_video(tmp_path / "walk.mp4")
    assert len(frames) == frame_count(4.8) == 12
    for time, rgb in frames:
        assert rgb.shape == (64, 96, 3)
        assert round(time * 10) % 2 == 0, time  # a sharp one
    images = collect_images([tmp_path / "walk.mp4"], tmp_path / "out", max_frames=6)
    assert (
        images.video and images.names[:2] == ("frame_0001.jpg", "frame_0002.jpg") and len(images.names) == 6
    )
    assert images.sources[0].startswith(str(tmp_path / "walk.mp4") + " @ ")


def test_a_broken_video_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    with pytest.raises(InputError, match=r"broken\.mp4"):
        collect_images([tmp_path / "broken.mp4"], tmp_path / "out")
