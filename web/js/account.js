// Join, sign in, profiles, settings and the public "check a video" page.
import { api, ApiError, enumName, mediaUrl, setUser, signIn, signOut, signUp, user } from "./api.js";
import { announce, busy, button, clear, dialog, field, h, when } from "./dom.js";
import { language, languages, setLanguage, t } from "./i18n.js";

function errorLine() {
  return h("p", { class: "error", role: "alert" });
}

export function join(main, { navigate, params }) {
  const error = errorLine();
  const form = h("form", { class: "card stack", novalidate: true },
    field("join.invite", h("input", { name: "invite_code", required: true, autocomplete: "off", value: params.get("invite") || "" })),
    field("join.handle", h("input", { name: "handle", required: true, autocomplete: "username", pattern: "[a-z0-9_]{3,30}" }), "join.handleHint"),
    field("join.password", h("input", { name: "password", type: "password", required: true, minlength: 8, autocomplete: "new-password" }), "join.passwordHint"),
    field("join.birthdate", h("input", { name: "birthdate", type: "date", required: true })),
    field("join.region", h("select", { name: "region" },
      h("option", { value: "US", text: t("region.US") }), h("option", { value: "CA", text: t("region.CA") }))),
    error,
    h("button", { type: "submit", class: "primary", text: t("join.submit") }),
    h("p", {}, t("join.haveAccount"), " ", h("a", { href: "/signin", text: t("nav.signin") })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const data = Object.fromEntries(new FormData(form));
    await busy(form.querySelector("button[type=submit]"), async () => {
      try {
        await signUp(data);
        navigate("/cameo");
      } catch (err) { error.textContent = err.message; }
    });
  });
  main.append(h("h1", { text: t("join.title") }), h("p", { class: "lead", text: t("join.lead") }), form);
}

export function signin(main, { navigate, params }) {
  const error = errorLine();
  const form = h("form", { class: "card stack" },
    field("join.handle", h("input", { name: "handle", required: true, autocomplete: "username" })),
    field("join.password", h("input", { name: "password", type: "password", required: true, autocomplete: "current-password" })),
    error,
    h("button", { type: "submit", class: "primary", text: t("signin.submit") }),
    h("p", {}, t("signin.noAccount"), " ", h("a", { href: "/join", text: t("nav.join") })),
    h("p", {}, h("a", { href: "/check", text: t("nav.check") })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const data = Object.fromEntries(new FormData(form));
    await busy(form.querySelector("button[type=submit]"), async () => {
      try {
        await signIn(data.handle, data.password);
        const next = params.get("next");
        navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/feed");
      } catch (err) { error.textContent = err.message; }
    });
  });
  main.append(h("h1", { text: t("signin.title") }), form);
}

export function check(main) {
  const result = h("div", { role: "status", "aria-live": "polite" });
  const form = h("form", { class: "card stack" },
    field("check.file", h("input", { type: "file", name: "file", accept: "video/mp4,video/quicktime,video/webm,image/png,image/jpeg,image/webp", required: true })),
    h("button", { type: "submit", class: "primary", text: t("check.submit") }), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(form.querySelector("button[type=submit]"), async () => {
      try {
        const answer = await api("POST", "/provenance/check", new FormData(form));
        if (!answer.made_here) result.textContent = t("check.notFound");
        else {
          result.textContent = t(answer.shared ? "check.madeHereShared" : "check.madeHere", { layers: (answer.layers || []).map((l) => t(`layer.${l}`)).join(", ") });
          if (answer.post?.id) result.append(" ", h("a", { href: `/create?remix=${answer.post.id}`, text: t("check.remixIt") }));
        }
      } catch (err) {
        result.textContent = err.status === 404 || err.status === 405 ? t("check.unavailable") : err.message;
      }
    });
  });
  main.append(h("h1", { text: t("check.title") }), h("p", { class: "lead", text: t("check.lead") }), form,
    h("p", {}, h("a", { href: "/report", text: t("check.reportLink") })));
}

