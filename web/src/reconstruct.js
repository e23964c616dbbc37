// The page's second mode: several photos or a video -> POST /api/reconstructions -> the stages of
// `dioramic reconstruct` as they run -> the model (scene.glb, playing its camera move) in the 3D view,
// the video, the downloads. A job's error is the command line's one line, shown as it is.

import { deleteJob, fileUrl, follow } from "./api.js";
import { listDownloads } from "./downloads.js";
import { buildForm } from "./form.js";

const $ = (id) => document.getElementById(id);
const DOWNLOADS = [
  ["scene.glb", "3D model (GLB)"],
  ["video.mp4", "Video"],
  ["report.json", "Report (JSON)"],
  ["splats.ply", "Gaussian splats (3DGS PLY)"],
];
const VIDEO_SUFFIX = /\.(mp4|mov|m4v|mkv|webm|avi)$/i;
const MAX_THUMBS = 48;

const isVideo = (file) => file.type.startsWith("video/") || VIDEO_SUFFIX.test(file.name);
const megabytes = (bytes) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;

/** POST the form with XMLHttpRequest, for the upload's progress; resolves to the job's {id}. */
function upload(body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/reconstructions");
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new Error("the upload failed: is the server still running?"));
    xhr.onload = () => {
      const reply = xhr.response;
      if (xhr.status === 202 && reply && reply.id) resolve(reply);
      else reject(new Error((reply && typeof reply.detail === "string" && reply.detail) || `the server answered ${xhr.status}`));
    };
    xhr.send(body);
  });
}

/**
 * Wire the reconstruction panel. `schema` is /api/options' "reconstruct" part; `page` gives the shared
 * view: showScene(owner, url), showVideo(owner, video), showSplats(owner, jobId, files),
 * clearScene(owner, hint), setHint(owner, text), showTab(name), isShown() (whether this mode is on
 * screen).
 * Returns {addFiles, showError, jobId}.
 */
