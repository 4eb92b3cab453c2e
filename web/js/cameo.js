// Cameo: onboarding (a liveness recording made in the browser) and, once verified, who may use it.
import { api, enumName, setUser, user } from "./api.js";
import { announce, busy, button, clear, field, h, when } from "./dom.js";
import { t } from "./i18n.js";

export const RECORD_SECONDS = 9;
const POLICIES = ["only_me", "approved", "mutuals", "everyone"];

export async function cameo(main, { navigate, params }) {
  const cleanup = [];
  main.append(h("h1", { text: t("cameo.title") }));
  let mine = null;
  try { const got = await api("GET", "/cameo"); mine = got.cameo || (got.id ? got : null); } catch (err) { if (err.status !== 404) main.append(h("p", { class: "error", text: err.message })); }
  if (!mine || params.get("reverify")) onboarding(main, cleanup);
  else await manage(main, mine, navigate);
  return () => cleanup.forEach((fn) => fn());
}

// -- onboarding ---------------------------------------------------------------------------------

function turnWords(turns) {
  return (turns || []).map((turn) => t(`turn.${enumName(turn, "HEAD_TURN_")}`)).join(", ");
}

function onboarding(main, cleanup) {
  const box = h("section", { class: "card stack", "aria-labelledby": "onboard-title" },
    h("h2", { id: "onboard-title", text: t("cameo.onboardTitle") }), h("p", { text: t("cameo.onboardLead") }));
  const challengeBox = h("div", { class: "challenge stack", "aria-live": "polite" });
  const name = h("input", { name: "display_name", autocomplete: "name", value: user()?.display_name || "" });
  const preview = h("video", { class: "preview", muted: true, playsInline: true, autoplay: true, hidden: true, "aria-label": t("cameo.preview") });
  const countdown = h("p", { class: "countdown", role: "timer", "aria-live": "off" });
  const results = h("div", { class: "stack", "aria-live": "polite" });
  const startButton = button("cameo.start", () => start(), { class: "primary" });
  const recordButton = button("cameo.record", () => record(), { class: "primary", hidden: true });
  const stopButton = button("cameo.stop", () => recorder?.state === "recording" && recorder.stop(), { hidden: true });
  const newDigits = button("cameo.newDigits", () => start(), { hidden: true });
  box.append(field("cameo.displayName", name), challengeBox, preview, countdown,
    h("div", { class: "row wrap" }, startButton, recordButton, stopButton, newDigits), results);
  main.append(box);

  let verification = null;
  let recorder = null;
  let stream = null;
  const stopStream = () => { stream?.getTracks().forEach((track) => track.stop()); stream = null; };
  cleanup.push(stopStream);

  async function start() {
    await busy(startButton, async () => {
      verification = (await api("POST", "/cameo/verifications")).verification;
      const challenge = verification.challenge || {};
      clear(challengeBox).append(
        h("p", { text: t("cameo.readDigits") }),
        h("p", { class: "digits", id: "challenge-digits", "data-digits": challenge.digits, text: challenge.digits }),
        h("p", { text: t("cameo.turnHead") }),
        h("p", { class: "turns", id: "challenge-turns", "data-turns": (challenge.head_turns || []).map((x) => enumName(x, "HEAD_TURN_")).join(","),
          text: turnWords(challenge.head_turns) }),
        h("p", { class: "hint", text: t("cameo.recordHint", { n: RECORD_SECONDS }) }));
      clear(results);
      startButton.hidden = true;
      recordButton.hidden = false;
      newDigits.hidden = false;
      recordButton.focus();
    });
  }

  async function record() {
    if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === "undefined") {
      announce(t("cameo.noCamera"), "error");
      return;
    }
    recordButton.disabled = true;
    newDigits.disabled = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", frameRate: { max: 30 } },
        // The check listens for the digits: no processing that could eat them.
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (err) {
      announce(t("cameo.cameraRefused", { reason: err.message }), "error");
      recordButton.disabled = false;
      newDigits.disabled = false;
      return;
    }
    preview.hidden = false;
    preview.srcObject = stream;
    const type = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm", "video/mp4"].find((m) => MediaRecorder.isTypeSupported(m)) || "";
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    const chunks = [];
    recorder.addEventListener("dataavailable", (event) => { if (event.data.size) chunks.push(event.data); });
    const done = new Promise((resolve) => recorder.addEventListener("stop", resolve, { once: true }));
    recorder.start(500);
    box.classList.add("recording");
    stopButton.hidden = false;
    let left = RECORD_SECONDS;
    countdown.textContent = t("cameo.recording", { n: left });
    const tick = setInterval(() => {
      left -= 1;
      countdown.textContent = t("cameo.recording", { n: Math.max(0, left) });
      if (left <= 0 && recorder.state === "recording") recorder.stop();
    }, 1000);
    await done;
    clearInterval(tick);
    box.classList.remove("recording");
    stopButton.hidden = true;
    stopStream();
    preview.hidden = true;
    countdown.textContent = t("cameo.uploading");
    const blob = new Blob(chunks, { type: recorder.mimeType || type || "video/webm" });
    await upload(blob);
  }

  async function upload(blob) {
    const body = new FormData();
    body.append("video", blob, blob.type.includes("mp4") ? "cameo.mp4" : "cameo.webm");
    body.append("nonce", verification.challenge.nonce);
    body.append("display_name", name.value);
    try {
      const answer = (await api("POST", `/cameo/verifications/${verification.id}/video`, body)).verification;
      countdown.textContent = "";
      showChecks(answer);
    } catch (err) {
      countdown.textContent = "";
      clear(results).append(h("p", { class: "error", role: "alert", text: err.message }));
      retry();
    }
  }

  function showChecks(answer) {
    const status = enumName(answer.status, "VERIFICATION_STATUS_");
    const items = (answer.checks || []).map((check) => {
      const ok = check.passed;
      const state = !check.evaluated && !ok ? "skipped" : ok ? "passed" : "failed";
      const kind = enumName(check.kind, "VERIFICATION_CHECK_KIND_");
      return h("li", { class: `check-${state}` },
        h("span", { class: "mark", "aria-hidden": "true", text: ok ? "✓" : state === "skipped" ? "–" : "✗" }),
        h("strong", { text: `${t(`check.${kind}`) === `check.${kind}` ? check.name || kind : t(`check.${kind}`)}: ` }),
        h("span", { text: `${t(`checkState.${state}`)}. ${check.reason || ""}` }));
    });
    clear(results).append(h("h3", { text: t(status === "passed" ? "cameo.passed" : "cameo.failed") }), h("ul", { class: "list checks" }, ...items));
    if (status === "passed") {
      const me = user();
      if (me) setUser({ ...me, cameo_verified: true });
      recordButton.hidden = true;
      newDigits.hidden = true;
      results.append(h("a", { href: "/cameo", class: "button primary", text: t("cameo.manageNow") }));
      announce(t("cameo.passed"));
    } else retry();
  }

  function retry() {
    recordButton.hidden = true;
    newDigits.hidden = true;
    recordButton.disabled = false;
    newDigits.disabled = false;
    startButton.hidden = false;
    startButton.textContent = t("cameo.retry");
  }
}

