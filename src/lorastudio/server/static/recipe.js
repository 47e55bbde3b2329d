// The train form's side of the recipe. Every setting left empty is filled by the server from a
// recipe for this data and model (POST /api/plan answers `config`, the whole config as it would
// train, and `auto`, the chosen values with their reasons): after each plan an empty field shows
// that value as its placeholder, and a field the recipe chose says so, with the server's reason
// (English) behind a toggle. Also here: the probes the data brings, the {{placeholder}} fields,
// the fixes for settings the form lacks (chips), the memory plan and the held-out prompts.
"use strict";

// Fields whose placeholder follows the plan's config (others keep their own: "each epoch", ...).
TRAIN.FROM_PLAN = ["epochs", "batch_size", "grad_accum", "lr", "lora_r", "lora_alpha", "max_seq_len", "eval_split",
  "mix_general", "lora_dropout", "seed", "target_modules"];

TRAIN.showRecipe = function (r, info) {
  const f = TRAIN.form(), c = r.config || {}, auto = r.auto || {};
  for (const k of TRAIN.FROM_PLAN) {
    const v = c[k];
    f[k].placeholder = v === null || v === undefined ? t(k === "target_modules" ? "tr.targets.ph" : "tr.default") :
      (Array.isArray(v) ? v.join(",") : fmtValue(v));
  }
  const long = f.long_samples.options[0];
  long.textContent = t("tr.long.auto.value", { value: t("value.long_samples." + (c.long_samples || "truncate")) });
  const ckpt = r.memory && r.memory.settings ? r.memory.settings.gradient_checkpointing : null;
  f.gradient_checkpointing.options[0].textContent = ckpt === null ? t("tr.ckpt.auto") : t("tr.ckpt.auto.value", { value: t(ckpt ? "tr.ckpt.on" : "tr.ckpt.off") });
  for (const k of TRAIN.FROM_PLAN.concat(["long_samples"])) TRAIN.autoWhy(f[k], f[k].value ? null : auto[k]);
  // the data file's placeholders, and any the plan met (a grown dataset's are the file's own)
  TRAIN.renderVars([...new Set(Object.keys((info || {}).placeholders || {}).concat(Object.keys(r.placeholders || {})))]);
  $("#plan-memory").innerHTML = TRAIN.memoryHTML(r.memory);
  $("#plan-heldout").innerHTML = TRAIN.heldoutHTML(r);
  const unfilled = $("#plan-findings .finding[data-code=UNFILLED_PLACEHOLDERS] .fix");
  if (unfilled && $("#vars-box input")) unfilled.insertAdjacentHTML("beforeend", ` <button type="button" class="small" id="goto-vars">${esc(t("tr.vars.goto"))}</button>`);
};

// "Chosen from the data" under a field the recipe filled; its reason, in the server's words, behind
// the toggle. Left as it is while the reason stays the same (an open toggle stays open).
TRAIN.autoWhy = function (input, choice) {
  const label = input.closest("label");
  let box = $(".auto-why", label);
  if (!choice) { if (box) box.remove(); return; }
  if (box && box.dataset.reason === choice.reason) return;
  if (!box) {
    label.insertAdjacentHTML("beforeend", `<details class="auto-why"><summary>${esc(t("tr.auto.chosen"))}</summary><div class="core-text"></div></details>`);
    box = $(".auto-why", label);
  }
  box.dataset.reason = choice.reason;
  $(".core-text", box).textContent = choice.reason;
};

// ------------------------------------------------------------------ probes

// What GET /api/datasets/{name} says of a dataset (its own probes file, placeholders), by name.
TRAIN.info = {};
TRAIN.datasetInfo = function (name) {
  if (!TRAIN.info[name]) TRAIN.info[name] = api("GET", "/api/datasets/" + encodeURIComponent(name)).catch(() => ({}));
  return TRAIN.info[name];
};

// A training dataset chosen: its own probes (NAME_probes.jsonl, saved beside it by Expand) when it
// has them, else the automatic choice (prompts held out of the data). Never another dataset's.
TRAIN.ownProbes = async function () {
  const f = TRAIN.form(), name = f.data.value, before = f.probes.value;
  TRAIN.probesFor = name;
  const own = name ? (await TRAIN.datasetInfo(name)).probes : null;
  if (f.data.value !== name || f.probes.value !== before) return;  // chosen again meanwhile, by the user
  f.probes.value = own && [...f.probes.options].some((o) => o.value === own) ? own : "";
  TRAIN.schedulePlan();
};

// ------------------------------------------------------------------ {{placeholders}}

TRAIN.varValues = function () {
  const out = {};
  $$("#vars-box input[data-var]").forEach((input) => { if (input.value !== "") out[input.dataset.var] = input.value; });
  return out;
};

// One field per placeholder the data holds ("{{name}} ="), sent as `vars`. Rebuilt only when the
// names change, so typing in one keeps its focus; values typed stay while the names do.
TRAIN.renderVars = function (names) {
  const box = $("#vars-box"), values = { ...(TRAIN.pendingVars || {}), ...TRAIN.varValues() };
  if (box.dataset.names === names.join("\n")) return;
  box.dataset.names = names.join("\n");
  box.hidden = !names.length;
  box.innerHTML = names.length ? `<span class="hint">${esc(t("tr.vars.title"))}</span>` + names.map((n) =>
    `<label class="var"><code>{{${esc(n)}}}</code> = <input data-var="${esc(n)}" value="${esc(values[n] || "")}" data-i18n-ph="tr.vars.ph" placeholder="${esc(t("tr.vars.ph"))}"></label>`).join("") : "";
  TRAIN.pendingVars = null;
};

