// Stitch: 2 to 10 of my finished clips joined into one, in the order I choose (move up/down), with an
// optional crossfade at each join and a title. Free; the API checks the clips are mine, finished and of
// one size, and its refusal is said under the form. Then the same progress and finished clip as Create.
import { api, enumName, mediaUrl } from "./api.js";
import { announce, busy, clear, field, h, when } from "./dom.js";
import { t } from "./i18n.js";
import { makeAndShow } from "./progress.js";

const MIN_CLIPS = 2;
const MAX_CLIPS = 10;
const CROSSFADES = [0, 0.25, 0.5, 0.75, 1];

export async function stitch(main, { navigate }) {
  const abort = new AbortController();
  main.append(h("h1", { text: t("stitch.title") }), h("p", { class: "lead", text: t("stitch.lead") }));
  const stage = h("section", { class: "stack", "aria-live": "polite" });
  const result = h("section", { class: "stack" });

  const clipsId = "stitch-clips";
  const pickList = h("ul", { class: "list pick-list", "aria-labelledby": clipsId });
  const orderId = "stitch-order";
  const orderList = h("ol", { class: "list order-list", "aria-labelledby": orderId });
  const empty = h("p", { class: "muted", text: t("stitch.none") });
  const length = h("p", { class: "shot-total", role: "status", "aria-live": "polite" });
  const crossfade = h("select", { name: "crossfade" }, ...CROSSFADES.map((s) => h("option", { value: s,
    text: s ? t("stitch.crossfadeN", { n: s }) : t("stitch.cut") })));
  const title = h("input", { name: "title", maxlength: 200, autocomplete: "off" });
  const errorBox = h("p", { class: "error", role: "alert" });
  const go = h("button", { type: "submit", class: "primary", text: t("stitch.go") });
  const form = h("form", { class: "stack", novalidate: true },
    h("section", { class: "card stack" }, h("h2", { id: clipsId, text: t("stitch.yourClips") }), pickList),
    h("section", { class: "card stack" }, h("h2", { id: orderId, text: t("stitch.order") }), empty, orderList, length),
    h("div", { class: "card stack" }, h("div", { class: "row wrap" }, field("stitch.crossfade", crossfade),
      field("stitch.titleLabel", title)), h("span", { class: "hint", text: t("stitch.crossfadeHint") }),
    errorBox, h("div", { class: "row" }, go)));
  main.append(form, stage, result);

  const chosen = []; // generations, in play order
  const boxes = new Map(); // generation id → its checkbox

  function name(gen) {
    return (gen.prompt || "").trim().slice(0, 60) || t("stitch.untitled", { when: when(gen.created_at) });
  }

  function redraw() {
    clear(orderList);
    empty.hidden = chosen.length > 0;
    chosen.forEach((gen, i) => {
      const label = name(gen);
      const up = h("button", { type: "button", class: "small", "aria-label": t("stitch.moveUp", { name: label }), disabled: i === 0 },
        h("span", { "aria-hidden": "true", text: "↑" }));
      const down = h("button", { type: "button", class: "small", "aria-label": t("stitch.moveDown", { name: label }),
        disabled: i === chosen.length - 1 }, h("span", { "aria-hidden": "true", text: "↓" }));
      const remove = h("button", { type: "button", class: "small", "aria-label": t("stitch.removeNamed", { name: label }),
        text: t("stitch.remove") });
      up.addEventListener("click", () => move(i, -1, "up"));
      down.addEventListener("click", () => move(i, 1, "down"));
      remove.addEventListener("click", () => {
        chosen.splice(i, 1);
        boxes.get(gen.id).checked = false;
        redraw();
        boxes.get(gen.id).focus();
      });
      orderList.append(h("li", { class: "row spread order-item", "data-generation": gen.id },
        h("span", {}, h("strong", { text: `${i + 1}. ` }), label, h("span", { class: "muted", text: ` · ${t("create.secondsShort", { n: gen.seconds })}` })),
        h("span", { class: "row" }, up, down, remove)));
    });
    const fade = Number(crossfade.value);
    const seconds = chosen.reduce((s, g) => s + Number(g.seconds || 0), 0) - fade * Math.max(0, chosen.length - 1);
    length.textContent = chosen.length ? t("stitch.length", { n: chosen.length, seconds: Math.round(seconds * 100) / 100 }) : "";
  }

  function move(at, step, which) {
    const to = at + step;
    [chosen[at], chosen[to]] = [chosen[to], chosen[at]];
    redraw();
    announce(t("storyboard.moved", { from: at + 1, to: to + 1 }));
    const item = orderList.children[to];
    const buttons = item.querySelectorAll("button");
    const again = which === "up" ? buttons[0] : buttons[1];
    (again.disabled ? buttons[which === "up" ? 1 : 0] : again).focus();
  }

  crossfade.addEventListener("change", redraw);

  try {
    const gens = (await api("GET", "/generations?page_size=50")).generations || [];
    const done = gens.filter((g) => enumName(g.status, "GENERATION_STATUS_") === "completed" && !g.taken_down);
    if (!done.length) pickList.append(h("li", { class: "muted", text: t("stitch.noClips") }));
    for (const gen of done) {
      const box = h("input", { type: "checkbox", value: gen.id });
      boxes.set(gen.id, box);
      box.addEventListener("change", () => {
        errorBox.textContent = "";
        if (box.checked && chosen.length >= MAX_CLIPS) { box.checked = false; announce(t("stitch.tooMany", { n: MAX_CLIPS }), "error"); return; }
        if (box.checked) chosen.push(gen);
        else chosen.splice(chosen.findIndex((g) => g.id === gen.id), 1);
        redraw();
      });
      const thumb = mediaUrl(gen, "thumbnail");
      pickList.append(h("li", { class: "pick" }, h("label", { class: "check pick-label" }, box,
        thumb ? h("img", { src: thumb, alt: "", width: 45, height: 80, class: "thumb", loading: "lazy" }) : null,
        h("span", {}, h("span", { class: "pick-name", text: name(gen) }),
          h("span", { class: "muted", text: ` · ${t("create.secondsShort", { n: gen.seconds })} · ${(gen.size || "").replace("x", " × ")}` })))));
    }
  } catch (err) { pickList.append(h("li", { class: "error", text: err.message })); }
  redraw();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.textContent = "";
    if (chosen.length < MIN_CLIPS) {
      errorBox.textContent = t("stitch.tooFew", { n: MIN_CLIPS });
      (pickList.querySelector("input:not(:checked)") || go).focus();
      return;
    }
    await busy(go, async () => {
      const body = { stitch_of: chosen.map((g) => g.id), crossfade_seconds: Number(crossfade.value) };
      if (title.value.trim()) body.prompt = title.value.trim();
      let gen;
      try {
        gen = (await api("POST", "/generations", body, { headers: { "Idempotency-Key": crypto.randomUUID() } })).generation;
      } catch (err) {
        errorBox.textContent = err.message;
        throw err;
      }
      form.hidden = true;
      await makeAndShow(gen, { stage, result, signal: abort.signal, navigate });
    });
  });

  return () => abort.abort();
}
