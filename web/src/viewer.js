// The 3D preview: a scene.glb shown with three.js. The scene is built in the photo's camera space
// (camera at the origin looking down -Z, Y up, metres), so the view starts from the photo's own camera;
// OrbitControls turn it around the subject (the scene's `focus`, stored in the glTF scene's extras), a
// few degrees for one photo's scene, all round for a reconstructed model (whose extras hold `views`,
// the circle its photos were taken from: the orbit turns about that circle's centre).
// When the GLB carries animations (the camera move), an AnimationMixer plays them on its camera; without
// them the view sways gently around the subject until the user takes over, to show the depth.

import {
  AnimationMixer,
  Box3,
  Clock,
  Color,
  LoopRepeat,
  PerspectiveCamera,
  Scene,
  SRGBColorSpace,
  Vector3,
  WebGLRenderer,
} from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";

const DEG = Math.PI / 180;
const SWAY_DEG = 4;
const MAX_ORBIT_DEG = 12; // a 2.5D scene has nothing behind it: keep the view near the photo's // azimuth swing of the idle sway, each way
const SWAY_PERIOD = 8; // seconds
const SLOW_FRAME = 1 / 12; // seconds: a motion drawn slower than this stops by itself (no GPU?)

export class Viewer {
  constructor(container) {
    this.container = container;
    this.renderer = new WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    this.renderer.outputColorSpace = SRGBColorSpace;
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.frameTime = 0; // smoothed seconds between frames of a playing motion
    this.slow = false; // the motion was stopped because frames came too slowly
    container.append(this.renderer.domElement);
    this.scene = new Scene();
    this.scene.background = new Color(0x11151d);
    this.camera = new PerspectiveCamera(40, 4 / 3, 0.01, 1000);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.enableDamping = true;
    this.controls.dampingFactor = 0.12;
    this.controls.rotateSpeed = 0.4;
    this.controls.addEventListener("start", () => this.stopMotion());
    this.loader = new GLTFLoader();
    this.clock = new Clock();
    this.content = null;
    this.mixer = null;
    this.animCamera = null;
    this.playing = false;
    this.swayTime = 0;
    this.dirty = true;
    this.drewLast = false;
    this.home = null;
    this.onMotionChange = () => {};
    new ResizeObserver(() => this.resize()).observe(container);
    this.resize();
    this.setActive(true);
  }

  /** Draw frames only while the view can be seen (SwiftShader or a laptop GPU need not spin). */
  setActive(active) {
    this.active = active;
    this.dirty = true;
    this.clock.getDelta();
    this.renderer.setAnimationLoop(active ? () => this.frame() : null);
  }

  get hasMotion() {
    return this.mixer !== null;
  }

  get hasContent() {
    return this.content !== null;
  }

  /** Size the canvas to the largest rectangle of the video's aspect ratio that fits the container. */
  resize() {
    const cw = Math.max(1, this.container.clientWidth);
    const ch = Math.max(1, this.container.clientHeight);
    const aspect = this.home ? this.home.aspect : cw / ch;
    const w = Math.max(1, Math.min(cw, Math.round(ch * aspect)));
    const h = Math.max(1, Math.min(ch, Math.round(cw / aspect)));
    this.renderer.setSize(w, h, true);
    for (const camera of [this.camera, this.animCamera]) {
      if (!camera) continue;
      camera.aspect = w / h;
      camera.updateProjectionMatrix();
    }
    this.dirty = true;
  }

  /** Load a GLB from `url`; resolves to {triangles, animated}. */
  async load(url) {
    const gltf = await this.loader.loadAsync(url);
    this.clear();
    this.content = gltf.scene;
    this.scene.add(gltf.scene);
    let triangles = 0;
    gltf.scene.traverse((o) => {
      if (o.isMesh) {
        const index = o.geometry.index;
        triangles += (index ? index.count : o.geometry.attributes.position.count) / 3;
      }
    });
    const extras = gltf.scene.userData || {};
    const box = new Box3().setFromObject(gltf.scene);
    const photoCamera = gltf.cameras.find((c) => c.isPerspectiveCamera);
    const focus = Number(extras.focus) || Math.max(0.1, -box.getCenter(new Vector3()).z);
    // a reconstructed model: `views` is the circle its photos were taken from; it can be seen all round
    const centre = extras.views && Array.isArray(extras.views.centre) ? extras.views.centre.map(Number) : null;
    const around = centre !== null && centre.length === 3 && centre.every(Number.isFinite);
    this.home = {
      fovY: photoCamera ? photoCamera.fov : this.fovFromGeometry(box),
      aspect: photoCamera ? photoCamera.aspect : 4 / 3,
      focus,
      far: Number(extras.far) || -box.min.z,
      target: around ? new Vector3(...centre) : new Vector3(0, 0, -focus),
      around,
    };
    if (gltf.animations.length && photoCamera) {
      this.animCamera = photoCamera;
      this.mixer = new AnimationMixer(gltf.scene);
      for (const clip of gltf.animations) this.mixer.clipAction(clip).setLoop(LoopRepeat, Infinity).play();
    }
    this.resetView();
    this.swayTime = 0;
    this.frameTime = 0;
    this.frameCount = 0;
    this.playing = !this.slow; // a browser found slow once starts still
    this.resize();
    return { triangles: Math.round(triangles), animated: this.hasMotion };
  }

