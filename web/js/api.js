// The public /api/v1, as any client uses it. The browser session (docs/web.md, "Sessions"): the
// refresh token is an HttpOnly cookie the page never sees; the access token lives in this module's
// memory only (never localStorage or sessionStorage) and is renewed before it expires.
import { t } from "./i18n.js";

let accessToken = "";
let currentUser = null;
let renewTimer = 0;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export function user() { return currentUser; }
export function signedIn() { return Boolean(accessToken); }
export function onSession(listener) { listeners.add(listener); }

function csrf() {
  const match = document.cookie.match(/(?:^|;\s*)kinora_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

function adopt(answer) {
  accessToken = answer.access_token;
  currentUser = answer.user;
  clearTimeout(renewTimer);
  // Renew a minute before expiry (or at 80% of a short lifetime).
  const seconds = Math.max(5, Math.min(answer.expires_in - 60, answer.expires_in * 0.8));
  renewTimer = setTimeout(() => restore().catch(() => {}), seconds * 1000);
  listeners.forEach((fn) => fn(currentUser));
  return currentUser;
}

function forget() {
  accessToken = "";
  currentUser = null;
  clearTimeout(renewTimer);
  listeners.forEach((fn) => fn(null));
}

async function errorOf(reply) {
  let code = "";
  let message = "";
  try {
    const body = await reply.json();
    code = body?.error?.code || "";
    message = body?.error?.message || "";
  } catch { /* not JSON */ }
  if (!message) message = reply.status >= 500 ? t("error.server") : t("error.generic", { status: reply.status });
  return new ApiError(reply.status, code, message);
}

async function sessionCall(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  const token = csrf();
  if (token) headers["X-CSRF-Token"] = token;
  const reply = await fetch(`/api/v1/session${path}`, {
    method, headers, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined,
  });
  if (!reply.ok) throw await errorOf(reply);
  return reply.status === 204 ? {} : reply.json();
}

/** On page load: the refresh cookie (if any) gives a fresh access token. */
export async function restore() {
  if (!csrf()) { forget(); return null; }
  // One tab at a time: refresh tokens rotate, and a spent one coming back ends the whole sign-in.
  // The tab that waited sends the cookie the first one received.
  const refresh = async () => {
    try {
      return adopt(await sessionCall("POST", "/refresh"));
    } catch (err) {
      forget();
      return null;
    }
  };
  return navigator.locks ? navigator.locks.request("kinora-refresh", refresh) : refresh();
}

export async function signIn(handle, password) {
  return adopt(await sessionCall("POST", "", { handle, password }));
}

export async function signUp(fields) {
  return adopt(await sessionCall("POST", "/signup", fields));
}

export async function signOut(everywhere = false) {
  try {
    await sessionCall(everywhere ? "POST" : "DELETE", everywhere ? "/signout-everywhere" : "");
  } finally {
    forget();
  }
}

export function setUser(next) { currentUser = next; listeners.forEach((fn) => fn(currentUser)); }

/** api("GET", "/feed") → parsed JSON; throws ApiError with the API's own message. */
export async function api(method, path, body, { headers = {}, retry = true } = {}) {
  const init = { method, headers: { ...headers }, credentials: "same-origin" };
  if (accessToken) init.headers.Authorization = `Bearer ${accessToken}`;
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const reply = await fetch(`/api/v1${path}`, init);
  if (reply.status === 401 && retry && csrf()) {
    if (await restore()) return api(method, path, body, { headers, retry: false });
  }
  if (!reply.ok) throw await errorOf(reply);
  const type = reply.headers.get("content-type") || "";
  return type.includes("json") ? reply.json() : reply.text();
}

/**
 * Server-Sent Events with the Authorization header: EventSource cannot send one, so the stream is read
 * with fetch() and parsed here. onEvent(name, data) for each event; resolves when the stream ends.
 */
export async function streamEvents(path, onEvent, signal) {
  const reply = await fetch(`/api/v1${path}`, {
    headers: { Authorization: `Bearer ${accessToken}`, Accept: "text/event-stream" }, signal,
  });
  if (!reply.ok) throw await errorOf(reply);
  const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length) continue;
      let parsed = data.join("\n");
      try { parsed = JSON.parse(parsed); } catch { /* plain text */ }
      onEvent(name, parsed);
    }
  }
}

/** The signed URL of a clip's variant, from `media_urls` (added by the gateway to posts and generations). */
export function mediaUrl(thing, variant = "video") {
  return thing?.media_urls?.[variant] || "";
}

export function enumName(value, prefix) {
  // "GENERATION_STATUS_COMPLETED" → "completed"
  return String(value || "").replace(prefix, "").toLowerCase();
}
