// The feed: vertical, full screen, one clip per screen with scroll snapping. The visible clip plays
// muted (IntersectionObserver), a tap turns the sound on; the next clip is preloaded.
import { api, enumName, mediaUrl } from "./api.js";
import { announce, busy, button, clear, dialog, field, h, when } from "./dom.js";
import { t } from "./i18n.js";

const FOLLOWING_SOURCES = new Set(["following", "mutuals"]);
const REPORT_REASONS = ["spam", "harassment", "sexual", "violence", "self_harm", "likeness_misuse", "other"];

export async function feed(main, { params, navigate }) {
  let tab = params.get("tab") === "following" ? "following" : "foryou";
  let sessionId = "";
  let pageToken = "";
  let loading = false;
  let ended = false;
  let sound = false;
  const seen = new Set();

  const tabsBar = h("div", { class: "feed-tabs", role: "tablist", "aria-label": t("feed.tabs") });
  const steer = button("feed.steer", () => steerDialog(), { class: "ghost" });
  const list = h("div", { class: "feed", id: "feed-list", "aria-label": t("feed.title"), role: "feed", "aria-busy": "true" });
  const status = h("p", { class: "muted feed-status", role: "status" });
  main.classList.add("feed-screen");
  main.append(h("h1", { class: "visually-hidden", text: t("feed.title") }),
    h("div", { class: "feed-bar" }, tabsBar, steer), list, status);

  for (const [key, label] of [["foryou", "feed.forYou"], ["following", "feed.following"]]) {
    tabsBar.append(h("button", { type: "button", role: "tab", "aria-selected": String(tab === key), text: t(label),
      onclick: () => { if (tab !== key) navigate(key === "following" ? "/feed?tab=following" : "/feed", { replace: true }); } }));
  }

  // Plays what is on screen, pauses the rest, and warms the next clip.
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const slide = entry.target;
      const video = slide.querySelector("video");
      if (!video) continue;
      if (entry.isIntersecting && entry.intersectionRatio >= 0.6) {
        video.muted = !sound;
        video.preload = "auto";
        video.play().catch(() => { /* autoplay refused: the play button stays */ });
        slide.classList.add("current");
        preload(slide.nextElementSibling);
        if (!slide.nextElementSibling?.nextElementSibling) more();
      } else {
        video.pause();
        slide.classList.remove("current");
      }
    }
  }, { root: list, threshold: [0, 0.6, 1] });

  function preload(slide) {
    const video = slide?.querySelector("video");
    if (video && video.preload !== "auto") {
      video.preload = "auto";
      video.load();
    }
  }

  function slideFor(item) {
    const post = item.post;
    const source = enumName(item.source, "CANDIDATE_SOURCE_");
    const video = h("video", { src: mediaUrl(post), poster: mediaUrl(post, "thumbnail") || false, muted: true, loop: true,
      playsInline: true, preload: list.children.length < 2 ? "auto" : "metadata", "aria-label": t("feed.clipBy", { handle: post.author_handle }) });
    video.defaultMuted = true;
    // A signed URL lasts an hour: when one has expired, the post is fetched again for fresh ones.
    video.addEventListener("error", async () => {
      if (video.dataset.renewed) return;
      video.dataset.renewed = "1";
      try {
        const fresh = (await api("GET", `/posts/${post.id}`)).post;
        const at = video.currentTime;
        video.src = mediaUrl(fresh);
        video.currentTime = at;
        if (slide.classList.contains("current")) video.play().catch(() => {});
      } catch { /* taken down meanwhile: it stays stopped */ }
    });
    video.setAttribute("muted", "");
    video.setAttribute("playsinline", "");
    const soundButton = h("button", { type: "button", class: "sound", "aria-pressed": String(sound), text: t(sound ? "feed.mute" : "feed.unmute") });
    const toggleSound = () => {
      sound = !sound;
      for (const v of list.querySelectorAll("video")) v.muted = !sound;
      for (const b of list.querySelectorAll("button.sound")) { b.textContent = t(sound ? "feed.mute" : "feed.unmute"); b.setAttribute("aria-pressed", String(sound)); }
      if (video.paused) video.play().catch(() => {});
    };
    soundButton.addEventListener("click", toggleSound);
    video.addEventListener("click", toggleSound);

    let liked = Boolean(post.liked_by_caller);
    let likes = Number(post.like_count || 0);
    const likeButton = h("button", { type: "button", class: "action", "aria-pressed": String(liked) },
      h("span", { "aria-hidden": "true", class: "glyph", text: "♥" }), h("span", { class: "count", text: String(likes) }));
    likeButton.setAttribute("aria-label", t("feed.like"));
    likeButton.addEventListener("click", () => busy(likeButton, async () => {
      await api(liked ? "DELETE" : "POST", `/posts/${post.id}/like`);
      liked = !liked;
      likes += liked ? 1 : -1;
      likeButton.setAttribute("aria-pressed", String(liked));
      likeButton.querySelector(".count").textContent = String(likes);
    }));

    const action = (glyph, labelKey, onclick, extra = {}) => {
      const b = h("button", { type: "button", class: "action", "aria-label": t(labelKey), onclick, ...extra },
        h("span", { "aria-hidden": "true", class: "glyph", text: glyph }), h("span", { class: "caption", text: t(`${labelKey}Short`) }));
      return b;
    };
    const why = h("p", { class: "why", hidden: true, text: item.reason || t("feed.whyDefault", { source: t(`source.${source || "recent"}`) }) });
    const whyButton = action("?", "feed.why", () => {
      why.hidden = !why.hidden;
      whyButton.setAttribute("aria-expanded", String(!why.hidden));
    }, { "aria-expanded": "false" });

    const slide = h("article", { class: "slide", "aria-label": t("feed.clipBy", { handle: post.author_handle }), "data-post": post.id },
      video,
      h("div", { class: "overlay" },
        h("div", { class: "meta" },
          h("a", { href: `/u/${post.author_handle}`, class: "author", text: `@${post.author_handle}` }),
          post.caption ? h("p", { class: "caption-text", text: post.caption }) : null,
          post.remix_of_post_id ? h("span", { class: "badge", text: t("feed.isRemix") }) : null,
          why, soundButton),
        h("div", { class: "actions" },
          likeButton,
          action("✎", "feed.comment", () => commentsDialog(post)),
          action("⟲", "feed.remix", () => navigate(`/create?remix=${post.id}`)),
          action("↗", "feed.share", () => share(post)),
          action("−", "feed.seeLess", () => seeLess(post, slide)),
          action("⚑", "feed.report", () => reportDialog(post)),
          whyButton)));
    return slide;
  }

  function capScreen(message) {
    return h("article", { class: "slide limit", "aria-labelledby": "limit-title" },
      h("div", { class: "limit-box stack" },
        h("h2", { id: "limit-title", text: t("feed.limitTitle") }),
        h("p", { text: message || t("feed.limitText") }),
        h("p", { class: "muted", text: t("feed.limitHint") }),
        h("a", { href: "/create", class: "button primary", text: t("feed.makeSomething") })));
  }

  function nudgeCard(text) {
    return h("article", { class: "slide nudge", "aria-label": t("feed.nudgeTitle") },
      h("div", { class: "limit-box stack" },
        h("h2", { text: t("feed.nudgeTitle") }), h("p", { text: text }),
        h("a", { href: "/create", class: "button primary", text: t("feed.makeSomething") })));
  }

  async function more() {
    if (loading || ended) return;
    loading = true;
    list.setAttribute("aria-busy", "true");
    try {
      const query = new URLSearchParams({ page_size: "6" });
      if (pageToken) query.set("page_token", pageToken);
      if (sessionId) query.set("session_id", sessionId);
      const page = await api("GET", `/feed?${query}`);
      sessionId = page.session_id || sessionId;
      pageToken = page.next_page_token || "";
      let added = 0;
      for (const item of page.items || []) {
        if (!item.post || seen.has(item.post.id)) continue;
        if (tab === "following" && !FOLLOWING_SOURCES.has(enumName(item.source, "CANDIDATE_SOURCE_"))) continue;
        seen.add(item.post.id);
        const slide = slideFor(item);
        list.append(slide);
        observer.observe(slide);
        added += 1;
      }
      if (page.nudge) list.append(nudgeCard(page.nudge));
      if (page.cap_reached) {
        list.append(capScreen(page.cap_message));
        ended = true;
      } else if (!pageToken) {
        ended = true;
        if (!list.querySelector(".slide")) status.textContent = t(tab === "following" ? "feed.emptyFollowing" : "feed.empty");
        else list.append(h("article", { class: "slide end muted", "aria-label": t("feed.end") }, h("p", { text: t("feed.end") })));
      } else if (!added && tab === "following") {
        loading = false;
        return more();
      }
    } catch (err) {
      if (err.code === "daily_cap_reached" || err.status === 429 && /cap|limit/i.test(err.code)) {
        list.append(capScreen(err.message));
        ended = true;
      } else status.textContent = err.message;
    } finally {
      loading = false;
      list.setAttribute("aria-busy", "false");
    }
  }

  // Keyboard: arrow keys and j/k move one clip.
  list.tabIndex = 0;
  list.addEventListener("keydown", (event) => {
    const step = { ArrowDown: 1, j: 1, PageDown: 1, ArrowUp: -1, k: -1, PageUp: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    list.scrollBy({ top: step * list.clientHeight, behavior: "smooth" });
  });

  async function share(post) {
    const url = `${location.origin}/u/${post.author_handle}?post=${post.id}`;
    try {
      if (navigator.share) await navigator.share({ title: "Kinora", text: post.caption || "", url });
      else { await navigator.clipboard.writeText(url); announce(t("feed.linkCopied")); }
    } catch (err) {
      if (err.name !== "AbortError") announce(t("feed.copyThis", { url }));
    }
  }

  async function seeLess(post, slide) {
    await busy(null, async () => {
      await api("POST", `/posts/${post.id}/see-less`, { note: "" });
      announce(t("feed.seeLessDone"));
      const next = slide.nextElementSibling;
      observer.unobserve(slide);
      slide.remove();
      next?.scrollIntoView();
    });
  }

  function reportDialog(post) {
    const reason = h("select", { name: "reason" }, ...REPORT_REASONS.map((r) => h("option", { value: r, text: t(`report.${r}`) })));
    const details = h("textarea", { name: "details", rows: 3, maxlength: 500 });
    const form = h("form", { class: "stack" }, field("report.reason", reason), field("report.details", details),
      h("button", { type: "submit", class: "danger", text: t("report.send") }));
    const box = dialog("feed.report", form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      await busy(form.querySelector("button"), async () => {
        await api("POST", `/posts/${post.id}/report`, { reason: reason.value, details: details.value });
        box.close();
        announce(t("report.thanks"));
      });
    });
  }

  function commentsDialog(post) {
    const listBox = h("ul", { class: "list comments" });
    const text = h("textarea", { name: "text", rows: 2, maxlength: 500, required: true });
    const form = h("form", { class: "stack" }, field("comments.add", text), h("button", { type: "submit", class: "primary", text: t("comments.send") }));
    const load = async () => {
      clear(listBox);
      const items = (await api("GET", `/posts/${post.id}/comments?page_size=50`)).comments || [];
      if (!items.length) listBox.append(h("li", { class: "muted", text: t("comments.none") }));
      for (const c of items) listBox.append(h("li", {}, h("strong", { text: `@${c.author_handle || c.user_handle || ""} ` }), c.text, " ", h("span", { class: "muted", text: when(c.created_at) })));
    };
    dialog("feed.comment", listBox, form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      await busy(form.querySelector("button"), async () => {
        await api("POST", `/posts/${post.id}/comments`, { text: text.value });
        text.value = "";
        await load();
      });
    });
    load().catch((err) => listBox.append(h("li", { class: "error", text: err.message })));
  }

  async function steerDialog() {
    const text = h("textarea", { name: "preferences", rows: 3, maxlength: 500 });
    const form = h("form", { class: "stack" }, h("p", { class: "hint", text: t("feed.steerHint") }), field("feed.steerLabel", text),
      h("button", { type: "submit", class: "primary", text: t("feed.steerSave") }));
    const box = dialog("feed.steer", form);
    api("GET", "/feed/preferences").then((p) => { text.value = p.preferences?.text || p.text || ""; }).catch(() => {});
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      await busy(form.querySelector("button"), async () => {
        await api("PUT", "/feed/preferences", { text: text.value });
        box.close();
        announce(t("feed.steerSaved"));
      });
    });
  }

  await more();
  list.focus({ preventScroll: true });
  return () => observer.disconnect();
}
