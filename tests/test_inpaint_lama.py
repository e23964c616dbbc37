"""The LaMa inpainter (dioramic.scene.inpaint_lama), run through tiny ONNX graphs with LaMa's signature.

The graphs follow the Carve/LaMa-ONNX export exactly (input names, shapes, value ranges): 'image'
(batch, 3, S, S) in [0, 1], 'mask' (batch, 1, S, S) with 1 = fill, 'output' (batch, 3, S, S) in
[0, 255], equal to the image outside the mask. Inside it they paint one known colour, so what the
inpainter does with the model's values can be checked exactly.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from dioramic.errors import InputError, ModelUnavailableError  # noqa: E402
from dioramic.scene import INPAINTERS, SceneOptions, build_scene  # noqa: E402
from dioramic.scene.inpaint_lama import (  # noqa: E402
    DEFAULT_SIZE,
    FILENAME,
    MODEL_ENV,
    REPO_ID,
    REVISION,
    LamaInpainter,
    context_box,
    locate_lama_weights,
)
from dioramic.types import DepthMap, Photo  # noqa: E402

FILL = np.array([40, 200, 120], np.uint8)  # what the fake model paints inside the mask
SEAM = 4.0  # pixels inside the mask where the fill is blended into the photo (inpaint_lama._SEAM_PX)


def _fake_lama(path: Path, size: int | None = 64) -> Path:
    """An ONNX graph with LaMa's signature: output = clip(255 * (image * (1 - mask) + FILL / 255 * mask)).

    `size` None: height and width are dynamic (as in exports with dynamic axes)."""
    h, w = (size, size) if size else ("height", "width")
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, h, w])
    mask = helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", 1, h, w])
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 3, h, w])
    consts = [
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("fill", TensorProto.FLOAT, [1, 3, 1, 1], (FILL / 255.0).tolist()),
        helper.make_tensor("scale", TensorProto.FLOAT, [], [255.0]),
        helper.make_tensor("lo", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("hi", TensorProto.FLOAT, [], [255.0]),
    ]
    nodes = [
        helper.make_node("Sub", ["one", "mask"], ["keep"]),
        helper.make_node("Mul", ["image", "keep"], ["known"]),
        helper.make_node("Mul", ["mask", "fill"], ["painted"]),
        helper.make_node("Add", ["known", "painted"], ["blend"]),
        helper.make_node("Mul", ["blend", "scale"], ["scaled"]),
        helper.make_node("Clip", ["scaled", "lo", "hi"], ["output"]),
    ]
    graph = helper.make_graph(nodes, "fake-lama", [image, mask], [output], initializer=consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.fixture(scope="module")
def fake_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fake_lama(tmp_path_factory.mktemp("lama") / "lama.onnx")


def _depth_inside(mask: np.ndarray) -> np.ndarray:
    """(H, W) float32 distance in pixels of every masked pixel to the nearest unmasked one."""
    import cv2

    return cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _assert_filled(out: np.ndarray, rgb: np.ndarray, mask: np.ndarray) -> None:
    """Unmasked pixels unchanged; masked ones beyond the blended seam exactly the model's colour."""
    assert out.shape == rgb.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[~mask], rgb[~mask])
    deep = _depth_inside(mask) > SEAM + 1
    assert deep.sum() > 0
    np.testing.assert_array_equal(out[deep], np.broadcast_to(FILL, (deep.sum(), 3)))


def _image(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 3 % 256, y * 5 % 256, (x + 2 * y) % 256], axis=2).astype(np.uint8)


def test_masked_pixels_take_the_model_values_and_the_rest_is_unchanged(fake_model: Path) -> None:
    rgb = _image(48, 60)  # fits the 64 x 64 model: no resampling, only mirrored padding
    mask = np.zeros((48, 60), bool)
    mask[10:30, 35:50] = True
    mask[40:44, 2:8] = True
    rgb[mask] = (255, 0, 0)  # what the foreground shows there must not come back
    out = LamaInpainter(model=fake_model)(rgb, mask)
    _assert_filled(out, rgb, mask)
    # the seam: the first pixels inside take the photo's colours beside them, then fade into the fill
    seam = mask & (_depth_inside(mask) <= 1.0)
    assert np.abs(out[seam].astype(int) - FILL).mean() > 20
    assert not ((out[mask, 0] > 200) & (out[mask, 1] < 50)).any()  # no red from under the mask


