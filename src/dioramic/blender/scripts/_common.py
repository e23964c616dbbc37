"""Shared by the scripts that run inside Blender's Python (bpy): run from `run_script`, not imported.

Frame numbering: video frame i (t = i / fps) is Blender frame ``first_frame + i``; Blender scenes start
at frame 1, so ``first_frame`` is 1 unless the caller says otherwise.
"""

from __future__ import annotations

import json
import math
import sys
import traceback
from collections.abc import Callable
from typing import Any

import bpy

RESULT_MARK = "DIORAMIC-RESULT:"
PROGRESS_MARK = "DIORAMIC-PROGRESS:"
CAMERA_NAME = "video camera"
ENGINES = {"workbench": "BLENDER_WORKBENCH", "eevee": "BLENDER_EEVEE", "cycles": "CYCLES"}
CYCLES_SAMPLES = 16
"""Cycles' samples per pixel unless given: enough to anti-alias our unlit scenes."""


def main(body: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Run `body(params)` with the parameters file named by argv[1]; report its result or error."""
    with open(sys.argv[1], encoding="utf-8") as fh:
        params = json.load(fh)
    try:
        result = body(params)
    except Exception as exc:
        traceback.print_exc()
        sys.stderr.write(f"ERROR: {exc}\n")
        sys.stderr.flush()
        sys.exit(1)
    sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


def progress(done: int, total: int) -> None:
    """Tell dioramic how far the script is (a stdout line it reads as it comes)."""
    sys.stdout.write(f"{PROGRESS_MARK}{done}/{total}\n")
    sys.stdout.flush()


def srgb_to_linear(value: float) -> float:
    """One sRGB-encoded channel (0..1) to linear light."""
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def _fcurves(action: bpy.types.Action) -> list[bpy.types.FCurve]:
    curves = []
    for layer in action.layers:
        for strip in layer.strips:
            for bag in strip.channelbags:
                curves.extend(bag.fcurves)
    return curves


def import_glb(path: str, fps: float, first_frame: int) -> bpy.types.Object:
    """Empty the file, import our GLB and retime its keyframes: sample i lands on frame first_frame + i.

    Blender's importer turns seconds into frames with the scene's frame rate at import time (and its
    KHR_animation_pointer path ignores fps_base), so the import runs at an integer rate and the keys
    are then mapped exactly. Returns the camera object, made the scene's camera.
    """
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    import_rate = max(1, round(fps))
    scene.render.fps, scene.render.fps_base = import_rate, 1.0
    bpy.ops.import_scene.gltf(filepath=path)
    camera = bpy.data.objects.get(CAMERA_NAME)
    if camera is None or camera.type != "CAMERA":
        cameras = [o for o in bpy.data.objects if o.type == "CAMERA"]
        if not cameras:
            raise ValueError(f"{path} has no camera")
        camera = cameras[0]
    scene.camera = camera
    factor = fps / import_rate
    for action in bpy.data.actions:
        for curve in _fcurves(action):
            for key in curve.keyframe_points:
                for point in (key.co, key.handle_left, key.handle_right):
                    point.x = point.x * factor + first_frame
            curve.update()
    scene.render.fps = import_rate
    scene.render.fps_base = import_rate / fps
    return camera


def set_up_scene(params: dict[str, Any]) -> bpy.types.Scene:
    """Frame range, resolution, colour management, background and render engine from `params`."""
    scene = bpy.context.scene
    first, count = int(params["first_frame"]), int(params["frame_count"])
    scene.frame_start, scene.frame_end = first, first + count - 1
    scene.frame_set(first)
    render = scene.render
    render.resolution_x, render.resolution_y = int(params["width"]), int(params["height"])
    render.resolution_percentage = 100
    render.pixel_aspect_x = render.pixel_aspect_y = 1.0
    render.film_transparent = False
    render.use_motion_blur = bool(params.get("motion_blur", False))
    # The photo's colours as they are: no filmic/AgX tone curve (unlit emission 1.0 = the texel).
    scene.display_settings.display_device = "sRGB"
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    _set_background(scene, params.get("background", (0, 0, 0)))
    engine = params.get("engine", "eevee")
    if engine not in ENGINES:
        raise ValueError(f"unknown Blender engine '{engine}' (choose from: {', '.join(ENGINES)})")
    render.engine = ENGINES[engine]
    samples = params.get("samples")
    if engine == "workbench":
        shading = scene.display.shading
        shading.light, shading.color_type = "FLAT", "TEXTURE"
        scene.display.render_aa = "8" if samples is None else _workbench_aa(int(samples))
    elif engine == "eevee":
        if samples is not None:
            scene.eevee.taa_render_samples = int(samples)
    else:
        scene.cycles.device = "CPU"
        # The scene is unlit (emission only): samples only anti-alias edges and soft alpha, there is
        # no lighting noise to denoise (denoising 1280x852 costs more than 16 samples on a CPU), and
        # only the camera and the model move, so the scene's data is kept from frame to frame.
        scene.cycles.samples = CYCLES_SAMPLES if samples is None else int(samples)
        scene.cycles.use_denoising = False
        render.use_persistent_data = True
    return scene


def _workbench_aa(samples: int) -> str:
    options = [1, 5, 8, 11, 16, 32]
    best = min(options, key=lambda n: (abs(n - samples), n))
    return "OFF" if best == 1 else str(best)


def _set_background(scene: bpy.types.Scene, rgb: Any) -> None:
    world = scene.world or bpy.data.worlds.new("dioramic background")
    scene.world = world
    linear = [srgb_to_linear(float(c) / 255.0) for c in rgb]
    world.color = linear  # Workbench
    tree = world.node_tree
    node = next((n for n in tree.nodes if n.type == "BACKGROUND"), None) if tree else None
    if node is not None:  # EEVEE and Cycles
        node.inputs["Color"].default_value = (*linear, 1.0)
        node.inputs["Strength"].default_value = 1.0


def frame_rate(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def camera_report(camera: bpy.types.Object) -> dict[str, Any]:
    """Keyframe frames of the camera object's transform and of its lens, for checks."""
    report: dict[str, Any] = {"name": camera.name, "sensor_fit": camera.data.sensor_fit}
    for key, owner in (("transform_keys", camera), ("lens_keys", camera.data)):
        frames: set[float] = set()
        data = owner.animation_data
        if data is not None and data.action is not None:
            for curve in _fcurves(data.action):
                if data.action_slot is not None and not _curve_in_slot(data.action, curve, data.action_slot):
                    continue
                frames.update(round(k.co.x, 4) for k in curve.keyframe_points)
        report[key] = sorted(frames)
    report["angle_y"] = camera.data.angle_y
    return report


def _curve_in_slot(action: bpy.types.Action, curve: bpy.types.FCurve, slot: Any) -> bool:
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot)
            if bag is not None and any(c == curve for c in bag.fcurves):
                return True
    return False


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
