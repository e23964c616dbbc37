// The page of `dioramic serve`, in two modes that share the 3D view and the video:
// - one photo: drop a photo -> a preview job (depth + 3D scene) -> "Render video" -> a render job that
//   reuses the preview's depth and scene when their settings did not change;
// - several photos or a video: see reconstruct.js.

import { createJob, deleteJob, fileUrl, follow, getOptions } from "./api.js";
import { listDownloads } from "./downloads.js";
import { buildForm } from "./form.js";
import { initReconstruct } from "./reconstruct.js";
import { Viewer } from "./viewer.js";

const $ = (id) => document.getElementById(id);
const DOWNLOADS = [
  ["video", "Video"],
  ["scene.glb", "3D scene (GLB)"],
  ["depth.png", "Depth map (16-bit PNG)"],
  ["depth.npy", "Depth values (NumPy)"],
  ["splats.ply", "Gaussian splats (3DGS PLY)"],
];

const state = {
  previewId: null, // job with the photo's depth and scene
  renderId: null, // the latest render job
  previewToken: 0, // bumps when a newer preview supersedes the one being followed
  renderToken: 0, // bumps when a newer render supersedes the one being followed
  rendering: false,
  stale: false, // settings changed during a render: preview them after it
  pendingPreview: null,
  limits: null,
  notes: {}, // server texts: depth backends, how to get the learned model
};

let viewer = null;
let form = null;
let reconstruction = null;

// What each mode shows in the shared 3D view and video pane; only the current mode's is on screen.
const HINTS = {
  photo: "Drop a photo to see it in 3D. Drag to orbit, scroll to zoom.",
  multi: "Drop photos or a video, then reconstruct: the 3D model appears here.",
};
const shown = {
  photo: { scene: null, video: null, hint: HINTS.photo },
  multi: { scene: null, video: null, hint: HINTS.multi },
};
let mode = "photo";

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function setProgress(fraction, text, done = false) {
  $("progress").hidden = false;
  $("progress").classList.toggle("done", done);
  $("progress").classList.remove("idle");
  $("bar-fill").style.width = `${Math.round(fraction * 100)}%`;
  $("stage").textContent = text;
  $("percent").textContent = `${Math.round(fraction * 100)} %`;
}

/** The bar between jobs: nothing rendered yet, so no percentage. */
function setIdle(text) {
  $("progress").hidden = false;
  $("progress").classList.remove("done");
  $("progress").classList.add("idle");
  $("bar-fill").style.width = "0%";
  $("stage").textContent = text;
  $("percent").textContent = "";
}

/** What the latest job warned about (holes the move will show, ...), one line each. */
function showWarnings(lines) {
  const list = $("warnings");
  list.replaceChildren(...(lines || []).map((line) => {
    const li = document.createElement("li");
    li.textContent = line;
    return li;
  }));
  list.hidden = !list.children.length;
}

/** Which depth backend made the depth, as soon as it is known; with classical, how to do better. */
function showBackend(name) {
  const info = $("depth-info");
  if (!name) {
    info.hidden = true;
    return;
  }
  const what = (state.notes.depth_backends || {})[name];
  const strong = document.createElement("strong");
  strong.textContent = name;
  info.replaceChildren("Depth backend in use: ", strong, what ? ` (${what}).` : ".");
  if (name === "classical" && state.notes.learned_depth) info.append(" ", state.notes.learned_depth);
  info.hidden = false;
}

/** Nothing to show or render: a preview failed, so the page must not offer the old one. */
function clearPreview() {
  $("render").disabled = true;
  clearScene("photo", "No preview: see the message beside the settings");
  showSplats("photo", null, []);
  $("depth").hidden = true;
  $("depth-empty").hidden = false;
  $("depth-empty").textContent = "—";
  showBackend(null);
}

/** The 3D view with nothing in it, saying `hint` (when `owner` is the mode on screen). */
function clearScene(owner, hint) {
  shown[owner].scene = null;
  shown[owner].hint = hint;
  if (owner !== mode) return;
  viewer.clear();
  $("play").hidden = true;
  $("reset").disabled = true;
  $("hint3d").textContent = hint;
  $("hint3d").classList.remove("corner");
}

