"""Video writers: each format decodes back to the frames written, and failures leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from dioramic.errors import UsageError
from dioramic.render.video import FRAME_NAME, format_for_path, open_writer

W, H, FPS, COUNT = 64, 48, 10, 12


def frames(count: int = COUNT, width: int = W, height: int = H) -> list[np.ndarray]:
    """Moving smooth gradients plus a block of a known flat colour."""
    y, x = np.mgrid[0:height, 0:width]
    out = []
    for i in range(count):
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        frame[..., 0] = (x * 4 + i * 8) % 256
        frame[..., 1] = (y * 5) % 256
        frame[..., 2] = 128
        frame[: height // 2, : width // 2] = (200, 60, 30)
        out.append(frame)
    return out


def write_all(path: Path | str, items: list[np.ndarray], **options) -> None:
    height, width = items[0].shape[:2]
    with open_writer(path, width, height, FPS, **options) as writer:
        for frame in items:
            writer.write(frame)
    assert writer.frames_written == len(items)


def decode(path: Path) -> tuple[av.video.stream.VideoStream, list[np.ndarray], list[int]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = list(container.decode(stream))
        return stream, [f.to_ndarray(format="rgb24") for f in decoded], [f.pts for f in decoded]


def no_leftovers(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(("name", "codec"), [("out.mp4", "h264"), ("out.webm", "vp9")])
def test_video_files_decode_to_the_frames(tmp_path, name, codec):
    source = frames()
    path = tmp_path / name
    write_all(path, source)
    stream, decoded, _ = decode(path)
    assert stream.codec_context.name == codec
    assert stream.codec_context.pix_fmt == "yuv420p"
    assert (stream.width, stream.height) == (W, H)
    assert len(decoded) == COUNT
    assert stream.average_rate == FPS
    for original, back in zip(source, decoded, strict=True):
        assert np.abs(back[4:20, 4:28].astype(int) - (200, 60, 30)).max() <= 12
        assert np.abs(back.astype(int) - original).mean() < 6
    assert no_leftovers(tmp_path)


@pytest.mark.parametrize("name", ["colours.mp4", "colours.webm"])
def test_saturated_colours_survive_the_yuv_conversion(tmp_path, name):
    # Tagged BT.709 limited range and converted with the same matrix: a decoder that reads the tags
    # gives the colours back (a BT.601 / BT.709 mix-up would move these by 10-30 levels).
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (128, 128, 128), (250, 120, 20)]
    source = [np.full((H, W, 3), c, dtype=np.uint8) for c in colours]
    write_all(tmp_path / name, source, crf=4)
    stream, decoded, _ = decode(tmp_path / name)
    assert stream.codec_context.colorspace == 1  # BT.709
    for colour, back in zip(colours, decoded, strict=True):
        assert np.abs(back[8:40, 8:56].astype(int) - colour).max() <= 4, colour


def test_mp4_options_change_the_encoding(tmp_path):
    write_all(tmp_path / "best.mp4", frames(), crf=0, preset="ultrafast")
    write_all(tmp_path / "worst.mp4", frames(), crf=51)
    assert (tmp_path / "best.mp4").stat().st_size > 3 * (tmp_path / "worst.mp4").stat().st_size


def test_odd_sizes_are_cropped_to_even_for_yuv420p(tmp_path):
    source = frames(3, width=33, height=25)
    write_all(tmp_path / "odd.mp4", source)
    stream, decoded, _ = decode(tmp_path / "odd.mp4")
    assert (stream.width, stream.height) == (32, 24)
    assert len(decoded) == 3
    write_all(tmp_path / "odd.gif", source)
    stream, decoded, _ = decode(tmp_path / "odd.gif")
    assert (stream.width, stream.height) == (33, 25)


def test_gif_has_every_frame_with_centisecond_timing(tmp_path):
    source = frames()
    write_all(tmp_path / "out.gif", source)
    stream, decoded, pts = decode(tmp_path / "out.gif")
    assert stream.codec_context.name == "gif"
    assert len(decoded) == COUNT
    assert pts == [round(i * 100 / FPS) for i in range(COUNT)]  # time base 1/100 s
    assert np.abs(decoded[3][4:20, 4:28].astype(int) - (200, 60, 30)).max() <= 12
    assert np.abs(decoded[5].astype(int) - source[5]).mean() < 10
    assert no_leftovers(tmp_path)


def _gif_delays(path: Path) -> list[int]:
    """Each frame's delay as a browser reads it, in milliseconds."""
    with Image.open(path) as gif:
        delays = []
        for i in range(gif.n_frames):
            gif.seek(i)
            delays.append(gif.info["duration"])
        return delays


