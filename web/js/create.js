// Create: one shot (prompt, duration, optional image) or a storyboard (several shots made as one clip),
// style, size, quality, up to two cameos; the quote before confirming; live progress over Server-Sent
// Events; the finished draft plays; publish, keep or delete (js/progress.js).
import { api, enumName, mediaUrl, user } from "./api.js";
import { announce, busy, button, clear, field, h } from "./dom.js";
import { t } from "./i18n.js";
import { makeAndShow, showFinished } from "./progress.js";
import { storyboardEditor } from "./storyboard.js";

const SECONDS = [4, 8, 10, 12, 15, 16, 20];
const SIZES = {
  standard: { portrait: ["720x1280", "1024x1792"], landscape: ["1280x720", "1792x1024"] },
  pro: { portrait: ["720x1280", "1024x1792", "1080x1920"], landscape: ["1280x720", "1792x1024", "1920x1080"] },
};
const STYLES = ["realistic", "cinematic", "anime"];
const REASONS = { only_me: "create.cameoOnlyMe", approved: "create.cameoNeedsApproval", mutuals: "create.cameoMutuals" };

export async function create(main, { params, navigate }) {
  const abort = new AbortController();
  const remixId = params.get("remix");
  const draftId = params.get("draft");
  main.append(h("h1", { text: t(remixId ? "create.remixTitle" : "create.title") }));
  const stage = h("section", { class: "stack", "aria-live": "polite" });
  const result = h("section", { class: "stack" });

  if (draftId) {
    main.append(stage, result);
    try {
      const gen = (await api("GET", `/generations/${draftId}`)).generation;
      showFinished(gen, { stage, result, signal: abort.signal, navigate });
    } catch (err) { stage.append(h("p", { class: "error", text: err.message })); }
    return () => abort.abort();
  }

  // Remix source: a post (feed) or a generation of one's own.
  let remixPost = null;
  let remixGeneration = "";
  if (remixId) {
    try { remixPost = (await api("GET", `/posts/${remixId}`)).post; } catch { remixGeneration = remixId; }
    const who = remixPost ? `@${remixPost.author_handle}` : remixId;
    main.append(h("p", { class: "lead", text: t("create.remixing", { who }) }),
      remixPost ? h("video", { src: mediaUrl(remixPost), poster: mediaUrl(remixPost, "thumbnail") || false, muted: true,
        controls: true, playsInline: true, class: "source-clip", "aria-label": t("create.sourceClip") }) : null);
  }

  if (!remixId) main.append(h("p", { class: "lead" }, h("a", { href: "/stitch", text: t("stitch.link") })));

  // One shot, or a storyboard (not for remixes: a storyboard starts from nothing).
  const modeOne = h("input", { type: "radio", name: "mode", value: "one", checked: true });
  const modeBoard = h("input", { type: "radio", name: "mode", value: "storyboard" });
  const modeBox = remixId ? null : h("fieldset", { class: "mode row wrap" }, h("legend", { text: t("create.mode") }),
    h("label", { class: "check" }, modeOne, h("span", { text: t("create.modeOne") })),
    h("label", { class: "check" }, modeBoard, h("span", { text: t("create.modeStoryboard") })));
  const storyboard = () => modeBoard.checked;
  const title = h("input", { name: "title", maxlength: 200, autocomplete: "off" });
  const errorBox = h("p", { class: "error", role: "alert" });

  const prompt = h("textarea", { name: "prompt", rows: 4, required: true, maxlength: 2000 });
  const style = h("select", { name: "style" }, h("option", { value: "", text: t("create.styleAny") }),
    ...STYLES.map((s) => h("option", { value: s, text: t(`style.${s}`) })));
  const orientation = h("select", { name: "orientation" },
    h("option", { value: "portrait", text: t("create.portrait") }), h("option", { value: "landscape", text: t("create.landscape") }));
  const size = h("select", { name: "size" });
  const seconds = h("select", { name: "seconds" }, ...SECONDS.map((s) => h("option", { value: s, text: t("create.secondsN", { n: s }), selected: s === 8 })));
  const quality = h("select", { name: "model" },
    h("option", { value: "standard", text: t("create.standard") }), h("option", { value: "pro", text: t("create.pro") }));
  const image = h("input", { type: "file", name: "image", accept: "image/png,image/jpeg,image/webp" });
  const cameoBox = h("fieldset", { class: "cameos" }, h("legend", { text: t("create.cameos") }));
  const quoteBox = h("div", { class: "quote", role: "status", "aria-live": "polite" });
  const quoteButton = h("button", { type: "submit", class: "primary", text: t("create.getQuote") });
  const confirmButton = h("button", { type: "button", class: "primary", hidden: true, text: t("create.confirm") });
  const board = storyboardEditor({ model: () => quality.value, onChange: () => { confirmButton.hidden = true; quoteBox.textContent = ""; } });
  const onePrompt = field("create.prompt", prompt, "create.promptHint");
  const oneDuration = field("create.duration", seconds);
  const oneImage = remixId ? null : field("create.image", image, "create.imageHint");
  const boardTitle = field("storyboard.title", title, "storyboard.titleHint");
  const form = h("form", { class: "card stack", novalidate: true }, modeBox,
    onePrompt, boardTitle, board.element, field("create.style", style),
    h("div", { class: "row wrap" }, field("create.orientation", orientation), field("create.size", size)),
    h("div", { class: "row wrap" }, oneDuration, field("create.quality", quality)),
    oneImage, cameoBox, quoteBox, errorBox, h("div", { class: "row" }, quoteButton, confirmButton));
  main.append(form, stage, result);

  const showMode = () => {
    for (const part of [onePrompt, oneDuration, oneImage]) if (part) part.hidden = storyboard();
    boardTitle.hidden = !storyboard();
    board.element.hidden = !storyboard();
    confirmButton.hidden = true;
    quoteBox.textContent = "";
    errorBox.textContent = "";
  };
  modeOne.addEventListener("change", showMode);
  modeBoard.addEventListener("change", showMode);
  if (params.get("mode") === "storyboard" && !remixId) modeBoard.checked = true;
  showMode();

  const fillSizes = () => {
    const keep = size.value;
    clear(size).append(...SIZES[quality.value][orientation.value].map((s) => h("option", { value: s, text: s.replace("x", " × "), selected: s === keep })));
  };
  orientation.addEventListener("change", fillSizes);
  quality.addEventListener("change", fillSizes);
  quality.addEventListener("change", () => board.refresh());
  fillSizes();
  for (const control of [size, seconds, quality, orientation]) control.addEventListener("change", () => { confirmButton.hidden = true; quoteBox.textContent = ""; });

  // Cameos: everyone findable, with whether I may use them (and why not).
  const chosen = new Set();
  // Loaded without holding up the form: its handlers are attached first (a click on a form with no
  // handler yet would submit it natively).
  (async () => { try {
    const [all, usable] = await Promise.all([api("GET", "/cameos?page_size=50"), api("GET", "/cameos?usable=true&page_size=50")]);
    const usableIds = new Set((usable.cameos || []).map((c) => c.id));
    const me = user();
    const cameos = [...(usable.cameos || []), ...(all.cameos || []).filter((c) => !usableIds.has(c.id))];
    if (!cameos.length) cameoBox.append(h("p", { class: "muted", text: t("create.noCameos") }));
    for (const cameo of cameos) {
      const mine = cameo.owner_user_id === me?.id;
      const ok = usableIds.has(cameo.id);
      const name = mine ? t("create.cameoMe", { handle: cameo.owner_handle }) : `@${cameo.owner_handle}${cameo.display_name ? ` (${cameo.display_name})` : ""}`;
      const box = h("input", { type: "checkbox", name: "cameos", value: cameo.owner_handle, disabled: !ok });
      box.addEventListener("change", () => {
        if (box.checked && chosen.size >= 2) { box.checked = false; announce(t("create.twoCameos"), "error"); return; }
        box.checked ? chosen.add(cameo.owner_handle) : chosen.delete(cameo.owner_handle);
        confirmButton.hidden = true;
      });
      const policy = enumName(cameo.policy, "CAMEO_POLICY_");
      const why = ok ? null : h("span", { class: "hint", text: t(REASONS[policy] || "create.cameoUnavailable", { handle: cameo.owner_handle }) });
      const ask = ok || policy === "only_me" ? null : button("", () => busy(ask, async () => {
        await api("POST", `/cameos/${encodeURIComponent(cameo.owner_handle)}/approval-requests`, { message: "" });
        announce(t("create.asked", { handle: cameo.owner_handle }));
      }), { text: t("create.ask"), "aria-label": t("create.askNamed", { handle: cameo.owner_handle }), class: "small" });
      cameoBox.append(h("div", { class: "cameo-choice" }, h("label", { class: "check" }, box, h("span", { text: name })), why, ask));
    }
  } catch (err) { cameoBox.append(h("p", { class: "error", text: err.message })); } })();

  // The model reads the style from the prompt (English words, whatever the app's language).
  const fullPrompt = () => (style.value ? `${prompt.value.trim()}, ${style.value} style` : prompt.value.trim());

  // A refusal is said under the form (role=alert) as well as in the toast, and the form stays as it was.
  const refused = (err) => { errorBox.textContent = err.message || String(err); throw err; };
  const length = () => (storyboard() ? board.total() : Number(seconds.value));

  let quote = null;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.textContent = "";
    if (storyboard()) {
      const problem = board.problem();
      if (problem) { errorBox.textContent = problem.message; problem.control.focus(); return; }
    } else if (!prompt.value.trim()) { announce(t("create.promptRequired"), "error"); prompt.focus(); return; }
    await busy(quoteButton, async () => {
      quote = (await api("POST", "/billing/quote", { model: quality.value, seconds: length(), size: size.value }).catch(refused)).quote;
      const cost = Number(quote.price_credits || 0);
      clear(quoteBox).append(h("p", { text: quote.description || "" }),
        h("p", { class: "strong", text: cost ? t("create.costs", { n: cost }) : t("create.free") }));
      confirmButton.hidden = false;
      confirmButton.focus();
    });
  });

  confirmButton.addEventListener("click", () => busy(confirmButton, async () => {
    const cameos = [...chosen];
    const key = crypto.randomUUID();
    errorBox.textContent = "";
    let gen;
    if (storyboard()) {
      const body = { shots: await board.shots(style.value), model: quality.value, size: size.value, cameos,
        quote_id: quote?.quote_id || "" };
      // The title names the clip in lists; without one, the first shot's words do.
      body.prompt = title.value.trim() || body.shots[0].prompt.slice(0, 200);
      gen = (await api("POST", "/generations", body, { headers: { "Idempotency-Key": key } }).catch(refused)).generation;
    } else if (remixPost) {
      gen = (await api("POST", `/posts/${remixPost.id}/remix`, { prompt: fullPrompt(), cameos }, { headers: { "Idempotency-Key": key } }).catch(refused)).generation;
    } else if (image.files?.[0]) {
      const body = new FormData();
      body.append("prompt", fullPrompt());
      body.append("image", image.files[0]);
      body.append("seconds", seconds.value);
      body.append("size", size.value);
      body.append("model", quality.value);
      for (const c of cameos) body.append("cameos", c);
      gen = (await api("POST", "/generations", body, { headers: { "Idempotency-Key": key } }).catch(refused)).generation;
    } else {
      gen = (await api("POST", "/generations", { prompt: fullPrompt(), cameos, seconds: Number(seconds.value), size: size.value,
        model: quality.value, quote_id: quote?.quote_id || "", remix_of: remixGeneration }, { headers: { "Idempotency-Key": key } }).catch(refused)).generation;
    }
    form.hidden = true;
    await makeAndShow(gen, { stage, result, signal: abort.signal, navigate });
  }));

  return () => abort.abort();
}
