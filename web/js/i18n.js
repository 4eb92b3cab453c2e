// English and French strings. The choice: a saved preference (localStorage holds only the language,
// never a token), else the browser's languages (fr-CA, fr-FR... are French), else English.
const SUPPORTED = ["en", "fr"];
const KEY = "kinora.lang";
let strings = {};
let fallback = {};
let current = "en";

export function pickLanguage() {
  const saved = localStorage.getItem(KEY);
  if (SUPPORTED.includes(saved)) return saved;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (SUPPORTED.includes(base)) return base;
  }
  return "en";
}

async function load(lang) {
  const reply = await fetch(`/i18n/${lang}.json`);
  return reply.ok ? reply.json() : {};
}

export async function setLanguage(lang, { save = false } = {}) {
  current = SUPPORTED.includes(lang) ? lang : "en";
  if (save) localStorage.setItem(KEY, current);
  [strings, fallback] = await Promise.all([load(current), current === "en" ? Promise.resolve(null) : load("en")]);
  if (!fallback) fallback = strings;
  document.documentElement.lang = current === "fr" ? "fr" : "en";
}

export function language() { return current; }
export const languages = SUPPORTED;

/** t("feed.like") or t("feed.count", {n: 3}): "{n}" placeholders are filled in. */
export function t(key, params = {}) {
  const text = strings[key] ?? fallback[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}