/** The 3D view's message for `owner` while it shows no scene (a reconstruction's stage, ...). */
function setHint(owner, text) {
  shown[owner].hint = text;
  if (owner === mode && !shown[owner].scene) $("hint3d").textContent = text;
}

/** Show the GLB at `url` for `owner` ('photo' or 'multi'): at once if that mode is on screen, else
 * when the user comes back to it. */
async function showScene(owner, url) {
  shown[owner].scene = url;
  if (owner === mode) await show3d(url);
}

/** The video of `owner` ({url, gif}), or none; the Video tab is enabled when there is one. */
function showVideo(owner, video) {
  shown[owner].video = video;
  if (owner !== mode) return;
  const isGif = Boolean(video && video.gif);
  $("video").hidden = isGif;
  $("gif").hidden = !isGif;
  if (!video) {
    $("video").removeAttribute("src");
    $("video").load();
    $("gif").removeAttribute("src");
  } else if (isGif) $("gif").src = video.url;
  else {
    $("video").src = video.url;
    $("video").play().catch(() => {});
  }
  $("tab-video").disabled = !video;
}

/** Switch the page to 'photo' (one photo) or 'multi' (several photos or a video). */
function setMode(which) {
  if (which === mode) return;
  mode = which;
  for (const name of ["photo", "multi"]) {
    $(`mode-${name}`).classList.toggle("active", name === which);
    $(`mode-${name}`).setAttribute("aria-selected", String(name === which));
    $(`${name}-panel`).hidden = name !== which;
    $(`row-${name}`).hidden = name !== which;
  }
  $("tab-3d").textContent = which === "multi" ? "3D model" : "3D preview";
  viewer.stopMotion();
  const { scene, video, hint, splats } = shown[which];
  offerSplats(null); // the other mode's splats go; this mode's come back with its scene
  showVideo(which, video);
  if (scene) show3d(scene).then(() => mode === which && splats && offerSplats(splats));
  else clearScene(which, hint);
  showTab("3d");
}

function showTab(which) {
  for (const name of ["3d", "video"]) {
    $(`tab-${name}`).classList.toggle("active", name === which);
    $(`pane-${name}`).hidden = name !== which;
  }
  $("play").hidden = which !== "3d" || !viewer?.hasContent;
  $("reset").hidden = which !== "3d";
  $("splats").hidden = which !== "3d" || !viewer?.splats?.offered;
  viewer?.setActive(which === "3d");
  if (which === "3d") viewer?.resize();
}

async function show3d(url) {
  try {
    const { triangles, animated } = await viewer.load(url);
    if (shown[mode].scene !== url) {
      // the mode changed (or its scene did) while this one loaded: show what is current instead
      if (shown[mode].scene) return show3d(shown[mode].scene);
      return clearScene(mode, shown[mode].hint);
    }
    $("hint3d").textContent = viewer.slow
      ? "This browser draws 3D slowly (no GPU?): drag to orbit"
      : animated
        ? "Playing the camera move · drag to orbit, scroll to zoom"
        : "Drag to orbit · scroll to zoom · right-drag to pan";
    $("hint3d").classList.add("corner");
    $("reset").disabled = false;
    $("play").hidden = $("pane-3d").hidden;
    $("play").textContent = viewer.playing ? "Pause motion" : "Play motion";
    $("info").dataset.triangles = String(triangles);
  } catch (err) {
    if (mode === "multi") reconstruction.showError(`cannot show the 3D model: ${err.message}`);
    else showError(`cannot show the 3D scene: ${err.message}`);
  }
}

/** The splats.ply of `owner`'s job (the "Gaussian splats" option; none when `files` has no
 * splats.ply), shown by Spark in the 3D view behind the "Show splats" button: at once if that mode is
 * on screen, else when the user comes back to it. */
function showSplats(owner, jobId, files) {
  shown[owner].splats = jobId && files.includes("splats.ply") ? fileUrl(jobId, "splats.ply") : null;
  if (owner === mode) offerSplats(shown[owner].splats);
}

/** Offer the splats at `url` in the 3D view, or take them away (null); splats.js and Spark load
 * only when a job has splats. */
function offerSplats(url) {
  if (!url && !viewer.splats) return;
  import("./splats.js")
    .then((module) => module.offerSplats(viewer, $("splats"), url))
    .catch((err) => {
      const message = `cannot show the splats: ${err.message}`;
      if (mode === "multi") reconstruction.showError(message);
      else showError(message);
    });
}