// A takedown request, with or without an account (POST /api/v1/takedown-requests): the clip as a
// file, or its link, plus who asks and why. Operators answer within 48 hours.
export function report(main) {
  const result = h("div", { role: "status", "aria-live": "polite" });
  const kind = h("select", { name: "kind", required: true },
    h("option", { value: "likeness", text: t("report.kindLikeness") }),
    h("option", { value: "intimate", text: t("report.kindIntimate") }));
  const form = h("form", { class: "card stack" },
    field("report.kind", kind),
    field("report.file", h("input", { type: "file", name: "file", accept: "video/mp4,video/quicktime,video/webm,image/png,image/jpeg,image/webp" }), "report.fileHint"),
    field("report.link", h("input", { type: "url", name: "link", placeholder: `${location.origin}/…` }), "report.linkHint"),
    field("report.contact", h("input", { type: "email", name: "contact", required: true, autocomplete: "email" })),
    field("report.statement", h("textarea", { name: "statement", required: true, rows: 4, minlength: 10, maxlength: 5000 }), "report.statementHint"),
    h("button", { type: "submit", class: "primary", text: t("report.submit") }), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    if (!data.get("link")) data.delete("link");
    if (!data.get("file")?.size) data.delete("file");
    if (!data.has("link") && !data.has("file")) {
      result.textContent = t("report.needClip");
      return;
    }
    await busy(form.querySelector("button[type=submit]"), async () => {
      try {
        const answer = await api("POST", "/takedown-requests", data);
        const id = answer.id || answer.request?.id || answer.takedown_request?.id || "";
        form.reset();
        result.textContent = t("report.received", { id });
      } catch (err) {
        result.textContent = err.status === 404 || err.status === 405 ? t("report.unavailable") : err.message;
      }
    });
  });
  main.append(h("h1", { text: t("report.title") }), h("p", { class: "lead", text: t("report.lead") }), form);
}

// -- profiles --------------------------------------------------------------------------------

export function clipCard(post) {
  const label = t("profile.clipBy", { handle: post.author_handle, caption: post.caption || "" });
  return h("figure", { class: "clip-card" },
    h("video", { src: mediaUrl(post), poster: mediaUrl(post, "thumbnail") || false, controls: true, preload: "none",
      playsInline: true, "aria-label": label }),
    h("figcaption", {}, post.caption || "", post.remix_of_post_id ? h("span", { class: "badge", text: t("feed.remix") }) : null,
      " ", h("span", { class: "muted", text: t("feed.likes", { n: post.like_count || 0 }) })));
}

export async function profile(main, { args }) {
  const handle = args[0];
  const me = user();
  const heading = h("h1", { text: `@${handle}` });
  const info = h("p", { class: "lead" });
  const actions = h("div", { class: "row" });
  const grid = h("div", { class: "grid", "aria-label": t("profile.posts"), role: "list" });
  main.append(heading, info, actions, h("h2", { text: t("profile.posts") }), grid);
  try {
    const answer = await api("GET", `/users/${encodeURIComponent(handle)}`);
    const person = answer.user || answer;
    if (person.display_name) info.textContent = person.display_name;
    if (person.cameo_verified) info.append(" ", h("span", { class: "badge", text: t("profile.verified") }));
  } catch (err) {
    info.textContent = err.message;
    return;
  }
  if (me && me.handle !== handle) {
    let following = false;
    const follow = button("profile.follow", async () => {
      await busy(follow, async () => {
        await api(following ? "DELETE" : "POST", `/users/${encodeURIComponent(handle)}/follow`);
        following = !following;
        follow.textContent = t(following ? "profile.unfollow" : "profile.follow");
        follow.setAttribute("aria-pressed", String(following));
      });
    }, { class: "primary", "aria-pressed": "false" });
    actions.append(follow);
  }
  try {
    const posts = (await api("GET", `/users/${encodeURIComponent(handle)}/posts?page_size=30`)).posts || [];
    if (!posts.length) grid.after(h("p", { class: "muted", text: t("profile.noPosts") }));
    for (const post of posts) grid.append(h("div", { role: "listitem" }, clipCard(post)));
  } catch (err) { grid.after(h("p", { class: "error", text: err.message })); }
}

// -- settings ----------------------------------------------------------------------------------

function section(titleKey, ...content) {
  const id = `s-${titleKey.replace(/\W/g, "-")}`;
  return h("section", { class: "card stack", "aria-labelledby": id }, h("h2", { id, text: t(titleKey) }), ...content);
}

