// Kinora Web: the shell, the router (history API) and the navigation. Screens live in js/*.js and
// are loaded on first use, so the first page load carries only what it shows.
import { onSession, restore, signedIn, user } from "./js/api.js";
import { clear, h } from "./js/dom.js";
import { pickLanguage, setLanguage, t } from "./js/i18n.js";

const ROUTES = [
  { path: /^\/join\/?$/, module: "./js/account.js", view: "join", public: true, title: "nav.join" },
  { path: /^\/signin\/?$/, module: "./js/account.js", view: "signin", public: true, title: "nav.signin" },
  { path: /^\/check\/?$/, module: "./js/account.js", view: "check", public: true, title: "nav.check" },
  { path: /^\/report\/?$/, module: "./js/account.js", view: "report", public: true, title: "nav.report" },
  { path: /^\/(feed)?\/?$/, module: "./js/feed.js", view: "feed", title: "nav.feed" },
  { path: /^\/create\/?$/, module: "./js/create.js", view: "create", title: "nav.create" },
  { path: /^\/stitch\/?$/, module: "./js/stitch.js", view: "stitch", title: "nav.stitch" },
  { path: /^\/cameo\/?$/, module: "./js/cameo.js", view: "cameo", title: "nav.cameo" },
  { path: /^\/u\/([^/]+)\/?$/, module: "./js/account.js", view: "profile", title: "nav.profile" },
  { path: /^\/settings\/?$/, module: "./js/account.js", view: "settings", title: "nav.settings" },
];

let teardown = null;

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState({}, "", url);
  else history.pushState({}, "", url);
  render();
}

function tabs() {
  const nav = clear(document.getElementById("tabs"));
  nav.setAttribute("aria-label", t("nav.main"));
  if (!signedIn()) return;
  const here = location.pathname;
  const me = user();
  const items = [["/feed", "nav.feed", "▶"], ["/create", "nav.create", "+"], ["/cameo", "nav.cameo", "☺"],
    [`/u/${me?.handle || ""}`, "nav.profile", "◉"], ["/settings", "nav.settings", "⚙"]];
  for (const [href, key, glyph] of items) {
    const current = here === href || (href === "/feed" && here === "/") || (href === "/create" && here === "/stitch");
    nav.append(h("a", { href, "aria-current": current ? "page" : false },
      h("span", { class: "glyph", "aria-hidden": "true", text: glyph }), h("span", { text: t(key) })));
  }
}

function header() {
  const top = clear(document.getElementById("top"));
  top.append(h("a", { href: signedIn() ? "/feed" : "/signin", class: "brand" },
    h("img", { src: "/icons/icon.svg", alt: "", width: 28, height: 28 }), h("span", { text: "Kinora" })));
  document.getElementById("skip").textContent = t("nav.skip");
}

async function render() {
  if (teardown) { try { teardown(); } catch { /* screen already gone */ } teardown = null; }
  const path = location.pathname;
  const route = ROUTES.find((r) => r.path.test(path));
  const main = clear(document.getElementById("main"));
  main.className = "";
  main.scrollTop = 0;
  header();
  tabs();
  if (!route) {
    main.append(h("h1", { text: t("error.notFoundTitle") }), h("p", {}, h("a", { href: "/feed", text: t("nav.feed") })));
    return;
  }
  if (!route.public && !signedIn()) {
    navigate(`/signin?next=${encodeURIComponent(path + location.search)}`, { replace: true });
    return;
  }
  if ((route.view === "signin" || route.view === "join") && signedIn()) {
    navigate("/feed", { replace: true });
    return;
  }
  document.title = `${t(route.title)} · Kinora`;
  main.dataset.screen = route.view;
  const args = path.match(route.path).slice(1).map((part) => part && decodeURIComponent(part));
  const screen = await import(route.module);
  teardown = (await screen[route.view](main, { args, params: new URLSearchParams(location.search), navigate })) || null;
}

// Same-origin links route on the client; everything else behaves normally.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/") || link.target || link.hasAttribute("download")) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", render);

async function start() {
  await setLanguage(pickLanguage());
  onSession(() => tabs());
  await restore();
  await render();
  if ("serviceWorker" in navigator && location.protocol !== "file:") {
    navigator.serviceWorker.register("/sw.js").catch(() => {});
  }
}

window.kinora = { navigate, render };
start();