  fovFromGeometry(box) {
    const far = Math.max(1e-3, -box.min.z);
    return 2 * Math.atan(Math.max(Math.abs(box.max.y), Math.abs(box.min.y)) / far) / DEG;
  }

  /** Frame the view as the photo's (or the video's) camera does. */
  fit() {
    this.camera.fov = this.home.fovY;
    this.camera.near = Math.max(1e-3, this.home.focus / 100);
    this.camera.far = this.home.far * 4 + 10;
    this.camera.updateProjectionMatrix();
  }

  resetView() {
    if (!this.home) return;
    this.mixer?.setTime(0);
    const { focus, target, around } = this.home;
    this.camera.position.set(0, 0, 0);
    this.controls.target.copy(target);
    this.camera.lookAt(target);
    if (around) {
      // a model made from photos all round it: orbit freely, from above and below too
      const distance = Math.max(1e-3, target.length());
      this.controls.minAzimuthAngle = -Infinity;
      this.controls.maxAzimuthAngle = Infinity;
      this.controls.minPolarAngle = 0.03;
      this.controls.maxPolarAngle = Math.PI - 0.03;
      this.controls.minDistance = distance * 0.2;
      this.controls.maxDistance = distance * 4;
    } else {
      this.controls.minAzimuthAngle = -MAX_ORBIT_DEG * DEG;
      this.controls.maxAzimuthAngle = MAX_ORBIT_DEG * DEG;
      this.controls.minPolarAngle = (90 - 0.6 * MAX_ORBIT_DEG) * DEG;
      this.controls.maxPolarAngle = (90 + 0.6 * MAX_ORBIT_DEG) * DEG;
      this.controls.minDistance = focus * 0.3;
      this.controls.maxDistance = focus * 2.5;
    }
    this.controls.update();
    this.fit();
    this.dirty = true;
  }

  playMotion() {
    if (!this.content) return;
    this.frameTime = 0;
    this.frameCount = 0;
    if (!this.mixer) {
      this.resetView();
      this.swayTime = 0;
    }
    this.playing = true;
    this.onMotionChange(true);
  }

  stopMotion() {
    if (!this.playing) return;
    this.playing = false;
    // carry on orbiting from where the animated camera was
    if (this.mixer && this.animCamera) {
      this.animCamera.updateWorldMatrix(true, false);
      this.camera.position.setFromMatrixPosition(this.animCamera.matrixWorld);
      this.controls.update();
    }
    this.onMotionChange(false);
  }

  clear() {
    if (this.content) {
      this.scene.remove(this.content);
      this.content.traverse((o) => {
        if (o.isMesh) {
          o.geometry.dispose();
          for (const m of [].concat(o.material)) {
            m.map?.dispose();
            m.dispose();
          }
        }
      });
    }
    this.content = null;
    this.mixer = null;
    this.animCamera = null;
    this.playing = false;
    this.home = null;
    this.dirty = true;
  }

  /** Stop a playing motion whose frames come too slowly to look like one (a CPU-only browser). */
  watch(seconds) {
    this.frameTime = this.frameTime ? 0.8 * this.frameTime + 0.2 * seconds : seconds;
    this.frameCount = (this.frameCount || 0) + 1;
    if (this.frameCount > 8 && this.frameTime > SLOW_FRAME) {
      this.slow = true;
      this.stopMotion();
    }
  }

  frame() {
    const raw = this.clock.getDelta();
    if (this.playing && this.drewLast) this.watch(raw);
    const dt = Math.min(raw, 0.1);
    if (this.mixer && this.playing) {
      this.mixer.update(dt);
      this.renderer.render(this.scene, this.animCamera);
      this.drewLast = true;
      return;
    }
    if (this.playing && this.home) {
      this.swayTime += dt;
      const phase = (2 * Math.PI * this.swayTime) / SWAY_PERIOD;
      const azimuth = SWAY_DEG * DEG * Math.sin(phase);
      const elevation = 0.35 * SWAY_DEG * DEG * Math.sin(2 * phase);
      const r = this.home.focus;
      const t = this.controls.target;
      this.camera.position.set(
        t.x + r * Math.sin(azimuth) * Math.cos(elevation),
        t.y + r * Math.sin(elevation),
        t.z + r * Math.cos(azimuth) * Math.cos(elevation),
      );
      this.camera.lookAt(t);
      this.dirty = true;
    }
    // draw only when something moved: an idle view costs nothing (SwiftShader renders on the CPU)
    const moved = this.controls.update();
    this.drewLast = moved || this.dirty;
    if (this.drewLast) this.renderer.render(this.scene, this.camera);
    this.dirty = false;
  }
}