async function drafts() {
  const list = h("ul", { class: "list" });
  const box = section("settings.drafts", list, h("p", {}, h("a", { href: "/stitch", text: t("stitch.link") })));
  try {
    const gens = (await api("GET", "/generations?page_size=20")).generations || [];
    if (!gens.length) list.append(h("li", { class: "muted", text: t("settings.noDrafts") }));
    for (const gen of gens) {
      const status = enumName(gen.status, "GENERATION_STATUS_");
      list.append(h("li", { class: "row spread" },
        h("span", {}, h("strong", { text: gen.prompt.slice(0, 60) }), " ", h("span", { class: "badge", text: t(`status.${status}`) })),
        status === "completed" ? h("a", { href: `/create?draft=${gen.id}`, class: "button", text: t("settings.openDraft"),
          "aria-label": t("settings.openDraftFor", { prompt: gen.prompt.slice(0, 40) }) }) : null));
    }
  } catch (err) { list.append(h("li", { class: "error", text: err.message })); }
  return box;
}

function money(price) {
  if (!price) return "";
  const units = Number(price.amount_minor || 0) / 100;
  try { return new Intl.NumberFormat(language(), { style: "currency", currency: price.currency || "USD" }).format(units); }
  catch { return `${units} ${price.currency || ""}`; }
}

async function credits() {
  const balanceLine = h("p", { role: "status" });
  const packs = h("div", { class: "row wrap" });
  const plans = h("div", { class: "row wrap" });
  const box = section("settings.credits", balanceLine, h("h3", { text: t("settings.packs") }), packs,
    h("h3", { text: t("settings.plans") }), plans, h("p", { class: "hint", text: t("settings.paymentNote") }));
  const refresh = async () => {
    const b = (await api("GET", "/billing/balance")).balance || {};
    balanceLine.textContent = t("settings.balance", { credits: b.credits || 0,
      left: b.allowance?.remaining ?? b.allowance?.left ?? "?", plan: enumName(b.plan_tier, "TIER_") || "free" });
  };
  try {
    await refresh();
    for (const pack of (await api("GET", "/billing/packs")).packs || []) {
      const buy = button("", () => busy(buy, async () => {
        await api("POST", "/billing/purchases", { pack_id: pack.id, payment_token: "tok_test_succeed" });
        announce(t("settings.bought", { n: pack.credits }));
        await refresh();
      }), { text: t("settings.buy", { name: pack.name, credits: pack.credits, price: money(pack.price) }) });
      packs.append(buy);
    }
    for (const plan of (await api("GET", "/billing/plans")).plans || []) {
      if (enumName(plan.tier, "TIER_") === "free") continue;
      const go = button("", () => busy(go, async () => {
        await api("POST", "/billing/subscription", { plan_id: plan.id, payment_token: "tok_test_succeed" });
        announce(t("settings.subscribed", { name: plan.name }));
        await refresh();
      }), { text: t("settings.subscribe", { name: plan.name, price: money(plan.price_per_period), n: plan.daily_allowance }) });
      plans.append(go);
    }
  } catch (err) { balanceLine.textContent = err.message; }
  return box;
}

async function apiKeys() {
  const list = h("ul", { class: "list" });
  const secret = h("p", { role: "status", class: "secret" });
  const name = h("input", { name: "name", required: true, autocomplete: "off" });
  const form = h("form", { class: "row" }, field("keys.name", name), h("button", { type: "submit", text: t("keys.create") }));
  const load = async () => {
    clear(list);
    for (const key of (await api("GET", "/apikeys")).api_keys || []) {
      if (key.revoked_at) continue;
      const revoke = button("", () => busy(revoke, async () => { await api("DELETE", `/apikeys/${key.id}`); await load(); }),
        { text: t("keys.revoke"), "aria-label": t("keys.revokeNamed", { name: key.name }) });
      list.append(h("li", { class: "row spread" }, h("span", { text: `${key.name} (${key.prefix}…)` }), revoke));
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(form.querySelector("button"), async () => {
      const made = await api("POST", "/apikeys", { name: name.value });
      secret.textContent = t("keys.secret", { secret: made.secret });
      name.value = "";
      await load();
    });
  });
  try { await load(); } catch (err) { list.append(h("li", { class: "error", text: err.message })); }
  return section("settings.apikeys", form, secret, list);
}

