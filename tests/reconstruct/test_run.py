"""The whole reconstruction on a synthetic ring of views with known cameras, and its bad inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dioramic.errors import InputError, UsageError
from dioramic.reconstruct import ReconstructOptions, reconstruct
from dioramic.reconstruct.run import held_out_names
from dioramic.scene_file import load_scene

from .conftest import RING, Ring, colmap_centres, noise_texture, umeyama_error


def test_every_view_is_placed_where_it_was(reconstruction, ring: Ring) -> None:
    report = reconstruction.report
    assert report["images_given"] == RING and report["registered"] == RING and report["failed"] == {}
    centres = colmap_centres(reconstruction.folder / "sparse" / "images.txt")
    names = sorted(centres)
    estimated = np.array([centres[n] for n in names])
    true = np.array([ring.poses[int(n[5:7])].camera_position for n in names])
    error = umeyama_error(estimated, true)
    extent = max(np.linalg.norm(a - b) for a in true for b in true)
    assert error.mean() < 0.005 * extent, error  # the bar for real photos: 0.5 % of the trajectory


def test_the_report_says_what_was_done(reconstruction) -> None:
    report = json.loads((reconstruction.folder / "report.json").read_text())
    assert report == json.loads(json.dumps(reconstruction.report))
    assert report["held_out"] == ["view_01.png", "view_05.png", "view_09.png"]
    assert report["reprojection_error_px"] < 1.0 and report["points"] > 100
    assert report["triangles"] == reconstruction.scene.triangle_count
    assert set(report["timings_s"]) >= {"read", "sfm", "depth", "fusion", "texture", "export"}
    assert report["files"] == ["holdout/", "images/", "report.json", "scene.glb", "sparse/"]
    assert report["reference_view"] not in report["held_out"]


def test_the_model_is_a_textured_scene_in_the_reference_camera(reconstruction) -> None:
    scene = reconstruction.scene
    assert [m.name for m in scene.meshes] == ["background", "model"]
    model = scene.meshes[1]
    assert model.texture.ndim == 3 and model.texture.shape[2] == 3 and model.texture.shape[0] > 64
    assert 1000 < len(model.faces) <= 30_000
    assert model.uvs.min() >= 0 and model.uvs.max() <= 1
    # the reference camera looks at the model: it lies ahead of it (-z), around the centre
    assert np.median(model.vertices[:, 2]) < 0
    assert scene.near < scene.focus < scene.far
    views = scene.views
    assert views is not None and math.isclose(float(np.linalg.norm(views.axis)), 1.0)
    # the ring's cameras stood 25 degrees above the box: the centre is ahead, the circle above it
    assert views.centre[2] < 0 and views.height > 0
    assert math.degrees(math.atan2(views.height, views.radius)) == pytest.approx(25.0, abs=6.0)


def test_the_model_faces_the_cameras(reconstruction) -> None:
    model = reconstruction.scene.meshes[1]
    v = model.vertices[model.faces.astype(np.int64)]
    normals = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    # seen from the reference camera at the origin, most visible triangles turn to it
    towards = (normals * -v.mean(axis=1)).sum(axis=1) > 0
    assert towards.mean() > 0.6


def test_held_out_views_are_rendered_and_resemble_the_photos(reconstruction, ring: Ring) -> None:
    for name in reconstruction.report["held_out"]:
        rendered = np.asarray(Image.open(reconstruction.folder / "holdout" / name))
        photo = np.asarray(Image.open(ring.folder / name).convert("RGB")).astype(np.float64)
        assert rendered.shape == (*photo.shape[:2], 4)
        covered = rendered[..., 3] >= 128
        assert covered.mean() > 0.95  # the model and its backdrop fill the frame
        error = np.abs(rendered[..., :3].astype(np.float64) - photo)[covered].mean()
        assert error < 25, name  # mean absolute error, 0..255 (a wrong pose gives about 50)


def test_the_glb_reads_back_with_its_views(reconstruction) -> None:
    scene = load_scene(reconstruction.folder / "scene.glb")
    assert [m.name for m in scene.meshes] == ["background", "model"]
    assert scene.views is not None
    np.testing.assert_allclose(scene.views.centre, reconstruction.scene.views.centre, rtol=1e-6)
    assert scene.focus == pytest.approx(reconstruction.scene.focus)


def test_the_sparse_model_is_for_nerf_trainers(reconstruction) -> None:
    sparse = reconstruction.folder / "sparse"
    assert {"cameras.txt", "images.txt", "points3D.txt", "transforms.json", "points3D.ply"} <= {
        p.name for p in sparse.iterdir()
    }
    transforms = json.loads((sparse / "transforms.json").read_text())
    assert len(transforms["frames"]) == RING and transforms["camera_model"] == "OPENCV"
    frame = transforms["frames"][0]
    assert (reconstruction.folder / "sparse" / frame["file_path"]).resolve().is_file()
    assert len(transforms["test_filenames"]) == 3
    # the reference view's camera is the scene's: identity pose
    reference = reconstruction.report["reference_view"]
    matrix = next(f["transform_matrix"] for f in transforms["frames"] if f["file_path"].endswith(reference))
    np.testing.assert_allclose(matrix, np.eye(4), atol=1e-6)


def test_held_out_names_start_with_the_second() -> None:
    assert held_out_names([f"{k}.png" for k in "edcba"], 2) == ["b.png", "d.png"]


def test_fewer_than_three_images_are_refused(ring: Ring, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"at least 3 photos, .* got 2: view_00.png, view_01.png"):
        reconstruct(ring.paths[:2], out)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_images_that_do_not_overlap_are_named(ring: Ring, tmp_path: Path) -> None:
    for k in range(4):  # unrelated pictures: nothing in common with anything
        Image.fromarray(noise_texture(300, 100 + k)).save(tmp_path / f"noise_{k}.png")
    (tmp_path / "broken.png").write_bytes(b"")
    out = tmp_path / "out"
    with pytest.raises(InputError) as caught:
        photos = [tmp_path / f"noise_{k}.png" for k in range(4)]
        reconstruct([*photos, tmp_path / "broken.png"], out, ReconstructOptions(write_video=False))
    message = str(caught.value)
    assert "\n" not in message and "could place only 0 of 4 images" in message
    assert all(f"noise_{k}.png" in message for k in range(4))
    assert message.endswith("; left out before: broken.png: the file is empty (0 bytes)")
    assert not out.exists()


def test_a_failed_run_keeps_the_previous_output(ring: Ring, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "scene.glb").write_bytes(b"earlier")
    with pytest.raises(InputError):
        reconstruct(ring.paths[:2], out)
    assert (out / "scene.glb").read_bytes() == b"earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_bad_options_are_usage_errors(ring: Ring, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--holdout"):
        reconstruct(ring.paths, tmp_path / "out", ReconstructOptions(holdout=1))
    assert not (tmp_path / "out").exists()


def test_a_video_walking_around_the_object(tmp_path: Path, gl_available: None) -> None:
    import av

    from dioramic.render.opengl import GLRenderer

    from .conftest import SIZE, object_scene, ring_poses

    poses = ring_poses(36)[:25]  # a 240-degree walk, 10 degrees a frame
    with av.open(str(tmp_path / "walk.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=6)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.options = {"crf": "16"}
        with GLRenderer(object_scene(), *SIZE, supersample=2, background=(30, 30, 30)) as renderer:
            for pose in poses:
                frame = av.VideoFrame.from_ndarray(renderer.render(pose), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    options = ReconstructOptions(max_frames=9, max_triangles=3000, write_video=False, background=False)
    result = reconstruct([tmp_path / "walk.mp4"], tmp_path / "out", options)
    report = result.report
    assert report["images_given"] == 9 and report["registered"] >= 8
    assert report["images"][0] == "frame_0001.jpg" and " @ " in report["sources"][0]
    assert (tmp_path / "out" / "images" / "frame_0009.jpg").is_file()
    assert [m.name for m in result.scene.meshes] == ["model"]


def test_importing_the_package_touches_no_heavy_dependency() -> None:
    import subprocess
    import sys

    code = (
        "import sys, dioramic, dioramic.reconstruct as r; r.ReconstructOptions, r.reconstruct;"
        "print(','.join(m for m in ('pycolmap', 'open3d', 'cv2', 'moderngl', 'av') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