function showDepth(jobId) {
  const img = $("depth");
  img.onload = () => {
    img.hidden = false;
    $("depth-empty").hidden = true;
  };
  img.src = fileUrl(jobId, "depth.png");
}

function showPhoto(file) {
  const photo = $("photo");
  if (photo.src.startsWith("blob:")) URL.revokeObjectURL(photo.src);
  photo.src = URL.createObjectURL(file);
  photo.hidden = false;
  photo.nextElementSibling.hidden = true;
  $("depth").hidden = true;
  $("depth-empty").hidden = false;
  $("depth-empty").textContent = "estimating…";
  $("drop").classList.add("has-photo");
  $("drop").querySelector(".drop-title").textContent = file.name;
  $("drop").querySelector(".drop-sub").textContent = "drop or click to choose another photo";
}

/** A preview job (depth, 3D scene with the camera move) for a new photo, or for changed settings. */
async function preview(file = null) {
  const token = ++state.previewToken;
  const previous = state.previewId;
  showError("");
  const body = form.collect(new FormData(), { withTimeline: false });
  body.append("until", "scene");
  if (file) {
    if (previous) deleteJob(previous);
    state.previewId = null;
    $("render").disabled = true;
    showPhoto(file);
    body.append("photo", file);
  } else {
    body.append("source", previous); // the same photo; its depth and scene are reused if they can be
    $("render").disabled = true; // until the preview shows what these settings give
  }
  setProgress(0, file ? "preview: uploading" : "preview: updating");
  showWarnings([]);
  let seen = new Set();
  try {
    const { id } = await createJob(body);
    if (token !== state.previewToken) return deleteJob(id);
    state.previewId = id;
    const status = await follow(id, (s) => {
      setProgress(s.progress, s.state === "queued" ? `waiting (${s.queue_position} ahead)` : `preview: ${s.stage}`);
      if (s.files.includes("depth.png") && !seen.has("depth.png")) showDepth(id);
      if (s.depth_backend) showBackend(s.depth_backend);
      showWarnings(s.warnings);
      seen = new Set(s.files);
    }, () => token !== state.previewToken);
    if (token !== state.previewToken) return;
    if (status.state === "failed") throw new Error(status.error);
    if (!file && previous) deleteJob(previous);
    setIdle("Preview ready · not rendered yet");
    $("render").disabled = false;
    await showScene("photo", fileUrl(id, "scene.glb"));
    showSplats("photo", id, status.files);
    if (mode === "photo") showTab("3d");
  } catch (err) {
    if (token !== state.previewToken) return;
    clearPreview();
    $("progress").hidden = true;
    showError(err.message);
  }
}

/** The links to a photo job's files (its video under whichever name its format gives it). */
function showDownloads(jobId, files) {
  const video = files.find((f) => f.startsWith("video."));
  const entries = DOWNLOADS.map(([key, label]) => [key === "video" ? video : key, label]);
  listDownloads($("downloads"), jobId, entries, files);
}

async function showInfo(jobId) {
  try {
    const summary = await (await fetch(fileUrl(jobId, "render.json"))).json();
    const parts = [
      `depth: ${summary.depth_backend}`,
      `${summary.triangles.toLocaleString()} triangles`,
    ];
    if (summary.size) parts.push(`${summary.size[0]}×${summary.size[1]}, ${summary.fps} fps, ${summary.duration} s`);
    const total = Object.values(summary.timings_s || {}).reduce((a, b) => a + b, 0);
    parts.push(`took ${total.toFixed(1)} s`);
    $("info").textContent = parts.join(" · ");
  } catch {
    $("info").textContent = "";
  }
}

