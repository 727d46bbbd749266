// The documents panel: the selected collection's documents (title, type, chunks, when
// added), uploads by drag-and-drop or file picker with progress and each file's outcome,
// and deletion after confirmation; each only when the API key may (`may(scope)`).

import { $, bytes, clear, el, when } from "./dom.js";
import { confirmDelete } from "./dialogs.js";

const PAGE = 50;
const POLL_MS = 400;
const OUTCOME = {
  queued: "waiting",
  added: "added",
  updated: "updated",
  unchanged: "unchanged",
  failed: "failed",
  interrupted: "interrupted",
};
const ENDED = ["done", "failed", "interrupted"]; // a job's last statuses

export class Documents {
  constructor(api, collection, may, onChange) {
    this.api = api;
    this.collection = collection; // () -> selected collection, "" for all
    this.may = may; // (scope) -> whether the API key has it
    this.onChange = onChange; // (deletedId?) after an upload or a delete
    this.list = $("doc-list");
    this.status = $("docs-status");
    this.shown = 0;
    this.total = 0;
    const zone = $("dropzone");
    const input = $("file-input");
    $("choose-files").addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      if (input.files.length) this.upload([...input.files]);
      input.value = "";
    });
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      const files = [...event.dataTransfer.files];
      if (files.length) this.upload(files);
    });
    // A file dropped anywhere else must not make the browser navigate away to it.
    for (const name of ["dragover", "drop"]) {
      window.addEventListener(name, (event) => {
        if (!zone.contains(event.target)) event.preventDefault();
      });
    }
    $("docs-more").addEventListener("click", () => this.load(true));
  }

  /** (Re)load the list; more=true appends the next page. */
  async load(more = false) {
    const collection = this.collection();
    const offset = more ? this.shown : 0;
    const query = new URLSearchParams({ limit: PAGE, offset });
    if (collection) query.set("collection", collection);
    $("upload-target").textContent = `Files are added to ${collection ? `“${collection}”` : "the default collection"}.`;
    if (!this.may("read")) {
      clear(this.list);
      $("docs-more").hidden = true;
      this.status.textContent = "This API key may add files here, not list them.";
      return;
    }
    if (!more) this.status.textContent = "Loading documents…";
    try {
      const page = await this.api.json("GET", `/v1/documents?${query}`);
      if (!more) clear(this.list);
      for (const doc of page.documents) this.list.append(this.item(doc));
      this.shown = offset + page.documents.length;
      this.total = page.total;
      this.status.textContent =
        page.total === 0
          ? "No documents yet. Add some above."
          : `${page.total} document${page.total === 1 ? "" : "s"}${collection ? ` in “${collection}”` : ""}`;
      $("docs-more").hidden = this.shown >= page.total;
    } catch (error) {
      this.status.textContent = `The documents could not be listed: ${error.message}`;
    }
  }

  item(doc) {
    const title = doc.title || doc.source;
    let remove = null; // only for a key that may delete
    if (this.may("delete")) {
      remove = el("button", { type: "button", class: "delete", "aria-label": `Delete ${title}` }, "Delete");
      remove.addEventListener("click", () => this.remove(doc, remove));
    }
    const facts = [
      doc.file_type.toUpperCase(),
      `${doc.chunks} chunk${doc.chunks === 1 ? "" : "s"}`,
      `added ${when(doc.created_at)}`,
    ];
    if (!this.collection()) facts.push(doc.collection);
    return el(
      "li",
      { class: "doc", "data-id": doc.id },
      el("div", { class: "doc-text" }, el("p", { class: "doc-title" }, title), el("p", { class: "doc-facts" }, facts.join(" · "))),
      remove,
    );
  }

  async remove(doc, button) {
    const title = doc.title || doc.source;
    const sure = await confirmDelete(
      `Delete “${title}”?`,
      "It is removed from the index and will no longer be searched or cited. The original file uploaded here is removed too. This cannot be undone.",
    );
    if (!sure) {
      button.focus();
      return;
    }
    button.disabled = true;
    try {
      await this.api.json("DELETE", `/v1/documents/${encodeURIComponent(doc.id)}`);
      this.status.textContent = `Deleted “${title}”.`;
      this.onChange(doc.id);
      await this.load();
      this.status.textContent = `Deleted “${title}”. ${this.status.textContent}`;
    } catch (error) {
      button.disabled = false;
      this.status.textContent = `“${title}” could not be deleted: ${error.message}`;
    }
  }

  async upload(files) {
    if (!this.may("ingest")) return;
    const total = files.reduce((sum, file) => sum + file.size, 0);
    const names = files.length === 1 ? files[0].name : `${files.length} files`;
    const progress = el("progress", { max: 100, value: 0, "aria-label": `Upload of ${names}` });
    const line = el("p", { class: "upload-line" }, `Uploading ${names} (${bytes(total)})…`);
    const outcomes = el("ul", { class: "outcomes" });
    const dismiss = el(
      "button",
      { type: "button", class: "dismiss", "aria-label": `Dismiss the report on ${names}`, hidden: true },
      "×",
    );
    dismiss.addEventListener("click", () => item.remove());
    const item = el("li", { class: "upload", "data-state": "uploading" }, dismiss, line, progress, outcomes);
    $("uploads").prepend(item);
    try {
      let job = await this.api.upload(files, this.collection(), (sent, size) => {
        progress.value = Math.round((100 * sent) / size);
      });
      progress.removeAttribute("value"); // indeterminate while the server ingests
      if (!this.may("read")) {
        // The job is there, but this key may not follow it (GET /v1/jobs needs `read`).
        progress.remove();
        line.textContent = `${names}: uploaded; the server ingests it (this API key may not follow the ingestion).`;
        item.dataset.state = "done";
        dismiss.hidden = false;
        return;
      }
      while (!ENDED.includes(job.status)) {
        line.textContent = describe(job, names);
        this.outcomes(outcomes, job);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        job = await this.api.json("GET", `/v1/jobs/${encodeURIComponent(job.id)}`);
      }
      progress.remove();
      line.textContent = describe(job, names);
      this.outcomes(outcomes, job);
      item.dataset.state = job.status;
      dismiss.hidden = false;
      this.onChange();
      await this.load();
    } catch (error) {
      progress.remove();
      item.dataset.state = "failed";
      dismiss.hidden = false;
      line.textContent = `${names} could not be uploaded: ${error.message}`;
      line.setAttribute("role", "alert");
    }
  }

  outcomes(list, job) {
    clear(list);
    for (const file of job.files) {
      let text = `${file.name}: ${OUTCOME[file.status] || file.status}`;
      if (file.status === "added" || file.status === "updated") {
        text += ` (${file.chunks} chunk${file.chunks === 1 ? "" : "s"})`;
      }
      if (file.reason) text += ` — ${file.reason}`;
      list.append(el("li", { "data-status": file.status }, text));
    }
  }
}

function describe(job, names) {
  const { files, files_done: done } = job.progress;
  switch (job.status) {
    case "queued":
      return `${names}: uploaded, waiting to be ingested…`;
    case "waiting":
      return `${names}: waiting for another ingestion to finish…`;
    case "running":
      return `${names}: ingesting, ${done} of ${files} done…`;
    case "failed":
      return `${names}: the ingestion failed: ${job.error || "see the server log"}`;
    case "interrupted":
      return `${names}: interrupted (${job.error || "the server stopped"}).`;
    default: {
      const counts = new Map();
      for (const file of job.files) counts.set(file.status, (counts.get(file.status) || 0) + 1);
      const summary = [...counts].map(([status, n]) => `${n} ${OUTCOME[status] || status}`);
      return `${names}: done (${summary.join(", ")}).`;
    }
  }
}
