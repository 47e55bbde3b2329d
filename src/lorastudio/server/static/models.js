// Model pickers on the train and chat pages, filled from GET /api/models: the embedded model,
// models converted before, and every chat model found on this machine (Ollama, the Hugging Face
// and ModelScope caches, LM Studio). Train: choosing one fills the model field (which still
// takes a folder, a .gguf file or a hub id). Chat: choosing one loads it as the base to chat
// with (POST /api/engine/load). The train page also offers the bundled configs of larger models
// (`plan_only`): their plan and memory need no weights, so "will it fit my GPU?" is answered
// before any download. Uses common.js's helpers and i18n.js's t(); loaded after both.
"use strict";

const MODELS = { data: null };
const MODEL_GROUPS = ["embedded", "ollama", "hf", "modelscope", "lmstudio", "cached", "plan_only"];

MODELS.fetch = async function (fresh) {
  if (!MODELS.data || fresh) MODELS.data = await api("GET", "/api/models");
  return MODELS.data;
};

MODELS.params = (n) => (!n ? "?" : n >= 1e9 ? (n / 1e9).toFixed(1) + "B" : n >= 1e6 ? Math.round(n / 1e6) + "M" : Math.round(n / 1e3) + "K");

// <option>s grouped by where each model is; one that cannot be trained is shown disabled, its
// reason as the tooltip. `current` is listed even when it is none of them (a typed folder).
MODELS.options = function (m, current, planOnly) {
  const groups = Object.fromEntries(MODEL_GROUPS.map((k) => [k, []]));
  const seen = new Set();
  for (const e of m.found) {
    seen.add(e.spec);
    const label = `${e.name} · ${e.architecture} ${MODELS.params(e.n_params)} ${e.quantization}${e.problem ? " ✗" : ""}`;
    groups[e.source].push(`<option value="${esc(e.spec)}"${e.problem ? " disabled" : ""} title="${esc(e.problem || e.path)}">${esc(label)}</option>`);
  }
  for (const name of [].concat(m.embedded, m.cached)) {
    if (seen.has(name)) continue;
    seen.add(name);
    const group = m.embedded.includes(name) ? "embedded" : "cached";
    groups[group].push(`<option value="${esc(name)}" title="${esc(name)}">${esc(name.split("/").pop())}</option>`);
  }
  for (const name of planOnly ? m.plan_only || [] : []) {
    if (!seen.has(name)) groups.plan_only.push(`<option value="${esc(name)}" title="${esc(t("mp.plan_only.hint"))}">${esc(name)}</option>`);
  }
  let html = `<option value="">${esc(t("mp.choose"))}</option>`;
  if (current && !seen.has(current)) html += `<option value="${esc(current)}">${esc(current)}</option>`;
  for (const k of MODEL_GROUPS) if (groups[k].length) html += `<optgroup label="${esc(t("mp.group." + k))}">${groups[k].join("")}</optgroup>`;
  return html;
};

MODELS.select = function (sel, value) {
  sel.value = [...sel.options].some((o) => o.value === value && !o.disabled) ? value : "";
};

// ---- train page
MODELS.fillTrain = function () {
  const m = MODELS.data, f = TRAIN.form();
  if (!m) return;
  const names = [m.default].concat(m.embedded, m.cached, m.found.filter((e) => !e.problem).map((e) => e.spec), m.plan_only || []);
  $("#model-list").innerHTML = names.filter((v, i, a) => v && a.indexOf(v) === i).map((o) => `<option value="${esc(o)}">`).join("");
  $("#model-pick").innerHTML = MODELS.options(m, f.model.value, true);
  MODELS.select($("#model-pick"), f.model.value);
};

TRAIN.loadModels = async function () {
  try {
    const m = await MODELS.fetch(true);
    if (!TRAIN.form().model.value) { TRAIN.form().model.value = m.default; TRAIN.schedulePlan(); }
    MODELS.fillTrain();
  } catch (e) { /* the plan shows model errors */ }
};

// ---- chat page
MODELS.fillChat = async function () {
  try {
    const [m, engine] = await Promise.all([MODELS.fetch(), api("GET", "/api/engine")]);
    $("#ch-model").innerHTML = MODELS.options(m, engine.model);
    MODELS.select($("#ch-model"), engine.model);
    $("#ch-model-state").textContent = engine.loaded ? "" : t("mp.notloaded");
  } catch (e) { showError("#ch-error", e); }
};

MODELS.switchChat = async function () {
  const sel = $("#ch-model"), model = sel.value;
  if (!model) return;
  sel.disabled = true;
  $("#ch-error").innerHTML = "";
  $("#ch-model-state").innerHTML = tHTML("mp.loading", { model });
  try {
    const engine = await api("POST", "/api/engine/load", { model });
    $("#ch-model-state").innerHTML = tHTML("mp.loaded", { model: engine.model });
    CHAT.clear();
    await CHAT.loadAdapters();
  } catch (e) {
    showError("#ch-error", e);
    await MODELS.fillChat();
  } finally { sel.disabled = false; }
};

const chatShow = pages.chat.show;
pages.chat.show = async function (arg) { await Promise.all([chatShow(arg), MODELS.fillChat()]); };

document.addEventListener("DOMContentLoaded", () => {
  $("#model-pick").onchange = () => {
    const v = $("#model-pick").value;
    if (v) { TRAIN.form().model.value = v; TRAIN.schedulePlan(); }
  };
  TRAIN.form().model.addEventListener("change", () => MODELS.select($("#model-pick"), TRAIN.form().model.value));
  $("#ch-model").onchange = MODELS.switchChat;
  window.addEventListener("langchange", MODELS.fillTrain);
});
