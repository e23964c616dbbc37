// Play a dioramic animated GLB with three.js's GLTFLoader and AnimationMixer, as a web page would,
// and print the camera's and the "diorama" node's world matrices at the given times (seconds).
// Usage: node play.mjs FILE.glb T0 T1 ...   (prints JSON; matrices are column-major, as three.js keeps them)
// Node has no image decoder for GLTFLoader: give it a GLB whose materials have no textures.
import { readFile } from "node:fs/promises";
import * as THREE from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";

const [file, ...times] = process.argv.slice(2);
if (!file) {
  console.error("usage: node play.mjs FILE.glb T0 T1 ...");
  process.exit(2);
}
const data = await readFile(file);
const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
const gltf = await new Promise((resolve, reject) => new GLTFLoader().parse(buffer, "", resolve, reject));
const clip = gltf.animations[0];
const mixer = new THREE.AnimationMixer(gltf.scene);
const action = mixer.clipAction(clip);
action.setLoop(THREE.LoopOnce, 1);
action.clampWhenFinished = true;
action.play();
const camera = gltf.cameras[0];
const diorama = gltf.scene.getObjectByName("diorama");
const frames = [];
for (const t of times.map(Number)) {
  mixer.setTime(t);
  gltf.scene.updateMatrixWorld(true);
  frames.push({ t, camera: camera.matrixWorld.toArray(), object: diorama.matrixWorld.toArray(), fov: camera.fov });
}
console.log(JSON.stringify({
  revision: THREE.REVISION,
  clips: gltf.animations.map((c) => c.name),
  duration: clip.duration,
  tracks: clip.tracks.map((t) => t.name),
  camera: { fov: camera.fov, aspect: camera.aspect, near: camera.near, far: camera.far },
  frames,
}));
