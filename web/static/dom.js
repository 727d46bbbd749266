// Building DOM nodes from data. Text is only ever inserted as text (text nodes and
// textContent), never parsed as HTML: the page's Content-Security-Policy requires Trusted
// Types, so an innerHTML assignment would throw anyway.

/** el("p", {class: "x", "aria-label": "y", onclick: fn}, "text", child) -> HTMLParagraphElement;
 * a function value is an event listener, anything else an attribute. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (typeof value === "function") node.addEventListener(name.replace(/^on/, ""), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, ...children);
  return node;
}

export function append(node, ...children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function $(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

/** A size in bytes for people: 1.2 MB. */
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** An ISO time for people, in their locale: "22 Nov 2026, 14:05". */
export function when(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** The last path component of a source: "/srv/hr/handbook.pdf" -> "handbook.pdf". */
export function basename(source) {
  return source.split(/[\\/]/).filter(Boolean).pop() || source;
}
