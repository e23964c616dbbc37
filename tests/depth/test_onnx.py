"""The ONNX depth backends on tiny ONNX graphs built here with the real signature; no network, no weights.

The references below reimplement the official transforms independently (Depth-Anything-V2
depth_anything_v2/util/transform.py + dpt.py infer_image; transformers' DPTImageProcessor as
Xenova/dpt-hybrid-midas/preprocessor_config.json configures it), so the backend's arithmetic is
checked number by number.
"""

from __future__ import annotations

import logging
import math
import socket
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from dioramic import hub
from dioramic.depth import DEPTH_BACKENDS, DepthOptions
from dioramic.depth import onnx as dnn
from dioramic.depth.models import (
    DEPTH_ANYTHING_V2_PROCESSING,
    MIDAS_DPT_PROCESSING,
    Processing,
    presets_for,
    resolve_model,
)
from dioramic.errors import InputError, ModelUnavailableError, UsageError
from dioramic.types import Photo

CHANNEL_WEIGHTS = (1.0, 10.0, 100.0)  # the test network's output: 1 R + 10 G + 100 B + 0.5, per pixel


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No network, and an empty Hugging Face cache of our own, for every test."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))  # read once at import
    return tmp_path / "hf" / "hub"


def save_model(
    path: Path,
    *,
    in_dims: tuple[int | str, ...] = ("batch", 3, "height", "width"),
    in_type: int = TensorProto.FLOAT,
    extra_input: bool = False,
    out_rank: int = 3,
) -> Path:
    """An ONNX graph with Depth Anything's signature whose output is a known function of its input:
    predicted_depth = sum_c CHANNEL_WEIGHTS[c] * pixel_values[:, c] + 0.5 (a 1x1 convolution)."""
    weights = np.asarray(CHANNEL_WEIGHTS, np.float32).reshape(1, 3, 1, 1)
    nodes = []
    conv_in = "pixel_values"
    if in_type == TensorProto.FLOAT16:
        nodes.append(helper.make_node("Cast", ["pixel_values"], ["x32"], to=TensorProto.FLOAT))
        conv_in = "x32"
    nodes.append(helper.make_node("Conv", [conv_in, "w", "b"], ["conv"]))
    if out_rank == 3:
        nodes.append(helper.make_node("Squeeze", ["conv", "axis1"], ["predicted_depth"]))
        out_dims: list[int | str] = ["batch", "height", "width"]
    elif out_rank == 4:
        nodes.append(helper.make_node("Identity", ["conv"], ["predicted_depth"]))
        out_dims = ["batch", 1, "height", "width"]
    else:
        nodes.append(helper.make_node("ReduceMean", ["conv"], ["predicted_depth"], keepdims=0))
        out_dims = []
    inputs = [helper.make_tensor_value_info("pixel_values", in_type, list(in_dims))]
    if extra_input:
        inputs.append(helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", 1]))
    graph = helper.make_graph(
        nodes,
        "tiny-depth",
        inputs,
        [helper.make_tensor_value_info("predicted_depth", TensorProto.FLOAT, out_dims)],
        initializer=[
            numpy_helper.from_array(weights, "w"),
            numpy_helper.from_array(np.asarray([0.5], np.float32), "b"),
            numpy_helper.from_array(np.asarray([1], np.int64), "axis1"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def photo(height: int, width: int, seed: int = 0) -> Photo:
    rng = np.random.default_rng(seed)
    return Photo(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


# --- independent references --------------------------------------------------------------------------


def reference_size(height: int, width: int, size: int = 518, multiple: int = 14) -> tuple[int, int]:
    """Resize(keep_aspect_ratio=True, ensure_multiple_of=multiple, resize_method='lower_bound')."""
    scale_h, scale_w = size / height, size / width
    if scale_w > scale_h:
        scale_h = scale_w
    else:
        scale_w = scale_h
    out = []
    for x in (scale_h * height, scale_w * width):
        y = round(x / multiple) * multiple  # Python rounds half to even, like np.round
        if y < size:
            y = math.ceil(x / multiple) * multiple
        out.append(int(y))
    return out[0], out[1]


def reference_da_input(rgb: np.ndarray) -> np.ndarray:
    """image2tensor: BGR->RGB (ours is RGB already) / 255, INTER_CUBIC to the lower-bound size, ImageNet
    normalisation, CHW float32 with a batch axis."""
    h, w = reference_size(*rgb.shape[:2])
    image = cv2.resize(rgb / 255.0, (w, h), interpolation=cv2.INTER_CUBIC)
    image = (image - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    return np.transpose(image, (2, 0, 1))[None].astype(np.float32)


def reference_midas_input(rgb: np.ndarray) -> np.ndarray:
    """DPTImageProcessor (size 384x384, keep_aspect_ratio=False, resample=2 (PIL bilinear), rescale
    1/255, mean = std = 0.5)."""
    resized = np.array(Image.fromarray(rgb).resize((384, 384), resample=Image.Resampling.BILINEAR))
    image = (resized / 255.0 - 0.5) / 0.5
    return np.transpose(image, (2, 0, 1))[None].astype(np.float32)


def reference_bilinear_corners(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """F.interpolate(mode='bilinear', align_corners=True) as two passes of np.interp."""
    (h, w), (out_h, out_w) = values.shape, size
    ys = np.linspace(0.0, h - 1.0, out_h) if out_h > 1 else np.zeros(1)
    xs = np.linspace(0.0, w - 1.0, out_w) if out_w > 1 else np.zeros(1)
    rows = np.stack([np.interp(ys, np.arange(h), values[:, j]) for j in range(w)], axis=1)
    return np.stack([np.interp(xs, np.arange(w), rows[i]) for i in range(out_h)], axis=0)


def keys(x: float, a: float = -0.75) -> float:
    x = abs(x)
    if x <= 1:
        return (a + 2) * x**3 - (a + 3) * x**2 + 1
    if x < 2:
        return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return 0.0


def reference_bicubic(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """F.interpolate(mode='bicubic', align_corners=False), pixel by pixel, edges repeated."""
    (h, w), (out_h, out_w) = values.shape, size
    out = np.zeros(size)
    for i in range(out_h):
        sy = (i + 0.5) * h / out_h - 0.5
        for j in range(out_w):
            sx = (j + 0.5) * w / out_w - 0.5
            total = 0.0
            for y in range(math.floor(sy) - 1, math.floor(sy) + 3):
                for x in range(math.floor(sx) - 1, math.floor(sx) + 3):
                    pixel = values[min(max(y, 0), h - 1), min(max(x, 0), w - 1)]
                    total += keys(sy - y) * keys(sx - x) * pixel
            out[i, j] = total
    return out


def network_function(pixel_values: np.ndarray) -> np.ndarray:
    return np.tensordot(CHANNEL_WEIGHTS, pixel_values[0].astype(np.float64), axes=1) + 0.5


# --- input size and pixel values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((480, 640), (518, 686)),  # 640 * 518/480 = 690.7 -> 49.3 * 14 -> 686
        ((640, 480), (686, 518)),
        ((768, 1024), (518, 686)),
        ((1080, 1920), (518, 924)),
        ((100, 100), (518, 518)),  # upscaled
        ((518, 539), (518, 532)),  # 539 / 14 = 38.5: half to even -> 38, not 39
        ((518, 525), (518, 532)),  # 37.5 -> 38
        ((300, 4000), (518, 6902)),
        ((37, 53), (518, 742)),
    ],
)
def test_depth_anything_input_size_follows_the_official_rule(
    shape: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert reference_size(*shape) == expected
    assert dnn.network_input_size(*shape, DEPTH_ANYTHING_V2_PROCESSING) == expected


def test_input_size_never_falls_below_the_input_size() -> None:
    processing = Processing(510, 14, "lower-bound", "cv2-cubic", (0, 0, 0), (1, 1, 1), "bicubic")
    # 510 / 14 = 36.4 rounds to 504 < 510, so it is rounded up to 518
    assert dnn.network_input_size(480, 640, processing) == (518, 686) == reference_size(480, 640, 510)


def test_midas_input_is_always_384_square() -> None:
    for shape in [(480, 640), (1080, 1920), (50, 30)]:
        assert dnn.network_input_size(*shape, MIDAS_DPT_PROCESSING) == (384, 384)


@pytest.mark.parametrize("shape", [(48, 64), (61, 37), (518, 539)])
def test_depth_anything_pixel_values_equal_the_reference_transform(shape: tuple[int, int]) -> None:
    rgb = photo(*shape, seed=1).rgb
    size = dnn.network_input_size(*shape, DEPTH_ANYTHING_V2_PROCESSING)
    fed = dnn.prepare_input(rgb, DEPTH_ANYTHING_V2_PROCESSING, size)
    assert fed.dtype == np.float32 and fed.flags.c_contiguous
    np.testing.assert_array_equal(fed, reference_da_input(rgb))


def test_pixel_values_are_rgb_order_and_normalised() -> None:
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[...] = (255, 0, 51)
    fed = dnn.prepare_input(rgb, DEPTH_ANYTHING_V2_PROCESSING, (518, 770))
    expected = [(1.0 - 0.485) / 0.229, (0.0 - 0.456) / 0.224, (0.2 - 0.406) / 0.225]
    np.testing.assert_allclose(fed[0].reshape(3, -1).mean(axis=1), expected, rtol=1e-6)
    np.testing.assert_allclose(fed[0].reshape(3, -1).std(axis=1), 0.0, atol=1e-6)


def test_midas_pixel_values_equal_dpt_image_processor() -> None:
    rgb = photo(45, 70, seed=2).rgb
    fed = dnn.prepare_input(rgb, MIDAS_DPT_PROCESSING, (384, 384))
    np.testing.assert_allclose(fed, reference_midas_input(rgb), atol=1e-6)


# --- output upsampling -----------------------------------------------------------------------------


@pytest.mark.parametrize(("src", "dst"), [((7, 9), (20, 31)), ((37, 49), (12, 16)), ((5, 5), (1, 7))])
def test_bilinear_corners_upsampling_matches_reference(src: tuple[int, int], dst: tuple[int, int]) -> None:
    values = np.random.default_rng(3).random(src).astype(np.float32)
    out = dnn.upsample(values, dst, "bilinear-corners")
    assert out.shape == dst and out.dtype == np.float32
    np.testing.assert_allclose(out, reference_bilinear_corners(values, dst), atol=5e-6)  # float32 grid


def test_bilinear_corners_differs_from_half_pixel_linear() -> None:
    """align_corners=True (the official infer_image) is not cv2.INTER_LINEAR (align_corners=False)."""
    values = np.random.default_rng(4).random((10, 14)).astype(np.float32)
    ours = dnn.upsample(values, (25, 33), "bilinear-corners")
    assert ours[0, 0] == values[0, 0] and ours[-1, -1] == values[-1, -1]  # corners land on corners
    assert np.abs(ours - cv2.resize(values, (33, 25), interpolation=cv2.INTER_LINEAR)).max() > 1e-2


@pytest.mark.parametrize(("src", "dst"), [((6, 8), (15, 11)), ((12, 10), (5, 7)), ((3, 3), (3, 3))])
def test_bicubic_upsampling_matches_reference(src: tuple[int, int], dst: tuple[int, int]) -> None:
    values = np.random.default_rng(5).random(src).astype(np.float32)
    np.testing.assert_allclose(
        dnn.upsample(values, dst, "bicubic"), reference_bicubic(values, dst), atol=1e-5
    )


def test_upsampling_matches_torch_interpolate() -> None:
    torch = pytest.importorskip("torch")  # optional cross-check against the reference implementation
    values = np.random.default_rng(6).random((37, 52)).astype(np.float32)
    tensor = torch.from_numpy(values)[None, None]
    for mode, torch_mode, corners in [("bilinear-corners", "bilinear", True), ("bicubic", "bicubic", False)]:
        expected = torch.nn.functional.interpolate(tensor, (101, 77), mode=torch_mode, align_corners=corners)
        np.testing.assert_allclose(dnn.upsample(values, (101, 77), mode), expected[0, 0].numpy(), atol=2e-6)


# --- the backends end to end on tiny models --------------------------------------------------------


@pytest.mark.parametrize("shape", [(30, 40), (41, 23)])
def test_depth_anything_predict_end_to_end(tmp_path: Path, shape: tuple[int, int]) -> None:
    model = save_model(tmp_path / "tiny.onnx")
    image = photo(*shape, seed=7)
    prediction = DEPTH_BACKENDS.get("depth-anything-v2")(DepthOptions(model=str(model))).predict(image)
    expected = reference_bilinear_corners(network_function(reference_da_input(image.rgb)), shape)
    assert prediction.kind == "inverse"
    assert prediction.values.shape == shape and prediction.values.dtype == np.float32
    np.testing.assert_allclose(prediction.values, expected, rtol=1e-5, atol=1e-3)


def test_midas_predict_end_to_end(tmp_path: Path) -> None:
    model = save_model(tmp_path / "tiny.onnx", out_rank=4)  # (1, 1, H, W) outputs are accepted too
    image = photo(26, 35, seed=8)
    prediction = DEPTH_BACKENDS.get("midas")(DepthOptions(model=str(model), threads=1)).predict(image)
    expected = reference_bicubic(network_function(reference_midas_input(image.rgb)), (26, 35))
    assert prediction.kind == "inverse"
    np.testing.assert_allclose(prediction.values, expected, rtol=1e-5, atol=1e-3)


def test_dynamic_model_gets_each_photo_its_own_size(tmp_path: Path) -> None:
    network = dnn.load_network(save_model(tmp_path / "tiny.onnx"))
    assert network.fixed_size is None
    for shape in [(480, 640), (50, 20)]:
        size = dnn.network_input_size(*shape, DEPTH_ANYTHING_V2_PROCESSING)
        fed = dnn.prepare_input(photo(*shape).rgb, DEPTH_ANYTHING_V2_PROCESSING, size)
        assert network.run(fed).shape == size


def test_fixed_size_export_is_fed_its_own_size(tmp_path: Path) -> None:
    model = save_model(tmp_path / "fixed.onnx", in_dims=(1, 3, 98, 126))
    backend = DEPTH_BACKENDS.get("depth-anything-v2")(DepthOptions(model=str(model)))
    assert backend.network().fixed_size == (98, 126)
    image = photo(30, 40, seed=9)
    expected_input = dnn.prepare_input(image.rgb, DEPTH_ANYTHING_V2_PROCESSING, (98, 126))
    expected = reference_bilinear_corners(network_function(expected_input), (30, 40))
    np.testing.assert_allclose(backend.predict(image).values, expected, rtol=1e-5, atol=1e-3)


def test_half_precision_input_export(tmp_path: Path) -> None:
    model = save_model(tmp_path / "fp16.onnx", in_type=TensorProto.FLOAT16)
    network = dnn.load_network(model)
    assert network.input_dtype == np.float16
    prediction = DEPTH_BACKENDS.get("depth-anything-v2")(DepthOptions(model=str(model))).predict(
        photo(20, 20)
    )
    assert prediction.values.shape == (20, 20) and np.isfinite(prediction.values).all()


def test_sessions_are_cached_per_model_file(tmp_path: Path) -> None:
    a, b = save_model(tmp_path / "a.onnx"), save_model(tmp_path / "b.onnx")
    assert dnn.load_network(a, threads=1) is dnn.load_network(a, threads=1)
    assert dnn.load_network(a, threads=1) is not dnn.load_network(b, threads=1)
    assert dnn.load_network(a, threads=1).providers[-1] == "CPUExecutionProvider"


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "what"),
    [
        ({"extra_input": True}, "2 inputs"),
        ({"in_dims": ("batch", 1, "height", "width")}, "input 'pixel_values'"),
        ({"out_rank": 0}, "output 'predicted_depth'"),
    ],
)
def test_model_with_another_signature_is_refused(tmp_path: Path, kwargs: dict, what: str) -> None:
    model = save_model(tmp_path / "odd.onnx", **kwargs)
    with pytest.raises(InputError, match="does not fit the depth model signature") as info:
        dnn.load_network(model)
    assert what in str(info.value) and "pixel_values" in str(info.value)


def test_file_that_is_not_onnx_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "weights.onnx"
    bogus.write_bytes(b"not a protobuf at all")
    with pytest.raises(InputError, match="cannot be loaded as an ONNX model"):
        DEPTH_BACKENDS.get("midas")(DepthOptions(model=str(bogus))).predict(photo(10, 10))


def test_missing_model_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    backend = DEPTH_BACKENDS.get("depth-anything-v2")(DepthOptions(model=str(tmp_path / "nope.onnx")))
    with pytest.raises(ModelUnavailableError, match=r"nope\.onnx does not exist"):
        backend.predict(photo(10, 10))
    with caplog.at_level(logging.WARNING):
        assert backend.available() is False
    assert "does not exist" in caplog.text


def test_offline_without_cached_weights() -> None:
    backend = DEPTH_BACKENDS.get("depth-anything-v2")()
    assert backend.available(photo(10, 10)) is False
    with pytest.raises(ModelUnavailableError) as info:
        backend.predict(photo(10, 10))
    message = str(info.value)
    assert "onnx-community/depth-anything-v2-small/onnx/model.onnx is not in the cache and offline" in message
    assert "--model FILE.onnx" in message


def test_offline_option_without_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    probes: list[float] = []
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: probes.append(timeout) or False)
    backend = DEPTH_BACKENDS.get("midas")(DepthOptions(offline=True))
    assert backend.available() is False
    assert probes == []  # offline never touches the network
    with pytest.raises(
        ModelUnavailableError, match=r"Xenova/dpt-hybrid-midas/onnx/model\.onnx is not in the cache"
    ):
        backend.predict(photo(8, 8))


# --- the hub cache ---------------------------------------------------------------------------------


def place_in_hub_cache(hub: Path, repo_id: str, filename: str, source: Path) -> Path:
    """Lay a file out as huggingface_hub's cache does: models--owner--name/{refs/main, snapshots/sha/}."""
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo_dir = hub / f"models--{repo_id.replace('/', '--')}"
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(sha)
    target = repo_dir / "snapshots" / sha / filename
    target.parent.mkdir(parents=True)
    target.write_bytes(source.read_bytes())
    return target


def test_cached_weights_are_used_offline(tmp_path: Path, offline_hub: Path) -> None:
    cached = place_in_hub_cache(
        offline_hub,
        "onnx-community/depth-anything-v2-small",
        "onnx/model_int8.onnx",
        save_model(tmp_path / "m.onnx"),
    )
    backend = DEPTH_BACKENDS.get("depth-anything-v2")(DepthOptions(model="small-int8"))
    assert backend.available(photo(12, 16)) is True
    assert dnn.locate_weights(backend.choice, download=False) == cached
    assert backend.network().path == cached
    image = photo(12, 16, seed=10)
    expected = reference_bilinear_corners(network_function(reference_da_input(image.rgb)), (12, 16))
    np.testing.assert_allclose(backend.predict(image).values, expected, rtol=1e-5, atol=1e-3)
    # the fp32 file of the same repository is not cached
    assert DEPTH_BACKENDS.get("depth-anything-v2")(DepthOptions(model="small")).available() is False


def test_hub_probe_is_bounded_and_honest(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    for variable in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
        assert hub.hub_reachable(timeout=2.0) is True
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")  # closed now
    assert hub.hub_reachable(timeout=2.0) is False


# --- presets and names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "model", "repo", "filename"),
    [
        ("depth-anything-v2", None, "onnx-community/depth-anything-v2-small", "onnx/model.onnx"),
        ("depth-anything-v2", "small", "onnx-community/depth-anything-v2-small", "onnx/model.onnx"),
        ("depth-anything-v2", "small-fp16", "onnx-community/depth-anything-v2-small", "onnx/model_fp16.onnx"),
        ("depth-anything-v2", "Small-INT8", "onnx-community/depth-anything-v2-small", "onnx/model_int8.onnx"),
        ("depth-anything-v2", "int8", "onnx-community/depth-anything-v2-small", "onnx/model_int8.onnx"),
        ("depth-anything-v2", "base", "onnx-community/depth-anything-v2-base", "onnx/model.onnx"),
        ("depth-anything-v2", "large-fp16", "onnx-community/depth-anything-v2-large", "onnx/model_fp16.onnx"),
        (
            "depth-anything-v2",
            "depth-anything-v2-base-q8",
            "onnx-community/depth-anything-v2-base",
            "onnx/model_int8.onnx",
        ),
        ("midas", None, "Xenova/dpt-hybrid-midas", "onnx/model.onnx"),
        ("midas", "hybrid-int8", "Xenova/dpt-hybrid-midas", "onnx/model_quantized.onnx"),
        ("midas", "dpt-hybrid-midas-quantized", "Xenova/dpt-hybrid-midas", "onnx/model_quantized.onnx"),
    ],
)
def test_variant_names(backend: str, model: str | None, repo: str, filename: str) -> None:
    choice = resolve_model(backend, model)
    assert (choice.preset.repo_id, choice.filename, choice.path) == (repo, filename, None)


def test_paths_are_not_variant_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_model("midas", "my-export.onnx").path == Path("my-export.onnx")
    assert resolve_model("depth-anything-v2", str(tmp_path / "m")).path == tmp_path / "m"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights").write_bytes(b"")  # an existing file without the suffix
    assert resolve_model("depth-anything-v2", "weights").path == Path("weights")


@pytest.mark.parametrize("model", ["huge", "small-q4", "hybrid"])
def test_unknown_variant_lists_the_valid_ones(model: str) -> None:
    with pytest.raises(UsageError, match=r"choose from: small\[-fp16\|-int8\], base"):
        resolve_model("depth-anything-v2", model)


@pytest.mark.parametrize(("model", "warned"), [("small", False), ("base", True), ("large-int8", True)])
def test_non_commercial_weights_warn(model: str, warned: bool, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        resolve_model("depth-anything-v2", model)
    assert ("CC-BY-NC-4.0: non-commercial use only" in caplog.text) is warned


def test_default_presets_are_commercially_usable() -> None:
    assert [p.variant for p in presets_for("depth-anything-v2")] == ["small", "base", "large"]
    assert presets_for("depth-anything-v2")[0].commercial and presets_for("midas")[0].commercial


def test_backends_are_registered() -> None:
    for name in ("depth-anything-v2", "midas"):
        backend = DEPTH_BACKENDS.get(name)
        assert backend.name == name and backend.description
        assert isinstance(backend(), dnn.OnnxDepthBackend)
