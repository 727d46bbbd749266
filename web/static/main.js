// The chat page: wires the API client, the conversation, the source panel, the documents
// panel and the collection picker together. No framework, no build step.

import { Api } from "./api.js";
import { Chat } from "./chat.js";
import { askForKey, newCollection } from "./dialogs.js";
import { Documents } from "./documents.js";
import { $, clear, el } from "./dom.js";
import { SourcePanel } from "./sources.js";

const COLLECTION = "cited.collection";
const narrow = window.matchMedia("(max-width: 900px)");

const api = new Api(askForKey);
const picker = $("collection");
const collection = () => picker.value;
const sources = new SourcePanel(api);
const chat = new Chat(api, sources, collection);
const documents = new Documents(api, collection, (deletedId) => {
  if (deletedId) sources.forget(deletedId);
  loadCollections();
});

function showKeyState(hasKey) {
  $("forget-key").hidden = !hasKey;
}
api.onKeyChange = showKeyState;
showKeyState(Boolean(api.key));

function banner(message) {
  $("banner").hidden = !message;
  $("banner-text").textContent = message || "";
}

async function loadCollections() {
  const chosen = picker.value || localStorage.getItem(COLLECTION) || "";
  try {
    const { collections } = await api.json("GET", "/v1/collections");
    banner(null);
    clear(picker).append(el("option", { value: "" }, "All collections"));
    for (const c of collections) {
      picker.append(el("option", { value: c.name }, `${c.name} (${c.documents})`));
    }
    picker.append(el("option", { value: "", "data-new": true }, "New collection…"));
    picker.value = collections.some((c) => c.name === chosen) ? chosen : "";
    return true;
  } catch (error) {
    banner(error.status === 0 ? error.message : `The collections could not be loaded: ${error.message}`);
    return false;
  }
}

/** Collections and documents load together; the picker starts on the stored choice. */
async function start() {
  const stored = localStorage.getItem(COLLECTION) || "";
  if (stored && !picker.value) {
    picker.append(el("option", { value: stored }, stored));
    picker.value = stored;
  }
  const listed = picker.value;
  const [loaded] = await Promise.all([loadCollections(), documents.load()]);
  if (loaded && picker.value !== listed) await documents.load(); // the stored one is gone
}

picker.addEventListener("change", async () => {
  if (picker.selectedOptions[0]?.dataset.new !== undefined) {
    const name = await newCollection(async (name) => {
      try {
        await api.json("POST", "/v1/collections", { name });
        return null;
      } catch (error) {
        return error.message;
      }
    });
    if (name) localStorage.setItem(COLLECTION, name);
    picker.value = "";
    await loadCollections();
    if (name) picker.value = name;
  } else {
    localStorage.setItem(COLLECTION, picker.value);
  }
  await documents.load();
});

$("banner-retry").addEventListener("click", start);
$("new-chat").addEventListener("click", () => chat.reset());
$("forget-key").addEventListener("click", () => {
  api.setKey(null);
  location.reload();
});

// Small screens: the documents panel is an overlay opened from the header.
const docsPanel = $("docs-panel");
const docsToggle = $("docs-toggle");
function openDocs(open) {
  document.body.classList.toggle("docs-open", open);
  docsToggle.setAttribute("aria-expanded", String(open));
  if (open) $("docs-title").focus();
  else docsToggle.focus();
}
$("docs-title").setAttribute("tabindex", "-1");
docsToggle.addEventListener("click", () => openDocs(!document.body.classList.contains("docs-open")));
$("docs-close").addEventListener("click", () => openDocs(false));
docsPanel.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && narrow.matches && document.body.classList.contains("docs-open")) openDocs(false);
});

chat.reset();
start();
