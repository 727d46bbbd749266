// The chat page: wires the API client, the conversation, the source panel, the documents
// panel and the collection picker together. No framework, no build step.
//
// The page adapts to what the API key may do (GET /v1/me: its scopes and collections): it
// offers only that, instead of showing the 403s of what it may not. Without `ask` the
// question box is off; without `read` no document is listed (and a quote is shown without
// its surrounding text); without `ingest` there is no upload and no new collection;
// without `delete` no Delete button; with neither `read` nor `ingest` no documents panel;
// a key limited to some collections gets exactly those in the picker, the first chosen.

import { Api } from "./api.js";
import { Chat } from "./chat.js";
import { askForKey, newCollection } from "./dialogs.js";
import { Documents } from "./documents.js";
import { $, clear, el } from "./dom.js";
import { SourcePanel } from "./sources.js";

const COLLECTION = "cited.collection";
const narrow = window.matchMedia("(max-width: 900px)");

const EVERY_SCOPE = ["ask", "read", "ingest", "delete"];

const api = new Api(askForKey);
const picker = $("collection");
const collection = () => picker.value;
// What the key may do: its scopes, and its collections (null: every one).
const access = { scopes: new Set(EVERY_SCOPE), collections: null };
const may = (scope) => access.scopes.has(scope);
const sources = new SourcePanel(api, may);
const chat = new Chat(api, sources, collection, may);
const documents = new Documents(api, collection, may, (deletedId) => {
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

/** What the key may do, from GET /v1/me; the page then offers only that. */
async function loadAccess() {
  try {
    const me = await api.json("GET", "/v1/me");
    access.scopes = new Set(me.scopes);
    access.collections = me.collections;
  } catch (error) {
    if (error.status === 401) {
      banner("This server needs an API key. Retry to give one.");
    } else {
      banner(error.status === 0 ? error.message : `The server could not be asked what this page may do: ${error.message}`);
    }
    return false;
  }
  document.body.classList.toggle("no-documents", !may("read") && !may("ingest"));
  $("dropzone").hidden = !may("ingest");
  chat.adapt();
  return true;
}

async function loadCollections() {
  const chosen = picker.value || localStorage.getItem(COLLECTION) || "";
  let listed = [];
  try {
    if (may("read")) listed = (await api.json("GET", "/v1/collections")).collections;
  } catch (error) {
    banner(error.status === 0 ? error.message : `The collections could not be loaded: ${error.message}`);
    return false;
  }
  banner(null);
  clear(picker);
  const counts = new Map(listed.map((c) => [c.name, c.documents]));
  const label = (name) => (counts.has(name) ? `${name} (${counts.get(name)})` : name);
  // A key limited to some collections may use those and only those; "all" would be them.
  const names = access.collections || listed.map((c) => c.name);
  if (!access.collections) picker.append(el("option", { value: "" }, "All collections"));
  for (const name of names) picker.append(el("option", { value: name }, label(name)));
  if (may("ingest") && !access.collections) {
    picker.append(el("option", { value: "", "data-new": true }, "New collection…"));
  }
  picker.value = names.includes(chosen) ? chosen : access.collections ? names[0] || "" : "";
  return true;
}

/** What the key may do, then the collections (the picker on the stored choice, when it is
 * still there), then the chosen collection's documents. */
async function start() {
  if (!(await loadAccess())) return;
  await loadCollections();
  await documents.load();
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
