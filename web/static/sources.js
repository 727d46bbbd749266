// The source panel: a citation's document title, page and passage, the quoted span
// highlighted in its context, and a link to the original file (at the page, for a PDF).
// A retrieved passage (offered when the documents do not answer) shows the same way, the
// passage highlighted.
//
// Citation offsets count Unicode code points (Python string indices) into the text that
// GET /v1/documents/{id}/text returns; JavaScript strings count UTF-16 units, so the text
// is split into code points (Array.from) before slicing.

import { $, basename, clear, el } from "./dom.js";

const CONTEXT = 320; // code points of context each side when the passage is unknown

export class SourcePanel {
  constructor(api, may) {
    this.api = api;
    this.may = may; // (scope) -> whether the API key has it: the text and file need `read`
    this.texts = new Map(); // document_id -> Promise<string[]> (code points)
    this.panel = $("source-panel");
    this.opener = null;
    $("source-close").addEventListener("click", () => this.close());
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
    $("source-link").addEventListener("click", (event) => this.openOriginal(event));
  }

  forget(documentId) {
    this.texts.delete(documentId);
  }

  codePoints(documentId) {
    if (!this.texts.has(documentId)) {
      const loading = this.api
        .text(`/v1/documents/${encodeURIComponent(documentId)}/text`)
        .then((text) => Array.from(text));
      loading.catch(() => this.texts.delete(documentId));
      this.texts.set(documentId, loading);
    }
    return this.texts.get(documentId);
  }

  /** Show retrieved passage number `n` (one of the closest, when nothing answered),
   * highlighted in the text around it. */
  showPassage(passage, n, opener) {
    const { document_id, chunk_id, title, source, page, start, end, text } = passage;
    const shown = { n, document_id, chunk_id, title, source, page, start, end, quote: text };
    return this.show(shown, [], opener, "Passage");
  }

  /** Show `citation`; `passages` are the answer's retrieved passages; focus returns to
   * `opener` on close. */
  async show(citation, passages, opener, label = "Source") {
    this.opener = opener;
    this.citation = citation;
    const passage = $("source-passage");
    $("source-title").textContent = citation.title || basename(citation.source);
    const where = [`${label} ${citation.n}`];
    if (citation.page) where.push(`page ${citation.page}`);
    where.push(basename(citation.source));
    $("source-meta").textContent = where.join(" · ");
    const link = $("source-link");
    const pdf = /\.pdf$/i.test(citation.source);
    link.href =
      `/v1/documents/${encodeURIComponent(citation.document_id)}/file` +
      (pdf && citation.page ? `#page=${citation.page}` : "");
    link.textContent = pdf && citation.page ? `Open the original at page ${citation.page}` : "Open the original";
    link.parentElement.hidden = !this.may("read");
    $("source-note").textContent = "";
    clear(passage).append(el("p", { class: "loading" }, "Loading the passage…"));
    this.panel.hidden = false;
    document.body.classList.add("source-open");
    $("source-title").focus();
    if (!this.may("read")) {
      clear(passage).append(el("p", {}, el("mark", {}, citation.quote)));
      $("source-note").textContent = "This API key may not read the documents, so the quote is shown without the text around it.";
      return;
    }
    try {
      let text = await this.codePoints(citation.document_id);
      if (!quotes(text, citation)) {
        this.forget(citation.document_id); // changed since it was loaded: load it again
        text = await this.codePoints(citation.document_id);
      }
      if (this.citation !== citation) return; // another chip was clicked meanwhile
      if (!quotes(text, citation)) {
        clear(passage).append(el("p", {}, el("mark", {}, citation.quote)));
        $("source-note").textContent =
          "The document has changed since this answer: the quote is shown without its context.";
        return;
      }
      const [from, to] = bounds(citation, passages, text);
      const mark = el("mark", {}, text.slice(citation.start, citation.end).join(""));
      clear(passage).append(
        el(
          "p",
          {},
          from > 0 ? "… " : "",
          text.slice(from, citation.start).join(""),
          mark,
          text.slice(citation.end, to).join(""),
          to < text.length ? " …" : "",
        ),
      );
      mark.scrollIntoView({ block: "nearest" });
    } catch (error) {
      if (this.citation !== citation) return;
      clear(passage).append(el("p", {}, el("mark", {}, citation.quote)));
      $("source-note").textContent = `The surrounding text could not be loaded: ${error.message}`;
    }
  }

  close() {
    if (this.panel.hidden) return;
    this.panel.hidden = true;
    this.citation = null;
    document.body.classList.remove("source-open");
    if (this.opener && this.opener.isConnected) this.opener.focus();
  }

  /** Without a key the link opens as is. With one, the file is fetched with the key and
   * opened from memory: a PDF in a new tab at its page, any other file downloaded (never
   * rendered in this page's origin). */
  async openOriginal(event) {
    if (!this.api.key || !this.citation) return;
    event.preventDefault();
    const citation = this.citation;
    try {
      const blob = await this.api.blob(`/v1/documents/${encodeURIComponent(citation.document_id)}/file`);
      const pdf = blob.type === "application/pdf";
      const url = URL.createObjectURL(pdf ? blob : new Blob([blob], { type: "application/octet-stream" }));
      if (pdf) {
        window.open(url + (citation.page ? `#page=${citation.page}` : ""), "_blank", "noopener");
      } else {
        const link = el("a", { href: url, download: basename(citation.source) });
        document.body.append(link);
        link.click();
        link.remove();
      }
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      $("source-note").textContent = `The original could not be opened: ${error.message}`;
    }
  }
}

/** True when the text still holds the citation's quote at its offsets (invariant 1). */
function quotes(text, citation) {
  return text.slice(citation.start, citation.end).join("") === citation.quote;
}

/** [from, to) in code points: the retrieved passage (chunk) holding the quote, or a window
 * around it cut at spaces. */
function bounds(citation, passages, text) {
  const chunk = passages.find((p) => p.chunk_id === citation.chunk_id);
  if (chunk && chunk.start <= citation.start && citation.end <= chunk.end) {
    return [chunk.start, chunk.end];
  }
  let from = Math.max(0, citation.start - CONTEXT);
  let to = Math.min(text.length, citation.end + CONTEXT);
  while (from > 0 && from < citation.start && !/\s/.test(text[from - 1])) from += 1;
  while (to < text.length && to > citation.end && !/\s/.test(text[to])) to -= 1;
  return [from, to];
}
