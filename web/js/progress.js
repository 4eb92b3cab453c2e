// A generation on its way and once made: the progress bar that follows its Server-Sent Events (polling
// if the stream breaks) and the finished clip that plays, with publish, keep or delete. Used by Create
// (one clip, a storyboard, a remix) and Stitch.
import { api, enumName, mediaUrl, streamEvents, user } from "./api.js";
import { announce, busy, button, clear, field, h } from "./dom.js";
import { t } from "./i18n.js";

const TERMINAL = ["completed", "failed", "canceled"];

/** Shows the job's progress in `stage` until it ends; resolves with its last state (null if aborted). */
export async function followGeneration(gen, stage, signal) {
  const bar = h("progress", { max: 100, value: gen.progress || 0, "aria-label": t("create.progress") });
  const words = h("p", { role: "status", text: t("create.queued") });
  clear(stage).append(h("h2", { text: t("create.making") }), bar, words);
  let last = gen;
  const show = (g) => {
    last = g;
    bar.value = g.progress || 0;
    const status = enumName(g.status, "GENERATION_STATUS_");
    words.textContent = status === "queued" && g.queue_position ? t("create.queuePosition", { n: g.queue_position })
      : t("create.stage", { status: t(`status.${status}`), stage: g.stage || "", progress: g.progress || 0 });
  };
  try {
    await streamEvents(`/generations/${gen.id}/events`, (name, data) => { if (name === "generation") show(data); }, signal);
  } catch (err) {
    if (signal.aborted) return null;
  }
  // The stream ended early or broke: poll until the job ends.
  for (let i = 0; i < 600 && !TERMINAL.includes(enumName(last.status, "GENERATION_STATUS_")); i += 1) {
    await new Promise((r) => setTimeout(r, 1000));
    if (signal.aborted) return null;
    show((await api("GET", `/generations/${gen.id}`)).generation);
  }
  if (enumName(last.status, "GENERATION_STATUS_") === "completed" && !last.media_urls) {
    last = (await api("GET", `/generations/${gen.id}`)).generation;
  }
  return last;
}

/** Follows `gen` in `stage`; a finished clip goes to `result`, a failure is said in `stage` with Try again. */
export async function makeAndShow(gen, { stage, result, signal, navigate, extras }) {
  const last = await followGeneration(gen, stage, signal);
  if (!last) return null;
  const status = enumName(last.status, "GENERATION_STATUS_");
  if (status !== "completed") {
    stage.append(h("p", { class: "error", role: "alert", text: last.error?.message || t(`status.${status}`) }),
      button("create.tryAgain", () => navigate(location.pathname + location.search, { replace: true })));
    return last;
  }
  clear(stage);
  showFinished(last, { result, navigate, extras });
  return last;
}

/** The finished draft: it plays (muted, looping), then Publish (caption, visibility), Keep or Delete. */
export function showFinished(gen, { result, navigate, extras }) {
  const video = h("video", { src: mediaUrl(gen), poster: mediaUrl(gen, "thumbnail") || false, controls: true, autoplay: true,
    muted: true, loop: true, playsInline: true, class: "result-clip", "aria-label": t("create.yourClip") });
  video.setAttribute("muted", "");
  video.dataset.generation = gen.id;
  const facts = h("p", { class: "muted clip-facts", text: describe(gen) });
  const caption = h("input", { name: "caption", maxlength: 300, autocomplete: "off" });
  const visibility = h("select", { name: "visibility" }, ...["public", "followers", "private"].map((v) => h("option", { value: v, text: t(`visibility.${v}`) })));
  const publish = h("button", { type: "submit", class: "primary", text: t("create.publish") });
  const keep = button("create.keepDraft", () => { announce(t("create.kept")); navigate("/settings"); });
  const remove = button("create.delete", () => busy(remove, async () => {
    await api("DELETE", `/generations/${gen.id}`);
    announce(t("create.deleted"));
    navigate("/create", { replace: true });
  }), { class: "danger" });
  const form = h("form", { class: "card stack" }, field("create.caption", caption), field("create.visibility", visibility),
    h("div", { class: "row wrap" }, publish, keep, remove));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(publish, async () => {
      await api("POST", "/posts", { generation_id: gen.id, caption: caption.value, visibility: visibility.value });
      announce(t("create.published"));
      navigate(`/u/${user().handle}`);
    });
  });
  clear(result).append(h("h2", { text: t("create.ready") }), video, facts, form, ...(extras ? extras(gen) : []));
  video.play().catch(() => {});
}

/** "12 s · 720 × 1280 · 3 shots" — what kind of clip this is, in words. */
export function describe(gen) {
  const parts = [t("create.secondsShort", { n: gen.seconds || 0 })];
  if (gen.size) parts.push(gen.size.replace("x", " × "));
  if (gen.shots?.length) parts.push(t("storyboard.shotsN", { n: gen.shots.length }));
  if (gen.stitch_of?.length) parts.push(t("stitch.ofN", { n: gen.stitch_of.length }));
  return parts.join(" · ");
}