export function initReconstruct(schema, page) {
  const form = buildForm(schema, $("mbasic"), $("madvanced"), "rc");
  const limits = schema.limits;
  let files = [];
  let jobId = null;
  let token = 0;
  let running = false;

  function showError(message) {
    $("merror").textContent = message;
    $("merror").hidden = !message;
  }

  function setProgress(fraction, text, done = false) {
    $("mprogress").hidden = false;
    $("mprogress").classList.toggle("done", done);
    $("mbar-fill").style.width = `${Math.round(fraction * 100)}%`;
    $("mstage").textContent = text;
    $("mpercent").textContent = `${Math.round(fraction * 100)} %`;
  }

  function showWarnings(lines) {
    const list = $("mwarnings");
    list.replaceChildren(...(lines || []).map((line) => {
      const li = document.createElement("li");
      li.textContent = line;
      return li;
    }));
    list.hidden = !list.children.length;
  }

  /** What the server would refuse anyway, said before the upload; '' when the choice is fine. */
  function problem() {
    if (schema.unavailable) return `this server cannot reconstruct: ${schema.unavailable}`;
    const videos = files.filter(isVideo);
    if (videos.length && files.length > 1) return `${videos[0].name}: give one video alone, not with other videos or photos`;
    if (files.length > limits.max_files) {
      return `too many files: at most ${limits.max_files} photos (or one video) in one reconstruction`;
    }
    const total = files.reduce((sum, f) => sum + f.size, 0);
    if (total > limits.max_bytes) return `the files are larger than the limit of ${limits.max_bytes / 1e6} MB in all`;
    return "";
  }

  function showChoice() {
    const thumbs = $("minputs");
    for (const old of thumbs.querySelectorAll("img, video")) URL.revokeObjectURL(old.src);
    thumbs.replaceChildren();
    const total = files.reduce((sum, f) => sum + f.size, 0);
    const videos = files.filter(isVideo).length;
    const what = videos && files.length === 1 ? "1 video" : `${files.length} photo${files.length === 1 ? "" : "s"}`;
    $("mchosen").hidden = !files.length;
    $("mcount").textContent = files.length ? `${what} · ${megabytes(total)}` : "";
    $("mdrop").classList.toggle("has-photo", files.length > 0);
    $("mdrop").querySelector(".drop-title").textContent = files.length ? `${what} chosen` : "Drop photos or a video here";
    $("minputs-title").textContent = files.length ? what[0].toUpperCase() + what.slice(1) : "Photos or video";
    if (!files.length) thumbs.append(Object.assign(document.createElement("span"), { className: "empty", textContent: "none chosen yet" }));
    for (const file of files.slice(0, MAX_THUMBS)) {
      const media = document.createElement(isVideo(file) ? "video" : "img");
      media.src = URL.createObjectURL(file);
      media.title = file.name;
      if (media.tagName === "VIDEO") Object.assign(media, { muted: true, controls: true, preload: "metadata" });
      else media.alt = file.name;
      thumbs.append(media);
    }
    if (files.length > MAX_THUMBS) {
      thumbs.append(Object.assign(document.createElement("span"), { className: "more", textContent: `+${files.length - MAX_THUMBS} more` }));
    }
    const why = problem();
    showError(why);
    $("reconstruct").disabled = running || !files.length || Boolean(why);
  }

  /** Add photos (or a video) to the choice; the same file twice counts once. */
  function addFiles(list) {
    const seen = new Set(files.map((f) => `${f.name}/${f.size}`));
    for (const file of list || []) {
      const key = `${file.name}/${file.size}`;
      if (!seen.has(key)) files.push(file);
      seen.add(key);
    }
    showChoice();
  }

  async function showReport(id) {
    try {
      const report = await (await fetch(fileUrl(id, "report.json"))).json();
      const parts = [
        `placed ${report.registered} of ${report.images_given} images`,
        `${report.triangles.toLocaleString()} triangles`,
      ];
      if (report.video && report.video.size) parts.push(`${report.video.size[0]}×${report.video.size[1]}, ${report.video.fps} fps`);
      if (report.motion) parts.push(`move: ${report.motion}`);
      parts.push(`took ${Number(report.total_s).toFixed(1)} s`);
      $("minfo").textContent = parts.join(" · ");
    } catch {
      $("minfo").textContent = "";
    }
  }

  async function start() {
    const why = problem();
    if (why || !files.length) return showError(why);
    const mine = ++token;
    running = true;
    $("reconstruct").disabled = true;
    showError("");
    showWarnings([]);
    const body = new FormData();
    form.collect(body);
    for (const file of files) body.append("files", file, file.name);
    const total = files.reduce((sum, f) => sum + f.size, 0);
    setProgress(0, `uploading ${files.length} file${files.length === 1 ? "" : "s"} (${megabytes(total)})`);
    try {
      const { id } = await upload(body, (f) => setProgress(0, `uploading ${Math.round(f * 100)} %`));
      if (jobId) deleteJob(jobId);
      jobId = id;
      page.clearScene("multi", "Reconstructing: the model appears here when it is ready");
      page.showVideo("multi", null);
      page.showSplats("multi", null, []);
      $("mdownloads").replaceChildren(Object.assign(document.createElement("li"), { className: "empty", textContent: "after the reconstruction" }));
      $("minfo").textContent = "";
      const status = await follow(id, (s) => {
        const text = s.state === "queued" ? `waiting (${s.queue_position} ahead)` : s.stage;
        setProgress(s.progress, text);
        page.setHint("multi", `Reconstructing · ${text} · ${Math.round(s.progress * 100)} %`);
        showWarnings(s.warnings);
      }, () => mine !== token);
      if (mine !== token) return;
      if (status.state === "failed") throw new Error(status.error);
      setProgress(1, "model ready", true);
      listDownloads($("mdownloads"), id, DOWNLOADS, status.files);
      showReport(id);
      if (status.files.includes("video.mp4")) page.showVideo("multi", { url: fileUrl(id, "video.mp4"), gif: false });
      await page.showScene("multi", fileUrl(id, "scene.glb"));
      page.showSplats("multi", id, status.files);
      if (page.isShown()) page.showTab("3d");
    } catch (err) {
      if (mine !== token) return;
      $("mprogress").hidden = true;
      page.clearScene("multi", "No model: see the message beside the settings");
      showError(err.message);
    } finally {
      if (mine === token) {
        running = false;
        $("reconstruct").disabled = !files.length || Boolean(problem());
      }
    }
  }

  $("mfiles").addEventListener("change", (e) => {
    addFiles(e.target.files);
    e.target.value = ""; // choosing the same files again still adds them after a clear
  });
  $("mdrop").addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") $("mfiles").click();
  });
  $("mclear").addEventListener("click", () => {
    files = [];
    showChoice();
  });
  $("reconstruct").addEventListener("click", start);
  $("mfiles").disabled = Boolean(schema.unavailable);
  showChoice();

  return { addFiles, showError, jobId: () => jobId };
}
