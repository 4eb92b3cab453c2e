// The storyboard editor of Create: 1 to 6 shots made as one clip, each with what happens, how long
// (2-20 s), a camera move and an optional first image. Shots are added, removed and moved with buttons
// named after the shot ("Move shot 2 up"), and the total is said against the model's limit.
import { announce, clear, h } from "./dom.js";
import { t } from "./i18n.js";

// kinora/models/contract.py: STORYBOARD_MAX_SECONDS, MAX_SHOTS, MIN/MAX_SHOT_SECONDS, CAMERA_MOVES.
export const LIMITS = { standard: 15, pro: 25 };
export const MAX_SHOTS = 6;
const MIN_SECONDS = 2;
const MAX_SECONDS = 20;
const CAMERAS = ["", "static", "pan_left", "pan_right", "push_in", "pull_out", "tilt_up", "tilt_down"];
const IMAGE_TYPES = "image/png,image/jpeg,image/webp";
const MAX_IMAGE_BYTES = 10 * 1024 * 1024;

/**
 * editor = storyboardEditor({ model: () => "standard" | "pro", onChange })
 * editor.element: the fieldset to place in the form; editor.total(): seconds; editor.problem(): the first
 * thing to fix in words (or ""), with the control to focus; editor.shots(style): the API's `shots`.
 */
