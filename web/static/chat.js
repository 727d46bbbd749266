// The conversation: questions sent to POST /v1/ask as a stream, the draft shown as it is
// generated, then replaced by the verified answer (every [n] a chip that opens the source
// panel) or by an abstention, said in words for people (by its reason_code) with the
// closest passages found to look at. Earlier turns go with each question as `history`, so
// a follow-up ("where did he train?") is understood.
//
// An answer's element carries data-state: searching -> drafting -> verified | abstained |
// error | stopped. Text from the server is inserted as text only (dom.js).
//
// Only the conversation scrolls (never the page): it follows a growing answer while the
// reader is at its end, and stops following once they scroll up (see Follow).

import { $, append, basename, clear, el } from "./dom.js";

const HISTORY_TURNS = 6; // earlier messages sent with a question (3 exchanges)
const PLACEHOLDER = "Ask a question about your documents";
const CLOSEST = 3; // passages offered to look at when the documents do not answer
const EXCERPT = 220; // characters of a passage shown in the list of closest ones
// A decline in words for people, by the answer's reason_code (its `reason` keeps the
// figures, for the JSON and the server's log).
const DECLINED = {
  no_passages: "Nothing in your documents matched this question.",
  unrelated: "None of the passages found is about this.",
  not_answered: "None of the passages found answers this.",
  unsupported:
    "An answer was drafted, but none of its sentences was backed by the passage it cited, so none is shown.",
};
const DECLINED_OTHERWISE = "Your documents do not seem to answer this.";
const AT_BOTTOM_PX = 8; // this close to the end of the conversation counts as at its end
const UP_KEYS = new Set(["ArrowUp", "PageUp", "Home"]);

/** Keeps the end of `pane` in view as its content grows or the pane shrinks, while the
 * reader is at its end. Scrolling up (wheel, keys, touch, the scrollbar) stops following,
 * at once, so that text arriving meanwhile does not pull them back; scrolling back to the
 * end follows again. Scrolls are instant: a smooth one would pass through positions that
 * read as the reader scrolling away. */
class Follow {
  constructor(pane) {
    this.pane = pane;
    this.on = true;
    this.held = false; // a pointer or a finger is down on the pane: the reader scrolls it
    const hold = () => {
      this.held = true;
    };
    const release = () => {
      if (!this.held) return;
      this.held = false;
      this.on = this.atEnd();
    };
    const away = () => {
      this.on = false;
    };
    let last = pane.scrollTop;
    pane.addEventListener("scroll", () => {
      // At the end: follow. Moved up: the reader left it. Moved down short of the end (the
      // text grew meanwhile): as it was.
      if (this.atEnd()) this.on = true;
      else if (pane.scrollTop < last) this.on = false;
      last = pane.scrollTop;
    });
    pane.addEventListener("wheel", (event) => event.deltaY < 0 && away(), { passive: true });
    pane.addEventListener("keydown", (event) => UP_KEYS.has(event.key) && away());
    // A finger holds from touchstart to touchend (its pointer is cancelled once it scrolls);
    // a mouse or pen, on the scrollbar, from pointerdown to pointerup.
    pane.addEventListener("touchstart", hold, { passive: true });
    pane.addEventListener("pointerdown", (event) => event.pointerType !== "touch" && hold());
    for (const name of ["touchend", "touchcancel"]) window.addEventListener(name, release);
    for (const name of ["pointerup", "pointercancel"]) {
      window.addEventListener(name, (event) => event.pointerType !== "touch" && release());
    }
    new MutationObserver(() => this.keep()).observe(pane, {
      childList: true,
      subtree: true,
      characterData: true,
    });
    new ResizeObserver(() => this.keep()).observe(pane);
  }

  atEnd() {
    return this.pane.scrollHeight - this.pane.scrollTop - this.pane.clientHeight <= AT_BOTTOM_PX;
  }

  keep() {
    if (this.on && !this.held) this.pane.scrollTop = this.pane.scrollHeight;
  }

  /** Follow from now on (a question was just sent). */
  start() {
    this.on = true;
    this.keep();
  }
}

export class Chat {
  constructor(api, sources, collection, may) {
    this.api = api;
    this.sources = sources;
    this.collection = collection; // () -> the selected collection, or "" for all
    this.may = may; // (scope) -> whether the API key has it
    this.turns = []; // {question, answer: contract} of finished, verified or abstained turns
    this.running = null; // AbortController of the question being answered
    this.form = $("ask-form");
    this.input = $("question");
    this.log = $("conversation");
    this.follow = new Follow(this.log);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
    $("stop").addEventListener("click", () => this.stop());
  }