@pytest.mark.parametrize(("fps", "count"), [(15, 75), (30, 31), (24, 24), (12.5, 10), (7, 3)])
def test_gif_delays_add_up_to_the_duration_exactly(tmp_path, fps, count):
    """GIF delays are whole centiseconds: 15 fps alternates 7 and 6 cs, and the last frame too has
    its own delay, so the animation lasts round(100 * frames / fps) cs, as the video would."""
    path = tmp_path / "t.gif"
    with open_writer(path, 32, 24, fps) as writer:
        for frame in frames(count, 32, 24):
            writer.write(frame)
    delays = _gif_delays(path)
    assert len(delays) == count
    assert sum(delays) == 10 * round(100 * count / fps)
    assert max(delays) - min(delays) <= 10  # spread evenly, never a long last frame


def test_gif_palette_is_the_animations_own_and_ordered_dithering_stays_put(tmp_path):
    """The palette comes from every frame (a colour seen only in the last frame is kept), and the
    default ordered dithering is the same from frame to frame where the picture does not move."""
    source = frames(6)
    source[-1][H // 2 :, W // 2 :] = (20, 220, 40)  # only in the last frame
    write_all(tmp_path / "a.gif", source)
    _, decoded, _ = decode(tmp_path / "a.gif")
    assert np.abs(decoded[-1][H // 2 + 2 :, W // 2 + 2 :].astype(int) - (20, 220, 40)).max() <= 12
    still = decoded[1][: H // 2, : W // 2], decoded[4][: H // 2, : W // 2]  # the flat block: unchanged
    assert np.array_equal(*still)
    for dither in ("floyd_steinberg", "sierra2_4a", "none", False):
        write_all(tmp_path / "b.gif", source, dither=dither)
        assert len(decode(tmp_path / "b.gif")[1]) == 6
    with pytest.raises(UsageError, match="unknown GIF dither 'noise'"):
        write_all(tmp_path / "c.gif", source, dither="noise")
    assert no_leftovers(tmp_path)


def test_gif_refuses_frame_rates_browsers_cannot_play(tmp_path):
    with pytest.raises(UsageError, match="50 fps"), open_writer(tmp_path / "fast.gif", W, H, 60):
        pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["slash", "existing", "no extension"])
def test_png_folder_holds_lossless_frames(tmp_path, kind):
    source = frames(4)
    folder = tmp_path / "frames"
    target: str | Path = folder
    if kind == "slash":
        target = f"{folder}/"
    elif kind == "existing":
        folder.mkdir()
        (folder / "notes.txt").write_text("keep me")
        (folder / FRAME_NAME.format(9)).write_bytes(b"stale frame of an older render")
    write_all(target, source)
    names = sorted(p.name for p in folder.iterdir() if p.suffix == ".png")
    assert names == [FRAME_NAME.format(i) for i in range(4)]
    for i, name in enumerate(names):
        np.testing.assert_array_equal(np.asarray(Image.open(folder / name)), source[i])
    if kind == "existing":
        assert (folder / "notes.txt").read_text() == "keep me"
    assert no_leftovers(folder)
    assert no_leftovers(tmp_path)


@pytest.mark.parametrize("name", ["out.mp4", "out.webm", "out.gif", "frames/"])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_error_mid_write_leaves_nothing(tmp_path, name, error):
    path = tmp_path / name
    with pytest.raises(error), open_writer(str(path) + ("/" if name.endswith("/") else ""), W, H, FPS) as w:
        for i, frame in enumerate(frames()):
            if i == 5:
                raise error("interrupted")
            w.write(frame)
    assert list(tmp_path.iterdir()) == []


def test_an_error_keeps_the_previous_output(tmp_path):
    path = tmp_path / "out.mp4"
    path.write_bytes(b"previous video")
    with pytest.raises(RuntimeError), open_writer(path, W, H, FPS) as writer:
        writer.write(frames(1)[0])
        raise RuntimeError("boom")
    assert path.read_bytes() == b"previous video"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_wrong_frames_and_options_are_refused(tmp_path):
    with (
        pytest.raises(ValueError, match=r"\(48, 64, 3\) uint8"),
        open_writer(tmp_path / "a.mp4", W, H, FPS) as w,
    ):
        w.write(np.zeros((H, W, 4), dtype=np.uint8))
    with pytest.raises(UsageError, match="no option speed"):
        open_writer(tmp_path / "a.mp4", W, H, FPS, speed=3).__enter__()
    with pytest.raises(UsageError, match=r"crf for mp4"), open_writer(tmp_path / "a.mp4", W, H, FPS, crf=99):
        pass
    assert list(tmp_path.iterdir()) == []


def test_format_for_path(tmp_path):
    assert format_for_path("a/b.MP4") == "mp4"
    assert format_for_path("clip.webm") == "webm"
    assert format_for_path("clip.gif") == "gif"
    assert format_for_path("frames/") == "png"
    assert format_for_path(tmp_path) == "png"
    assert format_for_path(tmp_path / "new_folder") == "png"
    for bad in ["clip.avi", "frame.png"]:
        with pytest.raises(UsageError, match=r"use \.mp4, \.webm, \.gif, or a folder"):
            format_for_path(bad)
