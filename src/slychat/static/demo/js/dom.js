// DOM building without HTML strings: every piece of text becomes a text node, so nothing
// a user typed (message text, product or store names) is ever parsed as markup.

// h("li", {class: "x", dataset: {id}, onclick}, child, "text", ...)
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "href" || name === "src") el.setAttribute(name, String(value));
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

// An http(s) URL, or null: `javascript:` and other schemes never reach an href or src.
export function safeUrl(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value, location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url : null;
  } catch {
    return null;
  }
}

// Whether the page may show an image from `value`: its Content-Security-Policy allows
// this origin, the media origins and (default ports of) SLYCHAT_MEDIA_HOSTS. Anything
// else would only be blocked, so it is not tried (a placeholder stands in).
export function imageAllowed(value, config) {
  const url = safeUrl(value);
  if (!url) return null;
  if (url.origin === location.origin || config.imageOrigins.includes(url.origin)) return url.href;
  const defaultPort = url.port === "";
  const host = url.hostname.toLowerCase();
  const listed = config.imageHosts.some((h) => host === h || host.endsWith(`.${h}`));
  return listed && defaultPort ? url.href : null;
}