def test_a_large_crop_is_downscaled_to_the_model_and_blended_at_the_seam(fake_model: Path) -> None:
    y, x = np.mgrid[0:240, 0:320]
    rgb = np.stack([x * 0.5, y * 0.8, np.full_like(x, 90)], axis=2).astype(np.uint8)  # smooth
    mask = np.zeros((240, 320), bool)
    mask[80:160, 100:220] = True
    rgb[mask] = (255, 0, 0)
    out = LamaInpainter(model=fake_model)(rgb, mask)  # a 200 x 200 crop, run at 64 x 64
    np.testing.assert_array_equal(out[~mask], rgb[~mask])
    inside = _depth_inside(mask)
    deep = inside > SEAM + 4  # beyond the seam and the upscaling's blur: the model's colour
    assert np.abs(out[deep].astype(int) - FILL).max() <= 1
    # across the seam, along the middle row: from the photo's colour to the fill's, without a step
    row = out[120, 90:115].astype(int)
    assert np.abs(row[10] - rgb[120, 99]).max() <= 6  # the first pixel inside: the photo beside it
    assert np.abs(np.diff(row, axis=0)).max() <= max(np.abs(FILL.astype(int) - rgb[120, 99]).max() // 3, 8)
    assert np.abs(row[-1] - FILL).max() <= 1


def test_context_box_keeps_the_model_aspect_and_stays_inside_the_image() -> None:
    mask = np.zeros((100, 300), bool)
    mask[0:5, 290:300] = True  # in a corner
    rows, cols = context_box(mask, (64, 128))
    assert (rows.stop - rows.start, cols.stop - cols.start) == (64, 128)
    assert rows.start == 0 and cols.stop == 300
    mask[:] = True  # all of it: the whole image
    assert context_box(mask, (64, 64)) == (slice(0, 100), slice(0, 300))


def test_an_export_with_dynamic_size_runs_at_the_default_size(tmp_path: Path) -> None:
    inpainter = LamaInpainter(model=_fake_lama(tmp_path / "dynamic.onnx", size=None))
    assert inpainter.network().size == (DEFAULT_SIZE, DEFAULT_SIZE)
    rgb, mask = _image(40, 50), np.zeros((40, 50), bool)
    mask[5:25, 5:25] = True
    _assert_filled(inpainter(rgb, mask), rgb, mask)


def test_an_empty_mask_changes_nothing_and_needs_no_weights(tmp_path: Path) -> None:
    rgb = _image(20, 30)
    out = LamaInpainter(cache_dir=tmp_path)(rgb, np.zeros((20, 30), bool))
    np.testing.assert_array_equal(out, rgb)


def test_weights_neither_cached_nor_downloadable_are_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MODEL_ENV, raising=False)
    rgb, mask = _image(20, 30), np.ones((20, 30), bool)
    inpainter = LamaInpainter(cache_dir=tmp_path)  # an empty hub cache; HF_HUB_OFFLINE=1 (conftest)
    assert not inpainter.available()
    with pytest.raises(ModelUnavailableError, match="run once with internet or pass the model file"):
        inpainter(rgb, mask)
    assert locate_lama_weights(cache_dir=tmp_path, download=False) is None
    missing = tmp_path / "nowhere" / "lama.onnx"
    with pytest.raises(ModelUnavailableError, match="nowhere"):
        LamaInpainter(model=missing)(rgb, mask)


def test_weights_in_the_hub_cache_are_used_offline(fake_model: Path, tmp_path: Path) -> None:
    snapshot = tmp_path / f"models--{REPO_ID.replace('/', '--')}" / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    shutil.copy(fake_model, snapshot / FILENAME)
    assert locate_lama_weights(cache_dir=tmp_path) == snapshot / FILENAME
    rgb, mask = _image(40, 40), np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    _assert_filled(LamaInpainter(cache_dir=tmp_path)(rgb, mask), rgb, mask)


def test_a_model_with_another_signature_is_an_input_error(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4, 64, 64])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4, 64, 64])
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "other", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "other.onnx")
    with pytest.raises(InputError, match="LaMa signature"):
        LamaInpainter(model=tmp_path / "other.onnx").network()


def test_registered_as_lama_and_the_environment_names_the_file(
    fake_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MODEL_ENV, str(fake_model))
    rgb, mask = _image(40, 40), np.zeros((40, 40), bool)
    mask[8:30, 8:30] = True
    _assert_filled(INPAINTERS.get("lama")(rgb, mask), rgb, mask)


def test_a_layered_scene_with_the_lama_inpainter(fake_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_ENV, str(fake_model))
    depth = np.full((48, 64), 3.0, np.float32)
    depth[14:34, 20:44] = 1.0  # a box in front of a wall
    rgb = _image(48, 64)
    rgb[14:34, 20:44] = (255, 0, 0)
    scene = build_scene(Photo(rgb), DepthMap(depth), SceneOptions(inpainter="lama"))
    back = scene.meshes[0].texture[..., :3]
    assert (np.abs(back.astype(int) - FILL).max(axis=-1) <= 1).sum() > 20  # the hidden band: the model's


def test_importing_the_scene_does_not_import_onnxruntime() -> None:
    code = (
        "import sys, dioramic.scene as s\n"
        "assert 'lama' in s.INPAINTERS\n"
        "assert 'onnxruntime' not in sys.modules and 'huggingface_hub' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
