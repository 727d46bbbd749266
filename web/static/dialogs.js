// Modal dialogs (native <dialog>: focus is trapped and Escape cancels): the API key prompt,
// delete confirmation, and a new collection's name.

import { $ } from "./dom.js";

/** Show `dialog`; resolve with onSubmit's value, or null when cancelled. onSubmit may
 * return undefined to keep the dialog open (a problem shown in it). */
function modal(dialog, form, cancel, onSubmit) {
  return new Promise((resolve) => {
    const done = (value) => {
      form.removeEventListener("submit", submitted);
      cancel.removeEventListener("click", cancelled);
      dialog.removeEventListener("cancel", cancelled);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const submitted = async (event) => {
      event.preventDefault();
      const value = await onSubmit();
      if (value !== undefined) done(value);
    };
    const cancelled = (event) => {
      event.preventDefault();
      done(null);
    };
    form.addEventListener("submit", submitted);
    cancel.addEventListener("click", cancelled);
    dialog.addEventListener("cancel", cancelled);
    dialog.showModal();
  });
}

export function askForKey(reason) {
  const input = $("key-input");
  $("key-reason").textContent = reason;
  input.value = "";
  return modal($("key-dialog"), $("key-form"), $("key-cancel"), () => input.value.trim() || null);
}

export function confirmDelete(title, text) {
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  return modal($("confirm-dialog"), $("confirm-form"), $("confirm-cancel"), () => true);
}

/** create(name) -> Promise<string|null>: null when created, else the problem to show. */
export function newCollection(create) {
  const input = $("collection-input");
  const problem = $("collection-error");
  input.value = "";
  problem.textContent = "";
  return modal($("collection-dialog"), $("collection-form"), $("collection-cancel"), async () => {
    const name = input.value.trim();
    if (!name) return undefined;
    const error = await create(name);
    if (error) {
      problem.textContent = error;
      return undefined;
    }
    return name;
  });
}