// -- management -------------------------------------------------------------------------------

function section(titleKey, ...content) {
  const id = `c-${titleKey.replace(/\W/g, "-")}`;
  return h("section", { class: "card stack", "aria-labelledby": id }, h("h2", { id, text: t(titleKey) }), ...content);
}

function handleForm(labelKey, submitKey, action) {
  const input = h("input", { name: "handle", autocomplete: "off", required: true });
  const form = h("form", { class: "row wrap" }, field(labelKey, input), h("button", { type: "submit", text: t(submitKey) }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(form.querySelector("button"), async () => { await action(input.value.trim().replace(/^@/, "")); input.value = ""; });
  });
  return form;
}

async function manage(main, mine, navigate) {
  const policyNow = enumName(mine.policy, "CAMEO_POLICY_");
  const maxPolicy = enumName(mine.max_policy, "CAMEO_POLICY_");
  const policy = h("select", { name: "policy" }, ...POLICIES.map((p) => h("option", { value: p, text: t(`policy.${p}`), selected: p === policyNow,
    disabled: maxPolicy && POLICIES.indexOf(p) > POLICIES.indexOf(maxPolicy) })));
  policy.addEventListener("change", () => busy(policy, async () => {
    await api("PUT", "/cameo/policy", { policy: policy.value });
    announce(t("cameo.policySaved"));
  }));

  const approvals = h("ul", { class: "list" });
  // Handles typed here, by user id: cameo learns new accounts' handles from identity's events a
  // moment later, and until then an approval carries only the user id.
  const known = new Map();
  const loadApprovals = async () => {
    clear(approvals);
    const items = (await api("GET", "/cameo/approvals?page_size=50")).approvals || [];
    if (!items.length) approvals.append(h("li", { class: "muted", text: t("cameo.noApprovals") }));
    for (const a of items) {
      a.user_handle = a.user_handle || known.get(a.user_id) || "";
      if (!a.user_handle) continue;
      const status = enumName(a.status, "APPROVAL_STATUS_");
      const row = h("li", { class: "row spread" }, h("span", {}, `@${a.user_handle} `, h("span", { class: "badge", text: t(`approval.${status}`) }),
        a.message ? h("span", { class: "muted", text: ` “${a.message}”` }) : null));
      const controls = h("span", { class: "row" });
      if (status === "pending") {
        const ok = button("", () => busy(ok, async () => { await api("POST", "/cameo/approvals", { handle: a.user_handle }); await loadApprovals(); }),
          { text: t("cameo.approve"), "aria-label": t("cameo.approveNamed", { handle: a.user_handle }) });
        const no = button("", () => busy(no, async () => { await api("POST", `/cameo/approvals/${encodeURIComponent(a.user_handle)}/deny`); await loadApprovals(); }),
          { text: t("cameo.deny"), "aria-label": t("cameo.denyNamed", { handle: a.user_handle }) });
        controls.append(ok, no);
      } else if (status === "approved") {
        const rm = button("", () => busy(rm, async () => { await api("DELETE", `/cameo/approvals/${encodeURIComponent(a.user_handle)}`); await loadApprovals(); }),
          { text: t("cameo.removeApproval"), "aria-label": t("cameo.removeApprovalNamed", { handle: a.user_handle }) });
        controls.append(rm);
      }
      row.append(controls);
      approvals.append(row);
    }
  };

  const restrictions = h("ul", { class: "list" });
  const restrictionText = h("input", { name: "restriction", autocomplete: "off", maxlength: 200 });
  const restrictionForm = h("form", { class: "row wrap" }, field("cameo.restrictionAdd", restrictionText, "cameo.restrictionHint"),
    h("button", { type: "submit", text: t("cameo.add") }));
  const loadRestrictions = async () => {
    clear(restrictions);
    for (const r of (await api("GET", "/cameo/restrictions")).restrictions || []) {
      const rm = button("", () => busy(rm, async () => { await api("DELETE", `/cameo/restrictions/${r.id}`); await loadRestrictions(); }),
        { text: t("cameo.remove"), "aria-label": t("cameo.removeNamed", { text: r.text }) });
      restrictions.append(h("li", { class: "row spread" }, h("span", { text: r.text }), rm));
    }
  };
  restrictionForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(restrictionForm.querySelector("button"), async () => {
      await api("POST", "/cameo/restrictions", { text: restrictionText.value });
      restrictionText.value = "";
      await loadRestrictions();
    });
  });

  const appearances = h("ul", { class: "list" });
  const loadAppearances = async () => {
    clear(appearances);
    const items = (await api("GET", "/cameo/appearances?page_size=50")).appearances || [];
    if (!items.length) appearances.append(h("li", { class: "muted", text: t("cameo.noAppearances") }));
    for (const a of items) {
      const kind = enumName(a.kind, "APPEARANCE_KIND_");
      const rm = button("", () => busy(rm, async () => { await api("DELETE", `/cameo/appearances/${a.id}`); announce(t("cameo.appearanceDeleted")); await loadAppearances(); }),
        { text: t("cameo.deleteClip"), "aria-label": t("cameo.deleteClipNamed", { handle: a.creator_handle, prompt: (a.prompt || "").slice(0, 40) }) });
      appearances.append(h("li", { class: "row spread" },
        h("span", {}, h("strong", { text: `@${a.creator_handle} ` }), h("span", { class: "badge", text: t(`appearance.${kind}`) }), ` ${(a.prompt || "").slice(0, 80)} `,
          h("span", { class: "muted", text: when(a.created_at) })), rm));
    }
  };

  const notes = h("ul", { class: "list" });
  const loadNotes = async () => {
    clear(notes);
    const items = (await api("GET", "/notifications?page_size=30")).notifications || [];
    if (!items.length) notes.append(h("li", { class: "muted", text: t("cameo.noNotifications") }));
    for (const n of items) notes.append(h("li", { class: n.read ? "" : "unread" }, n.message || enumName(n.kind, "NOTIFICATION_KIND_"), " ",
      h("span", { class: "muted", text: when(n.created_at) })));
  };
  const readAll = button("cameo.markRead", () => busy(readAll, async () => { await api("POST", "/notifications/read", { notification_ids: [] }); await loadNotes(); }));

  const takedown = h("input", { type: "checkbox", name: "takedown", checked: true });
  const revokeForm = handleForm("cameo.revokeHandle", "cameo.revoke", async (handle) => {
    await api("POST", "/cameo/revocations", { handle, takedown: takedown.checked });
    announce(t("cameo.revoked", { handle }));
    await Promise.all([loadApprovals(), loadAppearances()]);
  });
  revokeForm.append(h("label", { class: "check" }, takedown, h("span", { text: t("cameo.takedownToo") })));

  const remove = button("cameo.deleteCameo", () => busy(remove, async () => {
    if (!window.confirm(t("cameo.deleteCameoConfirm"))) return;
    await api("DELETE", "/cameo");
    announce(t("cameo.cameoDeleted"));
    navigate("/cameo", { replace: true });
  }), { class: "danger" });

  main.append(
    h("p", { class: "lead" }, t("cameo.verifiedAs", { name: mine.display_name || mine.owner_handle }), " ",
      h("span", { class: "badge", text: t("profile.verified") })),
    section("cameo.policy", field("cameo.whoMayUse", policy, maxPolicy && maxPolicy !== "everyone" ? "cameo.guardianCap" : null)),
    section("cameo.approvals", handleForm("cameo.approveHandle", "cameo.approve", async (handle) => {
      const made = await api("POST", "/cameo/approvals", { handle });
      if (made.approval?.user_id) known.set(made.approval.user_id, handle);
      await loadApprovals();
    }), approvals),
    section("cameo.revokeTitle", h("p", { class: "hint", text: t("cameo.revokeHint") }), revokeForm),
    section("cameo.blocks", handleForm("cameo.blockHandle", "cameo.block", async (handle) => {
      await api("POST", "/cameo/blocks", { handle }); announce(t("cameo.blocked", { handle }));
    })),
    section("cameo.restrictions", restrictionForm, restrictions),
    section("cameo.appearances", appearances),
    section("cameo.notifications", readAll, notes),
    section("cameo.danger", h("a", { href: "/cameo?reverify=1", class: "button", text: t("cameo.reverify") }), remove));
  await Promise.all([loadApprovals(), loadRestrictions(), loadAppearances(), loadNotes()].map((p) => p.catch((err) => announce(err.message, "error"))));
}
