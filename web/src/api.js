// The server's JSON API (see src/dioramic/web/app.py).

async function reply(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const detail = body && body.detail;
    const text = typeof detail === "string" ? detail
      : Array.isArray(detail) ? detail.map((d) => d.msg).join("; ")
      : `the server answered ${response.status}`;
    throw new Error(text);
  }
  return body;
}

export async function getOptions() {
  return reply(await fetch("/api/options"));
}

/** Start a job from a FormData (photo or source, option fields, timeline); resolves to {id, ...}. */
export async function createJob(form) {
  return reply(await fetch("/api/jobs", { method: "POST", body: form }));
}

export async function getJob(id) {
  return reply(await fetch(`/api/jobs/${encodeURIComponent(id)}`));
}

export function deleteJob(id) {
  return fetch(`/api/jobs/${encodeURIComponent(id)}`, { method: "DELETE" }).catch(() => {});
}

export function fileUrl(id, name, download = false) {
  return `/api/jobs/${encodeURIComponent(id)}/files/${encodeURIComponent(name)}${download ? "?download=true" : ""}`;
}

/** Poll a job until it is done or failed, calling onUpdate(status) on each answer. */
export async function follow(id, onUpdate, isCancelled = () => false) {
  for (;;) {
    const status = await getJob(id);
    if (isCancelled()) return status;
    onUpdate(status);
    if (status.state === "done" || status.state === "failed") return status;
    await new Promise((resolve) => setTimeout(resolve, status.state === "queued" ? 800 : 350));
  }
}
