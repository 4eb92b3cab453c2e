// A generation on its way and once made: the progress bar that follows its Server-Sent Events (polling
// if the stream breaks) and the finished clip that plays, with publish, keep or delete. Used by Create
// (one clip, a storyboard, a remix) and Stitch.
import { api, enumName, mediaUrl, streamEvents, user } from "./api.js";
import { announce, busy, button, clear, field, h } from "./dom.js";
import { t } from "./i18n.js";

const TERMINAL = ["completed", "failed", "canceled"];
const EXTEND_SECONDS = [4, 8, 10, 12, 15, 16, 20]; // the new part's length (kinora/models/contract.py ALLOWED_SECONDS)

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
  // The stream ended early or broke: poll until the job ends. A failed poll (a service busy for a
  // moment) is asked again; ten in a row end the wait with the last error.
  let failures = 0;
  for (let i = 0; i < 600 && !TERMINAL.includes(enumName(last.status, "GENERATION_STATUS_")); i += 1) {
    await new Promise((r) => setTimeout(r, 1000));
    if (signal.aborted) return null;
    try {
      show((await api("GET", `/generations/${gen.id}`)).generation);
      failures = 0;
    } catch (err) {
      failures += 1;
      if (failures >= 10) throw err;
    }
  }
  if (enumName(last.status, "GENERATION_STATUS_") === "completed" && !last.media_urls) {
    last = (await api("GET", `/generations/${gen.id}`)).generation;
  }
  return last;
}

/**
 * Follows `gen` in `stage`; a finished clip goes to `result`, a failure is said in `stage` with Try again.
 * ctx = { stage, result, signal, navigate }: the screen's two sections, its AbortSignal and router.
 */
export async function makeAndShow(gen, ctx) {
  const { stage, signal, navigate } = ctx;
  const last = await followGeneration(gen, stage, signal);
  if (!last) return null;
  const status = enumName(last.status, "GENERATION_STATUS_");
  if (status !== "completed") {
    stage.append(h("p", { class: "error", role: "alert", text: last.error?.message || t(`status.${status}`) }),
      button("create.tryAgain", () => navigate(location.pathname + location.search, { replace: true })));
    return last;
  }
  clear(stage);
  showFinished(last, ctx);
  return last;
}

/**
 * The finished draft: it plays (muted, looping), then Publish (caption, visibility), Keep or Delete, and
 * below, Change it (an edit) and Make it longer (an extension), each a new clip followed in place.
 */
export function showFinished(gen, ctx) {
  const { result, navigate } = ctx;
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
  clear(result).append(h("h2", { text: t("create.ready") }), video, facts, form, ...changes(gen, ctx));
  video.play().catch(() => {});
}

/** Change it ({prompt} → POST /generations/{id}/edits) and Make it longer ({prompt, seconds} → /extensions). */
function changes(gen, ctx) {
  const { stage, result, signal } = ctx;
  const make = async (control, errorBox, path, body) => {
    errorBox.textContent = "";
    await busy(control, async () => {
      let made;
      try {
        made = (await api("POST", `/generations/${gen.id}/${path}`, body, { headers: { "Idempotency-Key": crypto.randomUUID() } })).generation;
      } catch (err) { errorBox.textContent = err.message; throw err; }
      clear(result);
      stage.scrollIntoView?.({ block: "start" });
      await makeAndShow(made, ctx);
    });
  };
  if (!stage || !signal) return [];

  const instruction = h("textarea", { name: "edit", rows: 2, maxlength: 2000 });
  const editError = h("p", { class: "error", role: "alert" });
  const editGo = h("button", { type: "submit", text: t("change.editGo") });
  const edit = h("form", { class: "card stack", "aria-labelledby": `edit-${gen.id}`, novalidate: true },
    h("h3", { id: `edit-${gen.id}`, text: t("change.editTitle") }), field("change.editLabel", instruction, "change.editHint"),
    editError, h("div", { class: "row" }, editGo));
  edit.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!instruction.value.trim()) { editError.textContent = t("change.editRequired"); instruction.focus(); return; }
    make(editGo, editError, "edits", { prompt: instruction.value.trim() });
  });

  const next = h("textarea", { name: "extend", rows: 2, maxlength: 2000 });
  const more = h("select", { name: "extend-seconds" }, ...EXTEND_SECONDS.map((n) => h("option", { value: n, text: t("create.secondsN", { n }), selected: n === 4 })));
  const extendError = h("p", { class: "error", role: "alert" });
  const extendGo = h("button", { type: "submit", text: t("change.extendGo") });
  const extend = h("form", { class: "card stack", "aria-labelledby": `extend-${gen.id}`, novalidate: true },
    h("h3", { id: `extend-${gen.id}`, text: t("change.extendTitle") }), field("change.extendLabel", next),
    field("change.extendSeconds", more, "change.extendHint"), extendError, h("div", { class: "row" }, extendGo));
  extend.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!next.value.trim()) { extendError.textContent = t("change.extendRequired"); next.focus(); return; }
    make(extendGo, extendError, "extensions", { prompt: next.value.trim(), seconds: Number(more.value) });
  });
  return [edit, extend];
}

/** "12 s · 720 × 1280 · 3 shots" — what kind of clip this is, in words. */
export function describe(gen) {
  const parts = [t("create.secondsShort", { n: gen.seconds || 0 })];
  if (gen.size) parts.push(gen.size.replace("x", " × "));
  if (gen.shots?.length) parts.push(t("storyboard.shotsN", { n: gen.shots.length }));
  if (gen.stitch_of?.length) parts.push(t("stitch.ofN", { n: gen.stitch_of.length }));
  return parts.join(" · ");
}