async function parental() {
  const me = user();
  const body = h("div", { class: "stack" });
  const code = h("p", { role: "status" });
  const start = (role) => busy(null, async () => {
    const made = await api("POST", "/guardian/links", { role });
    code.textContent = t("guardian.code", { code: made.code });
  });
  const confirmInput = h("input", { name: "code", autocomplete: "off" });
  const confirm = h("form", { class: "row" }, field("guardian.enterCode", confirmInput),
    h("button", { type: "submit", text: t("guardian.confirm") }));
  confirm.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(confirm.querySelector("button"), async () => {
      await api("POST", "/guardian/links/confirm", { code: confirmInput.value.trim() });
      announce(t("guardian.linked"));
      render();
    });
  });
  const render = async () => {
    clear(body);
    const links = (await api("GET", "/guardian/links")).links || [];
    for (const link of links) {
      const status = enumName(link.status, "GUARDIAN_LINK_STATUS_");
      if (link.guardian_user_id !== me.id || status !== "active") continue;
      const controls = (await api("GET", `/guardian/controls/${link.teen_user_id}`)).controls || {};
      const cap = h("input", { type: "number", min: 0, max: 100000, name: "cap", value: controls.daily_feed_item_cap || 0 });
      const plain = h("input", { type: "checkbox", name: "plain", checked: Boolean(controls.non_personalized_feed) });
      const policy = h("select", { name: "policy" }, ...["only_me", "approved", "mutuals", "everyone"].map((p) =>
        h("option", { value: p, text: t(`policy.${p}`), selected: enumName(controls.max_cameo_policy, "CAMEO_POLICY_") === p })));
      const teenName = link.teen_handle || link.teen_user_id;
      const form = h("form", { class: "stack", "aria-label": t("guardian.controlsFor", { teen: teenName }) },
        h("h3", { text: t("guardian.controlsFor", { teen: teenName }) }),
        field("guardian.cap", cap, "guardian.capHint"),
        h("label", { class: "check" }, plain, h("span", { text: t("guardian.nonPersonalized") })),
        field("guardian.maxPolicy", policy),
        h("button", { type: "submit", class: "primary", text: t("guardian.save") }));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        await busy(form.querySelector("button"), async () => {
          await api("PUT", `/guardian/controls/${link.teen_user_id}`, {
            daily_feed_item_cap: Number(cap.value || 0), non_personalized_feed: plain.checked, max_cameo_policy: policy.value });
          announce(t("guardian.saved"));
        });
      });
      body.append(form);
    }
    if (me.guardian_user_id) body.append(h("p", { text: t("guardian.youAreLinked") }));
  };
  try { await render(); } catch (err) { body.append(h("p", { class: "error", text: err.message })); }
  return section("settings.parental", body,
    h("div", { class: "row wrap" }, button("guardian.startAsGuardian", () => start("guardian")),
      button("guardian.startAsTeen", () => start("teen"))), code, confirm);
}

function languageSection() {
  const select = h("select", { name: "language" }, ...languages.map((code) =>
    h("option", { value: code, text: t(`lang.${code}`), selected: code === language() })));
  select.addEventListener("change", async () => {
    await setLanguage(select.value, { save: true });
    window.kinora.render();
  });
  return section("settings.language", field("settings.language", select));
}

function accountSection(navigate) {
  const out = button("settings.signOut", () => busy(out, async () => { await signOut(); navigate("/signin"); }));
  const everywhere = button("settings.signOutEverywhere", () => busy(everywhere, async () => { await signOut(true); navigate("/signin"); }));
  const remove = button("settings.delete", () => {
    const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
    const error = errorLine();
    const form = h("form", { class: "stack" }, h("p", { text: t("settings.deleteWarning") }), field("join.password", password), error,
      h("button", { type: "submit", class: "danger", text: t("settings.deleteConfirm") }));
    const box = dialog("settings.delete", form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("DELETE", "/me", { password: password.value });
        box.close();
        await signOut().catch(() => {});
        navigate("/join");
      } catch (err) { error.textContent = err.message; }
    });
  }, { class: "danger" });
  return section("settings.account", h("p", { text: t("settings.signedInAs", { handle: user()?.handle || "" }) }),
    h("div", { class: "row wrap" }, out, everywhere, remove));
}

export async function settings(main, { navigate }) {
  main.append(h("h1", { text: t("settings.title") }));
  try { setUser((await api("GET", "/me")).user || user()); } catch { /* keep the session's copy */ }
  main.append(languageSection(), accountSection(navigate));
  const parts = await Promise.all([drafts(), credits(), apiKeys(), parental()]);
  main.insertBefore(parts[0], main.children[1]);
  main.append(...parts.slice(1));
}