export function storyboardEditor({ model, onChange = () => {} }) {
  const list = h("ol", { class: "shots" });
  const total = h("p", { class: "shot-total", role: "status", "aria-live": "polite" });
  const add = h("button", { type: "button", class: "small", text: t("storyboard.add") });
  const element = h("fieldset", { class: "storyboard" }, h("legend", { text: t("storyboard.legend") }),
    h("p", { class: "hint", text: t("storyboard.hint") }), list, h("div", { class: "row wrap spread" }, add, total));
  const rows = [];

  function shotRow(seconds) {
    const prompt = h("textarea", { rows: 2, maxlength: 2000, required: true, class: "shot-prompt" });
    const length = h("select", { class: "shot-seconds" });
    for (let s = MIN_SECONDS; s <= MAX_SECONDS; s += 1) {
      length.append(h("option", { value: s, text: t("create.secondsN", { n: s }), selected: s === seconds }));
    }
    const camera = h("select", { class: "shot-camera" }, ...CAMERAS.map((c) => h("option", { value: c, text: t(`camera.${c || "any"}`) })));
    const image = h("input", { type: "file", accept: IMAGE_TYPES, class: "shot-image" });
    const labels = { prompt: h("span", { class: "label" }), seconds: h("span", { class: "label" }),
      camera: h("span", { class: "label" }), image: h("span", { class: "label" }) };
    const title = h("h3", { class: "shot-title" });
    const up = h("button", { type: "button", class: "small" }, h("span", { "aria-hidden": "true", text: "↑" }));
    const down = h("button", { type: "button", class: "small" }, h("span", { "aria-hidden": "true", text: "↓" }));
    const remove = h("button", { type: "button", class: "small danger", text: t("storyboard.remove") });
    const node = h("li", { class: "card shot stack" },
      h("div", { class: "row spread" }, title, h("div", { class: "row" }, up, down, remove)),
      h("label", { class: "field" }, labels.prompt, prompt),
      h("div", { class: "row wrap" }, h("label", { class: "field" }, labels.seconds, length),
        h("label", { class: "field" }, labels.camera, camera)),
      h("label", { class: "field" }, labels.image, image, h("span", { class: "hint", text: t("create.imageHint") })));
    const row = { node, prompt, length, camera, image, labels, title, up, down, remove };
    up.addEventListener("click", () => move(row, -1, up));
    down.addEventListener("click", () => move(row, 1, down));
    remove.addEventListener("click", () => {
      if (rows.length <= 1) return;
      const at = rows.indexOf(row);
      rows.splice(at, 1);
      node.remove();
      refresh();
      announce(t("storyboard.removed", { n: at + 1 }));
      rows[Math.min(at, rows.length - 1)].prompt.focus();
    });
    for (const control of [length, camera, image]) control.addEventListener("change", () => { refresh(); onChange(); });
    prompt.addEventListener("input", () => onChange());
    return row;
  }

  function move(row, step, control) {
    const at = rows.indexOf(row);
    const to = at + step;
    if (to < 0 || to >= rows.length) return;
    rows.splice(at, 1);
    rows.splice(to, 0, row);
    if (step < 0) list.insertBefore(row.node, rows[to + 1].node);
    else list.insertBefore(row.node, rows[to - 1].node.nextSibling);
    refresh();
    onChange();
    announce(t("storyboard.moved", { from: at + 1, to: to + 1 }));
    // Keep focus on the button pressed (or its partner when it just became disabled).
    (control.disabled ? (step < 0 ? row.down : row.up) : control).focus();
  }

  function refresh() {
    rows.forEach((row, i) => {
      const n = i + 1;
      row.node.dataset.shot = n;
      row.title.textContent = t("storyboard.shotN", { n });
      row.labels.prompt.textContent = t("storyboard.prompt", { n });
      row.labels.seconds.textContent = t("storyboard.seconds", { n });
      row.labels.camera.textContent = t("storyboard.camera", { n });
      row.labels.image.textContent = t("storyboard.image", { n });
      row.up.setAttribute("aria-label", t("storyboard.moveUp", { n }));
      row.down.setAttribute("aria-label", t("storyboard.moveDown", { n }));
      row.remove.setAttribute("aria-label", t("storyboard.removeN", { n }));
      row.up.disabled = i === 0;
      row.down.disabled = i === rows.length - 1;
      row.remove.disabled = rows.length === 1;
    });
    add.disabled = rows.length >= MAX_SHOTS;
    const seconds = sum();
    const limit = LIMITS[model()] || LIMITS.standard;
    total.textContent = seconds > limit ? t("storyboard.over", { total: seconds, limit, model: t(`create.${model()}`) })
      : t("storyboard.total", { total: seconds, limit, model: t(`create.${model()}`), shots: rows.length });
    total.classList.toggle("error", seconds > limit);
  }

  const sum = () => rows.reduce((s, row) => s + Number(row.length.value), 0);

  add.addEventListener("click", () => {
    if (rows.length >= MAX_SHOTS) return;
    const row = shotRow(4);
    rows.push(row);
    list.append(row.node);
    refresh();
    onChange();
    row.prompt.focus();
  });

  function reset(count = 3) {
    rows.length = 0;
    clear(list);
    for (let i = 0; i < count; i += 1) { const row = shotRow(count === 1 ? 8 : 4); rows.push(row); list.append(row.node); }
    refresh();
  }
  reset();

  return {
    element,
    total: sum,
    refresh,
    /** The first thing to fix before asking the API, in words, with the control to focus; null when fine. */
    problem() {
      const empty = rows.find((row) => !row.prompt.value.trim());
      if (empty) return { message: t("storyboard.promptRequired", { n: rows.indexOf(empty) + 1 }), control: empty.prompt };
      const big = rows.find((row) => (row.image.files?.[0]?.size || 0) > MAX_IMAGE_BYTES);
      if (big) return { message: t("storyboard.imageTooBig", { n: rows.indexOf(big) + 1 }), control: big.image };
      const limit = LIMITS[model()] || LIMITS.standard;
      if (sum() > limit) return { message: t("storyboard.over", { total: sum(), limit, model: t(`create.${model()}`) }), control: rows[0].length };
      return null;
    },
    /** The API's shots: [{prompt, seconds, camera, image_b64?}], each prompt with the style words. */
    async shots(style = "") {
      return Promise.all(rows.map(async (row) => {
        const shot = { prompt: style ? `${row.prompt.value.trim()}, ${style} style` : row.prompt.value.trim(),
          seconds: Number(row.length.value), camera: row.camera.value };
        const file = row.image.files?.[0];
        if (file) shot.image_b64 = await base64(file);
        return shot;
      }));
    },
  };
}

async function base64(file) {
  const url = await new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
  return String(url).slice(String(url).indexOf(",") + 1);
}