  reset() {
    this.stop();
    this.turns = [];
    clear(this.log).append($("welcome-template").content.cloneNode(true));
    this.adapt();
    this.follow.start();
    this.sources.close();
    this.input.focus();
  }

  stop() {
    if (this.running) this.running.abort();
  }

  /** Offer what the API key may do: without `ask` the question box is off; without
   * `ingest` the welcome does not invite to add documents. */
  adapt() {
    const ask = this.may("ask");
    this.input.disabled = !ask;
    this.input.placeholder = ask ? PLACEHOLDER : "This API key may not ask questions";
    $("send").disabled = !ask || Boolean(this.running);
    const invite = document.getElementById("welcome-add");
    if (invite) invite.hidden = !this.may("ingest");
  }

  busy(running) {
    this.running = running;
    $("send").disabled = Boolean(running) || this.input.disabled;
    $("stop").hidden = !running;
  }

  history() {
    const messages = [];
    for (const turn of this.turns) {
      // The question as it was searched (a follow-up made standalone), so that a chain of
      // follow-ups keeps its topic.
      messages.push({ role: "user", content: turn.answer.question || turn.question });
      messages.push({ role: "assistant", content: turn.answer.answer });
    }
    return messages.slice(-HISTORY_TURNS);
  }

  async send(question = this.input.value.trim()) {
    if (!question || this.running || this.input.disabled) return;
    this.input.value = "";
    const welcome = document.getElementById("welcome");
    if (welcome) welcome.remove();
    const view = new AnswerView(this, question);
    this.log.append(view.turn);
    this.follow.start();
    const controller = new AbortController();
    this.busy(controller);
    const body = { question, history: this.history() };
    const collection = this.collection();
    if (collection) body.collection = collection;
    try {
      let final = null;
      await this.api.stream(
        "/v1/ask",
        body,
        (name, data) => {
          if (name === "passages") view.passages(data.passages);
          else if (name === "delta") view.delta(data.text);
          else if (name === "final") final = data;
          else if (name === "error") throw Object.assign(new Error(data.error.message), data.error);
        },
        controller.signal,
      );
      if (!final) throw new Error("The answer stream ended before the verified answer came.");
      view.final(final);
      this.turns.push({ question, answer: final });
    } catch (error) {
      if (error.name === "AbortError") view.stopped();
      else view.failed(error, () => this.send(question));
    } finally {
      this.busy(null);
      if (this.input.isConnected) this.input.focus();
    }
  }
}

class AnswerView {
  constructor(chat, question) {
    this.chat = chat;
    this.found = [];
    this.status = el("p", { class: "status" }, "Searching your documents…");
    this.body = el("div", { class: "body" });
    this.answer = el(
      "section",
      { class: "answer", "data-state": "searching", "aria-busy": "true", "aria-label": "Answer" },
      this.status,
      this.body,
    );
    this.turn = el(
      "article",
      { class: "turn" },
      el("div", { class: "question" }, el("h3", { class: "visually-hidden" }, "You asked"), el("p", {}, question)),
      this.answer,
    );
  }

  state(name) {
    this.answer.dataset.state = name;
    if (!["searching", "drafting"].includes(name)) this.answer.removeAttribute("aria-busy");
  }

  passages(passages) {
    this.found = passages;
    this.status.textContent = passages.length
      ? `Found ${passages.length} passage${passages.length === 1 ? "" : "s"}; writing the answer…`
      : "No passage matched; checking…";
  }

  delta(text) {
    if (!this.draft) {
      this.state("drafting");
      this.status.textContent = "Draft; each sentence is checked against its quote before it is shown.";
      this.draft = el("p", { class: "draft" });
      this.body.append(this.draft);
    }
    this.draft.append(text);
  }

  final(contract) {
    this.contract = contract;
    clear(this.body);
    this.status.remove();
    if (contract.abstained) {
      this.state("abstained");
      this.body.append(
        el("p", { class: "abstained-title" }, "Not answered by your documents"),
        el("p", { class: "declined" }, DECLINED[contract.reason_code] || DECLINED_OTHERWISE),
        this.closest(),
      );
    } else {
      this.state("verified");
      const byN = new Map(contract.citations.map((c) => [c.n, c]));
      const text = el("p", { class: "verified" });
      contract.sentences.forEach((sentence, i) => {
        if (i > 0) text.append(" ");
        append(text, this.withChips(sentence.text, byN));
      });
      this.body.append(text, this.sourceList(contract.citations));
    }
    this.body.append(this.footer(contract));
  }