// Values from elsewhere (a job's settings, a fix): into their fields now, or once the plan names them.
TRAIN.setVars = function (vars) {
  const left = { ...vars };
  $$("#vars-box input[data-var]").forEach((input) => {
    if (input.dataset.var in left) { input.value = left[input.dataset.var]; delete left[input.dataset.var]; }
  });
  TRAIN.pendingVars = Object.keys(left).length ? left : null;
  if (TRAIN.pendingVars) $("#vars-box").dataset.names = "";  // drawn again with them at the next plan
};

// ------------------------------------------------------------------ fixes for settings the form lacks

TRAIN.renderExtra = function () {
  const entries = Object.entries(TRAIN.extra);
  $("#extra-box").hidden = !entries.length;
  $("#extra-chips").innerHTML = entries.map(([k, v]) => {
    const value = typeof v === "string" && has(`value.${k}.${v}`) ? t(`value.${k}.${v}`) : fmtValue(v);
    return `<span class="chip" data-key="${esc(k)}">${esc(fieldRef(k))} = <span class="param">${esc(value)}</span>` +
      `<button type="button" class="chip-x" title="${esc(t("tr.extra.remove"))}" aria-label="${esc(t("tr.extra.remove"))}">×</button></span>`;
  }).join("");
};

// ------------------------------------------------------------------ memory and held-out prompts

// The memory plan's split at the peak of a step: weights, LoRA + optimizer, activations, logits
// (and CUDA's own overhead), the total against the GPU's memory; what it turned on by itself.
TRAIN.memoryHTML = function (m) {
  if (!m) return "";
  const size = (n) => (n >= 1073741824 / 10 ? (n / 1073741824).toFixed(2) + " GiB" : (n / 1048576).toFixed(1) + " MiB");
  const s = m.settings, num = (n) => `<code>${esc(Number(n).toLocaleString())}</code>`;
  const rows = [["tr.mem.weights", m.weights, `${num(m.detail.n_params)} × <code>${esc(s.quantize === "none" ? s.dtype : s.quantize)}</code>`],
    ["tr.mem.lora", m.lora, `${num(m.lora_params)} × <code>16 B</code>`],
    ["tr.mem.act", m.activations, `${num(s.batch_size)} × ${num(s.seq_len)}` + (s.gradient_checkpointing ? ` · ${esc(t("tr.mem.ckpt"))}` : "")],
    ["tr.mem.logits", m.logits, `${num(s.batch_size)} × ${num(m.detail.logit_positions)}`]];
  if (m.device === "cuda") rows.push(["tr.mem.overhead", m.overhead, ""]);
  const verdict = m.budget ? tHTML(m.fits ? "tr.mem.fits" : "tr.mem.nofit", { budget: size(m.budget) }) : "";
  rows.push(["tr.mem.total", m.total, verdict + (m.fix ? " · " + tHTML("tr.mem.withfix", { total: size(m.fix.total) }) : "")]);
  const why = Object.values(m.auto || {}).concat(m.notes || []);
  return `<h4>${esc(t("tr.mem.title"))} <span class="hint">${esc(t(m.device === "cuda" ? "tr.mem.cuda" : "tr.mem.cpu"))}</span></h4>` +
    `<table class="table" id="memory-table">` + rows.map(([k, v, note]) =>
      `<tr data-row="${k.slice(7)}"${k === "tr.mem.total" && m.budget && !m.fits ? ' class="bad"' : ""}><th>${esc(t(k))}</th><td><span class="param">${esc(size(v))}</span></td><td>${note}</td></tr>`).join("") +
    "</table>" + (why.length ? `<details class="auto-why"><summary>${esc(t("tr.mem.auto"))}</summary>${why.map((w) => `<div class="core-text">${esc(w)}</div>`).join("")}</details>` : "");
};

// The prompts training holds out of the data for the doctor when no probes are chosen.
TRAIN.heldoutHTML = function (r) {
  const held = r.heldout || [];
  if (!held.length || (r.config || {}).probes) return "";
  return `<details id="heldout-list"><summary>${tHTML("tr.heldout", { n: held.length })}</summary><ul>` +
    held.map((h) => `<li><span class="badge">${esc(t("tr.heldout." + h.kind))}</span> <span class="user-text">${esc(h.prompt)}</span></li>`).join("") +
    "</ul></details>";
};

document.addEventListener("DOMContentLoaded", () => {
  window.addEventListener("langchange", () => {  // drawn again in the new language (typed values kept)
    $$(".auto-why", TRAIN.form()).forEach((el) => el.remove());
    $("#vars-box").dataset.names = "";
    TRAIN.pendingVars = { ...(TRAIN.pendingVars || {}), ...TRAIN.varValues() };
    TRAIN.renderExtra();
  });
  document.addEventListener("click", (e) => {
    const x = e.target.closest("#extra-chips .chip-x");
    if (x) { delete TRAIN.extra[x.closest(".chip").dataset.key]; TRAIN.renderExtra(); TRAIN.schedulePlan(0); }
    if (e.target.closest("#goto-vars")) { const first = $("#vars-box input[data-var]"); first.scrollIntoView({ block: "center" }); first.focus(); }
  });
});
