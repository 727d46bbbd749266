// The conversation: questions sent to POST /v1/ask as a stream, the draft shown as it is
// generated, then replaced by the verified answer (every [n] a chip that opens the source
// panel) or by an abstention with its reason. Earlier turns go with each question as
// `history`, so a follow-up ("where did he train?") is understood.
//
// An answer's element carries data-state: searching -> drafting -> verified | abstained |
// error | stopped. Text from the server is inserted as text only (dom.js).

import { $, append, basename, clear, el } from "./dom.js";

const HISTORY_TURNS = 6; // earlier messages sent with a question (3 exchanges)

export class Chat {
  constructor(api, sources, collection) {
    this.api = api;
    this.sources = sources;
    this.collection = collection; // () -> the selected collection, or "" for all
    this.turns = []; // {question, answer: contract} of finished, verified or abstained turns
    this.running = null; // AbortController of the question being answered
    this.form = $("ask-form");
    this.input = $("question");
    this.log = $("conversation");
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
    this.sources.close();
    this.input.focus();
  }

  stop() {
    if (this.running) this.running.abort();
  }

  busy(running) {
    this.running = running;
    $("send").disabled = Boolean(running);
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
    if (!question || this.running) return;
    this.input.value = "";
    const welcome = document.getElementById("welcome");
    if (welcome) welcome.remove();
    const view = new AnswerView(this, question);
    this.log.append(view.turn);
    view.turn.scrollIntoView({ block: "start", behavior: "smooth" });
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
        el("p", {}, contract.answer),
        el("p", { class: "reason" }, "Why: ", contract.reason || "no reason given"),
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

  footer(contract) {
    const details = [contract.mode];
    if (contract.timings_ms && contract.timings_ms.total) {
      details.push(`${Math.round(contract.timings_ms.total)} ms`);
    }
    const copy = el("button", { type: "button", class: "copy" }, "Copy answer");
    copy.addEventListener("click", () => this.copy(copy));
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
    let text = contract.answer;
    if (contract.citations.length) {
      text +=
        "\n\nSources:\n" +
        contract.citations
          .map((c) => `[${c.n}] ${c.title || basename(c.source)}${c.page ? `, page ${c.page}` : ""}: "${c.quote}"`)
          .join("\n");
    } else if (contract.reason) {
      text += `\n(${contract.reason})`;
    }
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
