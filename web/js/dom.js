// Tiny DOM helpers: every node is built with createElement (no innerHTML), so API text is never markup.
import { t } from "./i18n.js";

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

/** A live region the screen reader announces: status text for the whole app. */
export function announce(message, kind = "info") {
  const region = document.getElementById("toast");
  region.textContent = "";
  region.className = `toast toast-${kind}`;
  region.textContent = message;
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => { region.textContent = ""; region.className = "toast"; }, 6000);
}

/** A labelled form field: <label> wraps the text and the control so its accessible name is the label. */
export function field(labelKey, control, hintKey) {
  const hint = hintKey ? h("span", { class: "hint", text: t(hintKey) }) : null;
  return h("label", { class: "field" }, h("span", { class: "label", text: t(labelKey) }), control, hint);
}

export function button(labelKey, onclick, attrs = {}) {
  const { text, ...rest } = attrs;
  return h("button", { type: "button", onclick, ...rest }, text ?? t(labelKey));
}

/** Run an async action from a control: disables it meanwhile and announces a failure in words. */
export async function busy(control, action) {
  if (control) control.disabled = true;
  try {
    return await action();
  } catch (err) {
    announce(err.message || String(err), "error");
    return undefined;
  } finally {
    if (control) control.disabled = false;
  }
}

export function when(timestamp) {
  if (!timestamp) return "";
  try { return new Date(timestamp).toLocaleString(document.documentElement.lang); } catch { return timestamp; }
}

/** A modal dialog (native <dialog>: focus is trapped and Escape closes it). */
export function dialog(titleKey, ...content) {
  const titleId = `d${Math.random().toString(36).slice(2, 8)}`;
  const box = h("dialog", { class: "sheet", "aria-labelledby": titleId },
    h("h2", { id: titleId, text: t(titleKey) }), ...content,
    h("form", { method: "dialog", class: "row" }, h("button", { type: "submit", class: "secondary", text: t("common.close") })));
  box.addEventListener("close", () => box.remove());
  document.body.append(box);
  box.showModal();
  return box;
}