  /** "Text [1][2]." -> text nodes and chip buttons, in place of the markers. */
  withChips(text, byN) {
    const parts = [];
    let last = 0;
    for (const match of text.matchAll(/\[(\d+)\]/g)) {
      const citation = byN.get(Number(match[1]));
      if (!citation) continue;
      parts.push(text.slice(last, match.index), this.chip(citation));
      last = match.index + match[0].length;
    }
    parts.push(text.slice(last));
    return parts;
  }

  chip(citation) {
    const label = [`Source ${citation.n}: ${citation.title || basename(citation.source)}`];
    if (citation.page) label.push(`page ${citation.page}`);
    return el(
      "button",
      {
        type: "button",
        class: "chip",
        "data-n": citation.n,
        "aria-label": label.join(", "),
        title: label.join(", "),
        onclick: (event) => this.chat.sources.show(citation, this.found, event.currentTarget),
      },
      String(citation.n),
    );
  }

  sourceList(citations) {
    return el(
      "ol",
      { class: "sources", "aria-label": "Sources" },
      citations.map((c) =>
        el(
          "li",
          { value: c.n },
          el(
            "button",
            {
              type: "button",
              class: "source-link",
              onclick: (event) => this.chat.sources.show(c, this.found, event.currentTarget),
            },
            c.title || basename(c.source),
            c.page ? `, page ${c.page}` : "",
          ),
          el("q", {}, c.quote),
        ),
      ),
    );
  }

  /** The passages found closest to the question, to look at (each opens in the source
   * panel); null when none was found. */
  closest() {
    const shown = this.found.slice(0, CLOSEST);
    if (!shown.length) return null;
    return el(
      "div",
      { class: "closest" },
      el("p", {}, shown.length === 1 ? "The closest passage found:" : "The closest passages found:"),
      el(
        "ol",
        { class: "sources", "aria-label": "Closest passages" },
        shown.map((passage, i) =>
          el(
            "li",
            {},
            el(
              "button",
              {
                type: "button",
                class: "source-link",
                onclick: (event) => this.chat.sources.showPassage(passage, i + 1, event.currentTarget),
              },
              passage.title || basename(passage.source),
              passage.page ? `, page ${passage.page}` : "",
            ),
            el("q", {}, excerpt(passage.text)),
          ),
        ),
      ),
    );
  }

  footer(contract) {
    const details = [contract.mode];
    if (contract.timings_ms && contract.timings_ms.total) {
      details.push(`${Math.round(contract.timings_ms.total)} ms`);
    }
    let copy = null; // a decline has nothing to copy
    if (!contract.abstained) {
      copy = el("button", { type: "button", class: "copy" }, "Copy answer");
      copy.addEventListener("click", () => this.copy(copy));
    }
    const asked = this.turn.querySelector(".question p").textContent;
    return el(
      "footer",
      { class: "meta" },
      el("span", {}, details.join(" · ")),
      contract.question && contract.question !== asked
        ? el("span", { class: "searched" }, `Searched as: ${contract.question}`)
        : null,
      copy,
    );
  }

  async copy(button) {
    const contract = this.contract;
    const text =
      contract.answer +
      "\n\nSources:\n" +
      contract.citations
        .map((c) => `[${c.n}] ${c.title || basename(c.source)}${c.page ? `, page ${c.page}` : ""}: "${c.quote}"`)
        .join("\n");
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch (error) {
      button.textContent = "Copy failed";
      button.title = `The browser refused the clipboard: ${error.message}`;
    }
    setTimeout(() => {
      button.textContent = "Copy answer";
    }, 2000);
  }

  stopped() {
    this.state("stopped");
    this.status.remove();
    clear(this.body).append(
      el("p", { class: "reason" }, "Stopped. Nothing was verified, so nothing of the draft is kept."),
    );
  }

  failed(error, retry) {
    this.state("error");
    this.status.remove();
    clear(this.body).append(
      el("p", { class: "error", role: "alert" }, error.message),
      el("button", { type: "button", onclick: retry }, "Try again"),
    );
  }
}

/** The start of a passage, cut at a space: "The staging server restarts every…". */
function excerpt(text) {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat.length <= EXCERPT) return flat;
  const cut = flat.lastIndexOf(" ", EXCERPT);
  return `${flat.slice(0, cut > EXCERPT / 2 ? cut : EXCERPT)}…`;
}
