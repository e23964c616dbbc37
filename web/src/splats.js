// Gaussian splats in the page: a job's splats.ply drawn by Spark (@sparkjsdev/spark, a maintained
// 3D Gaussian splat renderer for three.js), in the 3D view in place of the mesh, or as still frames.
// The page loads this module (and Spark, about 2.7 MB) only when a job wrote splats.ply.
//
// The splats are in the scene's coordinates (those of scene.glb: metres, Y up, the photo's camera at
// the origin looking down -Z), so the viewer's camera, its orbit and the GLB's camera move apply to
// them as they are.

import { SparkRenderer, SplatMesh } from "@sparkjsdev/spark";
import { Color, PerspectiveCamera, Scene, WebGLRenderer } from "three";

// The classic 3DGS kernel (Kerbl et al.): every splat's screen footprint is widened by 0.3 px^2
// and its opacity kept. Spark's default instead keeps the footprint's total opacity (the
// Mip-Splatting filter, for splats trained with it), which thins out splats smaller than a pixel
// and lets what lies behind show through a surface of texel-sized splats.
const KERNEL = { preBlurAmount: 0.3, blurAmount: 0.0 };

/** Splats shown in a `Viewer` (viewer.js) instead of its mesh, with a button that switches. */
export class SplatLayer {
  constructor(viewer) {
    this.viewer = viewer;
    this.spark = new SparkRenderer({
      renderer: viewer.renderer,
      onDirty: () => (viewer.dirty = true),
      ...KERNEL,
    });
    viewer.scene.add(this.spark);
    this.mesh = null;
    this.url = null;
    this.count = 0;
    this.shown = false;
    this.offered = false; // whether the page offers these splats for what it shows
  }

  /** Load the splat file at `url` (replacing any earlier one); resolves to the number of splats. Spark's
   * packed encoding: its extended one stores view-dependent colours coarsely (a reconstruction's
   * harmonics at about half their strength) and drew the demo photo no better (SSIM 0.918 both). */
  async load(url) {
    const mesh = new SplatMesh({ url });
    await mesh.initialized;
    this.clear();
    this.mesh = mesh;
    this.url = url;
    mesh.visible = this.shown;
    this.viewer.scene.add(mesh);
    this.viewer.dirty = true;
    this.count = mesh.packedSplats?.numSplats ?? mesh.numSplats ?? 0;
    return this.count;
  }

  /** Show the splats (true) or the mesh (false). */
  show(shown) {
    this.shown = shown && this.mesh !== null;
    if (this.mesh) this.mesh.visible = this.shown;
    if (this.viewer.content) this.viewer.content.visible = !this.shown;
    this.viewer.dirty = true;
  }

  clear() {
    if (this.mesh) {
      this.viewer.scene.remove(this.mesh);
      this.mesh.dispose();
    }
    this.mesh = null;
    this.url = null;
    this.count = 0;
  }
}

/** The page's control: once a job has splats.ply, `button` switches the 3D view between the mesh and
 * the splats. Call with url = null to take the splats away (a new preview without them, the other
 * mode); offered again, the same url is not loaded twice. */
export async function offerSplats(viewer, button, url) {
  if (!viewer.splats) {
    viewer.splats = new SplatLayer(viewer);
    button.addEventListener("click", () => {
      viewer.splats.show(!viewer.splats.shown);
      button.textContent = viewer.splats.shown ? "Show mesh" : "Show splats";
    });
  }
  const layer = viewer.splats;
  if (!url) {  // none for what is on screen: put them away (kept loaded, in case they come back)
    layer.show(false);
    layer.offered = false;
    button.hidden = true;
    return 0;
  }
  const count = url === layer.url ? layer.count : await layer.load(url); // back to a mode: no reload
  layer.offered = true;
  layer.show(layer.shown);
  button.textContent = layer.shown ? "Show mesh" : "Show splats";
  button.title = `${count.toLocaleString()} Gaussian splats (splats.ply)`;
  button.hidden = false;
  return count;
}

/**
 * Still frames of the splat file at `url`, each from one camera: {position: [x, y, z], quaternion:
 * [x, y, z, w] (the camera's world rotation; it looks down its -Z), fovY: degrees}. Resolves to PNG
 * data URLs of `width` x `height` frames on `background` (CSS colour). For tests and thumbnails.
 * `extSplats`: Spark's extended encoding (float32 centres) instead of the packed one the page draws
 * with; it stores view-dependent colours coarsely.
 */
export async function renderViews(url, { width, height, views, background = "#000000", extSplats = false }) {
  const canvas = document.createElement("canvas");
  const renderer = new WebGLRenderer({ canvas, antialias: false, preserveDrawingBuffer: true });
  renderer.setPixelRatio(1);
  renderer.setSize(width, height, false);
  const scene = new Scene();
  scene.background = new Color(background);
  const spark = new SparkRenderer({ renderer, ...KERNEL });
  scene.add(spark);
  const mesh = new SplatMesh({ url, extSplats });
  await mesh.initialized;
  scene.add(mesh);
  const camera = new PerspectiveCamera(45, width / height, 0.01, 1000);
  const frames = [];
  try {
    for (const view of views) {
      camera.position.fromArray(view.position);
      camera.quaternion.fromArray(view.quaternion);
      camera.fov = view.fovY;
      camera.near = view.near ?? 0.01;
      camera.far = view.far ?? 1000;
      camera.updateProjectionMatrix();
      camera.updateMatrixWorld(true);
      // Spark sorts the splats for the camera in a worker: draw until the order it drew with is this
      // camera's (two updates in a row), then keep that frame
      for (let i = 0; i < 3; i += 1) {
        await spark.update({ scene, camera });
        renderer.render(scene, camera);
      }
      frames.push(canvas.toDataURL("image/png"));
    }
  } finally {
    mesh.dispose();
    spark.dispose();
    renderer.dispose();
  }
  return frames;
}
