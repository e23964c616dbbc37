"""Seconds per photo through the learned depth backends (ONNX Runtime), for a 1024x768 photo by default.

Without --model, it first builds an ONNX graph with the Depth Anything V2 *small* architecture
(DINOv2 ViT-S/14 + DPT head, ~25 M parameters) and random weights: the arithmetic is that of the
real model, so the timing is too, without downloading weights. Building it needs torch and
transformers, which are NOT dependencies of dioramic:

    pip install torch transformers          # CPU wheels are enough
    python bench/depth_speed.py             # build + time depth-anything-v2 small
    python bench/depth_speed.py --int8      # the same, dynamically quantised to int8 (needs onnx)
    python bench/depth_speed.py --model ~/.cache/.../model.onnx --backend depth-anything-v2
    python bench/depth_speed.py --model small-int8   # a cached hub variant, if you have one

It prints numbers and asserts nothing about them.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np

from dioramic.depth import DEPTH_BACKENDS, DepthOptions
from dioramic.depth import onnx as dnn
from dioramic.types import Photo

BUILD_DIR = Path(os.environ.get("TMPDIR", "/tmp")) / "dioramic-bench"


def build_random_small(path: Path, size: tuple[int, int]) -> Path:
    """Export Depth Anything V2 small (random weights) with the hub exports' signature,
    pixel_values (1, 3, h, w) float32 -> predicted_depth (1, h, w), for the one input `size` = (h, w).

    The TorchScript exporter bakes the traced sizes into the graph (the position-embedding and
    upsampling sizes become constants), so the export is made static at the size the photo needs;
    the backend reads that size from the file and feeds it (`DepthNetwork.fixed_size`)."""
    try:
        import torch
        from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config
    except ImportError as exc:
        raise SystemExit(f"building the model needs torch and transformers ({exc}); or pass --model") from exc

    backbone = Dinov2Config(
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=6,
        patch_size=14,
        image_size=518,
        out_indices=[3, 6, 9, 12],  # Depth-Anything-V2 'vits': intermediate layers 2, 5, 8, 11
        reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone,
        neck_hidden_sizes=[48, 96, 192, 384],
        reassemble_hidden_size=384,
        fusion_hidden_size=64,
        head_hidden_size=32,
        depth_estimation_type="relative",
    )
    torch.manual_seed(0)
    model = DepthAnythingForDepthEstimation(config).eval()
    params = sum(p.numel() for p in model.parameters())
    print(f"built Depth Anything V2 small with random weights: {params / 1e6:.1f} M parameters")

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.model(pixel_values=pixel_values).predicted_depth

    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, 3, *size)
    start = time.perf_counter()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation chatter
        torch.onnx.export(
            Wrapped(),
            (example,),
            str(path),
            input_names=["pixel_values"],
            output_names=["predicted_depth"],
            opset_version=17,
            dynamo=False,
        )
    print(f"exported {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s")
    return path


def quantize_int8(source: Path) -> Path:
    """Dynamic int8 quantisation (weights int8, activations quantised at run time), the same kind as
    the hub's model_int8.onnx files; needs the onnx package."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = source.with_name(source.stem + "-int8.onnx")
    if not target.is_file():
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
        print(f"quantised {target} ({target.stat().st_size / 1e6:.0f} MB)")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="ONNX file or cached variant name (default: build random small)")
    parser.add_argument("--backend", default="depth-anything-v2", choices=["depth-anything-v2", "midas"])
    parser.add_argument("--size", default="1024x768", help="photo WIDTHxHEIGHT (default 1024x768)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: one per core)")
    parser.add_argument("--int8", action="store_true", help="time a dynamic-int8 copy of the built model")
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR, help="where to keep the built model")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    width, height = (int(v) for v in args.size.lower().split("x"))
    model = args.model
    if model is None:
        size = dnn.network_input_size(height, width, dnn.DEPTH_ANYTHING_V2_PROCESSING)
        built = args.build_dir / f"depth-anything-v2-small-random-{size[1]}x{size[0]}.onnx"
        built = built if built.is_file() else build_random_small(built, size)
        model = str(quantize_int8(built) if args.int8 else built)
    photo = Photo(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8))

    backend = DEPTH_BACKENDS.get(args.backend)(DepthOptions(model=model, threads=args.threads))
    processing = backend.choice.preset.processing
    start = time.perf_counter()
    network = backend.network()
    load = time.perf_counter() - start
    size = network.fixed_size or dnn.network_input_size(height, width, processing)
    print(
        f"{args.backend}: {network.path.name} on {', '.join(network.providers)}, "
        f"{args.threads or os.cpu_count()} threads; photo {width}x{height} -> network input "
        f"{size[1]}x{size[0]}; session load {load:.2f} s"
    )

    backend.predict(photo)  # warm-up: first run allocates
    stages = {"prepare": [], "network": [], "upsample": [], "total": []}
    for _ in range(args.runs):
        t0 = time.perf_counter()
        pixel_values = dnn.prepare_input(photo.rgb, processing, size)
        t1 = time.perf_counter()
        output = network.run(pixel_values)
        t2 = time.perf_counter()
        dnn.upsample(output, (height, width), processing.upsample)
        t3 = time.perf_counter()
        backend.predict(photo)
        t4 = time.perf_counter()
        for name, seconds in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            stages[name].append(seconds)
    for name, values in stages.items():
        label = "predict() per photo" if name == "total" else f"  {name}"
        print(f"{label:22s} median {np.median(values):.3f} s   min {min(values):.3f} s   ({args.runs} runs)")


if __name__ == "__main__":
    main()