async function render() {
  if (!state.previewId) return;
  const token = ++state.renderToken;
  ++state.previewToken; // a preview under way no longer updates the page: the render shows all
  clearTimeout(state.pendingPreview);
  state.rendering = true;
  showError("");
  $("render").disabled = true;
  const body = new FormData();
  try {
    form.collect(body);
  } catch (err) {
    showError(err.message);
    $("render").disabled = false;
    return;
  }
  body.append("source", state.previewId);
  viewer.stopMotion(); // leave the CPU (or GPU) to the render
  setProgress(0, "starting");
  try {
    const { id } = await createJob(body);
    if (state.renderId) deleteJob(state.renderId);
    state.renderId = id;
    const status = await follow(id, (s) => {
      setProgress(s.progress, s.state === "queued" ? `waiting (${s.queue_position} ahead)` : s.stage);
      if (s.depth_backend) showBackend(s.depth_backend);
      showWarnings(s.warnings);
    }, () => token !== state.renderToken);
    if (token !== state.renderToken) return;
    if (status.state === "failed") throw new Error(status.error);
    setProgress(1, "video rendered", true);
    const videoName = status.files.find((f) => f.startsWith("video."));
    showVideo("photo", { url: fileUrl(id, videoName), gif: videoName.endsWith(".gif") });
    if (mode === "photo") showTab("video");
    showDownloads(id, status.files);
    showDepth(id);
    showInfo(id);
    showScene("photo", fileUrl(id, "scene.glb")).then(() => showSplats("photo", id, status.files));
  } catch (err) {
    if (token !== state.renderToken) return;
    $("progress").hidden = true;
    showError(err.message);
  } finally {
    if (token === state.renderToken) {
      $("render").disabled = false;
      state.rendering = false;
      if (state.stale) {
        state.stale = false;
        preview();
      }
    }
  }
}

function acceptFiles(files) {
  const file = files && files[0];
  if (!file) return;
  if (state.limits && file.size > state.limits.max_upload_bytes) {
    showError(`the photo is ${(file.size / 1e6).toFixed(1)} MB; the limit is ${state.limits.max_upload_bytes / 1e6} MB`);
    return;
  }
  preview(file);
}

async function init() {
  viewer = new Viewer($("stage3d"));
  viewer.onMotionChange = (playing) => {
    $("play").textContent = playing ? "Pause motion" : "Play motion";
    if (!playing && viewer.slow) $("hint3d").textContent = "This browser draws 3D slowly (no GPU?): drag to orbit";
  };
  try {
    const schema = await getOptions();
    state.limits = schema.limits;
    state.notes = schema.notes || {};
    form = buildForm(schema, $("basic"), $("advanced"));
    const page = {
      showScene, showVideo, showSplats, clearScene, setHint, showTab, isShown: () => mode === "multi",
    };
    reconstruction = initReconstruct(schema.reconstruct, page);
  } catch (err) {
    showError(`cannot load the options: ${err.message}`);
    return;
  }
  const drop = $("drop");
  $("file").addEventListener("change", (e) => acceptFiles(e.target.files));
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") $("file").click();
  });
  // a drop anywhere on the page goes to the mode on screen
  const zone = () => (mode === "multi" ? $("mdrop") : drop);
  for (const target of [drop, $("mdrop"), document.body]) {
    target.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone().classList.add("over");
    });
    target.addEventListener("dragleave", () => zone().classList.remove("over"));
    target.addEventListener("drop", (e) => {
      e.preventDefault();
      e.stopPropagation();
      zone().classList.remove("over");
      if (mode === "multi") reconstruction.addFiles(e.dataTransfer.files);
      else acceptFiles(e.dataTransfer.files);
    });
  }
  $("mode-photo").addEventListener("click", () => setMode("photo"));
  $("mode-multi").addEventListener("click", () => setMode("multi"));
  $("render").addEventListener("click", render);
  $("tab-3d").addEventListener("click", () => showTab("3d"));
  $("tab-video").addEventListener("click", () => showTab("video"));
  $("reset").addEventListener("click", () => viewer.resetView());
  $("play").addEventListener("click", () => (viewer.playing ? viewer.stopMotion() : viewer.playMotion()));
  // the preview shows the depth, the scene and the camera move: redo it when a setting changes
  form.onChange(() => {
    if (!state.previewId) return;
    clearTimeout(state.pendingPreview);
    state.pendingPreview = setTimeout(() => {
      if (state.rendering) state.stale = true; // after the render
      else preview();
    }, 300);
  });
  window.addEventListener("pagehide", () => {
    for (const id of [state.previewId, state.renderId, reconstruction.jobId()]) {
      if (id) fetch(`/api/jobs/${encodeURIComponent(id)}`, { method: "DELETE", keepalive: true });
    }
  });
}

init();
