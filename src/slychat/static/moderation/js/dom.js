// DOM building without HTML strings: every piece of text becomes a text node, so nothing a
// user wrote (a reported message, a report's note) is ever parsed as markup. (The demo
// page has the same helper; its files are served only in demo mode, this page's always.)

// h("li", {class: "x", dataset: {id}, onclick}, child, "text", ...)
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function byId(id) {
  return document.getElementById(id);
}

export function show(el, visible) {
  el.hidden = !visible;
}

export function setText(el, text) {
  el.textContent = text ?? "";
}
