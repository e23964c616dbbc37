// The download links of a job's files, in both of the page's modes.

import { fileUrl } from "./api.js";

/** Fill `list` (a <ul>) with a link to each of `entries` ([file name, label], in the order shown) that
 * is among the job's `files`; each link saves the file as dioramic-NAME. */
export function listDownloads(list, jobId, entries, files) {
  list.replaceChildren();
  for (const [name, label] of entries) {
    if (!name || !files.includes(name)) continue;
    const a = document.createElement("a");
    a.href = fileUrl(jobId, name, true);
    a.download = `dioramic-${name}`;
    const what = document.createElement("span");
    what.className = "what";
    what.textContent = name;
    a.append(label, what);
    const li = document.createElement("li");
    li.append(a);
    list.append(li);
  }
}
