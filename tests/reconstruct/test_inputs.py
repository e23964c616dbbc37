"""Gathering the images: photos, folders, and the sharpest frames of a video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dioramic.errors import InputError
from dioramic.reconstruct.inputs import collect_images, frame_count, image_motion, sample_video

from .conftest import noise_texture


def test_photos_are_kept_as_they_are_or_made_upright(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    pixels = noise_texture(64, 0)[:48]
    Image.fromarray(pixels).save(source / "b.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: to be rotated 90 degrees clockwise for display
    Image.fromarray(pixels).save(source / "a.jpg", exif=exif, quality=95)
    Image.fromarray(noise_texture(64, 1)).save(source / "c.png")
    images = collect_images([source], tmp_path / "out")
    assert images.names == ("a.jpg", "b.png", "c.png") and not images.video and images.skipped == {}
    assert (tmp_path / "out" / "b.png").read_bytes() == (source / "b.png").read_bytes()
    upright = np.asarray(Image.open(tmp_path / "out" / "a.jpg"))
    assert upright.shape == (64, 48, 3) and images.pixels[0].shape == (64, 48, 3)
    assert images.sources[1] == str(source / "b.png")


def test_a_capture_folder_gives_the_photos_of_its_images_folder(tmp_path: Path) -> None:
    """COLMAP's and nerfstudio's layout: the photos in images/, beside other folders."""
    (tmp_path / "scene" / "images").mkdir(parents=True)
    (tmp_path / "scene" / "sparse").mkdir()
    for k in range(3):
        Image.fromarray(noise_texture(64, k)).save(tmp_path / "scene" / "images" / f"{k}.png")
    images = collect_images([tmp_path / "scene"], tmp_path / "out")
    assert images.names == ("0.png", "1.png", "2.png")
    assert images.sources[0] == str(tmp_path / "scene" / "images" / "0.png")


def test_missing_and_empty_inputs_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        collect_images([tmp_path / "nope.jpg"], tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no photos"):
        collect_images([tmp_path / "empty"], tmp_path / "out")
    (tmp_path / "empty" / "images").mkdir()
    with pytest.raises(InputError, match="holds no photos"):
        collect_images([tmp_path / "empty"], tmp_path / "out")
    (tmp_path / "a.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="one video alone"):
        collect_images([tmp_path / "a.mp4", tmp_path / "a.mp4"], tmp_path / "out")


def _video(path: Path, frames: int, fps: int = 10, *, step: int = 1, blur: bool = True) -> None:
    """A 96x64 window sliding `step` pixels a frame across noise; with `blur`, every other frame
    blurred (a shaky hand)."""
    import av
    import cv2

    texture = noise_texture(96 + step * frames, 7)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"crf": "10"}
        for k in range(frames):
            sharp = np.ascontiguousarray(texture[:64, step * k : step * k + 96])
            image = cv2.GaussianBlur(sharp, (0, 0), 3) if blur and k % 2 else sharp
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


def _photos(folder: Path, count: int, first_seed: int = 0) -> list[Path]:
    """`count` different 64x48 pictures in `folder` (p0.png, p1.png, ...)."""
    folder.mkdir(exist_ok=True)
    paths = [folder / f"p{k}.png" for k in range(count)]
    for k, path in enumerate(paths):
        Image.fromarray(noise_texture(64, first_seed + k)[:48]).save(path)
    return paths


def test_fewer_than_three_photos_are_refused_before_any_is_decoded(tmp_path: Path) -> None:
    _photos(tmp_path / "in", 2)
    (tmp_path / "in" / "p1.png").write_bytes(b"not a picture")  # never opened: no complaint about it
    with pytest.raises(InputError) as caught:
        collect_images([tmp_path / "in"], tmp_path / "out")
    assert str(caught.value) == (
        "a reconstruction needs at least 3 photos, taken from different places around the object, "
        "got 2: p0.png, p1.png"
    )
    assert not (tmp_path / "out").exists()


def test_unreadable_photos_are_left_out_and_named(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _photos(folder, 3)
    good = (folder / "p0.png").read_bytes()
    (folder / "cut.png").write_bytes(good[: len(good) // 2])  # truncated on its way
    (folder / "notes.jpg").write_text("not a picture")
    (folder / "._p0.png").write_bytes(b"\0" * 10)  # macOS metadata beside a copied photo: ignored
    images = collect_images([folder], tmp_path / "out")
    assert images.names == ("p0.png", "p1.png", "p2.png")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.png", "p1.png", "p2.png"]
    assert set(images.skipped) == {str(folder / "cut.png"), str(folder / "notes.jpg")}
    assert "corrupt or truncated" in images.skipped[str(folder / "cut.png")]
    assert "not an image file" in images.skipped[str(folder / "notes.jpg")]


def test_too_few_readable_photos_is_an_error_naming_the_bad_ones(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _photos(folder, 2)
    (folder / "x.jpg").write_text("not a picture")
    (folder / "y.png").write_bytes(b"")
    with pytest.raises(InputError) as caught:
        collect_images([folder], tmp_path / "out")
    message = str(caught.value)
    assert message.startswith("only 2 of the 4 photos can be used (p0.png, p1.png); a reconstruction needs")
    assert "x.jpg: not an image file" in message and "y.png: the file is empty" in message
    assert "\n" not in message and not (tmp_path / "out").exists()


def test_the_same_picture_many_times_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (first,) = _photos(folder, 1)
    for k in range(8):  # byte for byte copies
        (folder / f"copy_{k}.png").write_bytes(first.read_bytes())
    Image.open(first).save(folder / "same.bmp")  # the same pixels in another file format
    with pytest.raises(InputError) as caught:
        collect_images([folder], tmp_path / "out")
    message = str(caught.value)
    assert message.startswith("the 10 photos are all the same picture (")
    assert message.endswith(
        "a reconstruction needs at least 3 photos taken from different places around the object"
    )
    assert "and 2 more" in message  # the names are cut short


def test_a_repeated_picture_is_left_out_when_others_remain(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _photos(folder, 3)
    (folder / "p1_copy.png").write_bytes((folder / "p1.png").read_bytes())
    images = collect_images([folder], tmp_path / "out")
    assert images.names == ("p0.png", "p1.png", "p2.png")
    assert images.skipped == {str(folder / "p1_copy.png"): "the same picture as p1.png"}


def test_image_motion_measures_how_far_the_picture_moves() -> None:
    texture = noise_texture(200, 5)
    still = [texture[:96, :128]] * 4
    assert image_motion(still) == pytest.approx(0.0, abs=1e-3)
    moving = [np.ascontiguousarray(texture[:96, 3 * k : 3 * k + 128]) for k in range(4)]
    assert image_motion(moving) == pytest.approx(9 / 128, rel=0.05)  # 9 pixels at the end, of 128
    plain = [np.full((96, 128, 3), 90, np.uint8)] * 4
    assert image_motion(plain) is None  # nothing to track: no verdict


def test_a_video_shorter_than_a_second_is_refused(tmp_path: Path) -> None:
    _video(tmp_path / "short.mp4", 5, fps=10, step=4)
    with pytest.raises(
        InputError, match=r"short\.mp4: the video lasts 0\.50 s; a reconstruction needs at least 1 s"
    ):
        collect_images([tmp_path / "short.mp4"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_video_from_a_still_camera_is_refused(tmp_path: Path) -> None:
    _video(tmp_path / "tripod.mp4", 30, fps=10, step=0, blur=False)
    with pytest.raises(
        InputError, match=r"tripod\.mp4: the camera does not move .* film walking slowly around"
    ):
        collect_images([tmp_path / "tripod.mp4"], tmp_path / "out")
    assert not (tmp_path / "out").exists()
