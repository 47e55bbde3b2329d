// The datasets page's expand step: options → preview → accept or discard each sample → save as a new dataset.
// Uses app.js's helpers ($, esc, api, errorHTML, DS, TRAIN) and i18n.js's t(); loaded after both.
"use strict";

const EXP = { name: null, data: null, keep: new Set() };

EXP.card = () => $("#ds-expand-card");

// The form is static text with data-i18n attributes, so a language switch retranslates it in place.
EXP.open = function (name) {
  EXP.name = name; EXP.data = null; EXP.keep = new Set();
  const wukong = name.startsWith("wukong");
  const card = EXP.card();
  card.hidden = false;
  card.innerHTML = `
    <h2><span data-i18n="ex.title">Expand</span> <code>${esc(name)}</code>
      <button class="small secondary" id="ex-close" data-i18n="common.close">Close</button></h2>
    <p class="hint" data-i18n="ex.intro"></p>
    <form id="ex-form" autocomplete="off">
      <div class="grid3">
        <label><span data-i18n="ex.target"></span><input name="target" type="number" min="1" max="2000" value="150"></label>
        <label><span data-i18n="ex.holdout"></span><input name="holdout" type="number" min="0" max="200" value="20"></label>
        <label><span data-i18n="ex.seed"></span><input name="seed" type="number" min="0" value="0"></label>
      </div>
      <div class="grid2">
        <label><span data-i18n="ex.method"></span><select name="method">
          <option value="templates" data-i18n="ex.method.templates"></option><option value="model" data-i18n="ex.method.model"></option></select></label>
        <label><span data-i18n="ex.answers"></span><select name="answers">
          <option value="keep" data-i18n="ex.answers.keep"></option><option value="rotate" data-i18n="ex.answers.rotate"></option></select></label>
      </div>
      <div class="grid2">
        <label><span data-i18n="ex.markers"></span><input name="markers" data-i18n-ph="ex.markers.ph" value="${wukong ? "俺老孙,嘿嘿,呔" : ""}"></label>
        <label><span data-i18n="ex.keepout"></span><select name="keep_out"><option value="" data-i18n="ex.keepout.none"></option></select></label>
      </div>
      <div class="grid2" id="ex-model-fields" hidden>
        <label><span data-i18n="ex.endpoint"></span><input name="endpoint" placeholder="http://127.0.0.1:11434"></label>
        <label><span data-i18n="ex.model"></span><input name="model" placeholder="qwen2.5:7b"></label>
      </div>
      <button type="submit" id="ex-preview" data-i18n="ex.preview">Preview</button> <span id="ex-state" class="hint"></span>
    </form>
    <div id="ex-error"></div>
    <div id="ex-result"></div>`;
  applyI18n(card);
  const f = $("#ex-form");
  f.method.onchange = () => { $("#ex-model-fields").hidden = f.method.value !== "model"; };
  f.onsubmit = EXP.preview;
  EXP.fillKeepOut(name);
  $("#ex-close").onclick = () => { card.hidden = true; card.innerHTML = ""; EXP.name = null; };
  card.scrollIntoView({ block: "start" });
};

// Probes files the user already holds out: the grown samples must stay away from the chosen one.
// Preselected: NAME_probes.jsonl next to the dataset, or the bundled probes for the bundled training set.
EXP.fillKeepOut = async function (name) {
  let listed;
  try { listed = await api("GET", "/api/datasets"); } catch (e) { return; }
  const sel = $("#ex-form") && $("#ex-form").keep_out;
  if (!sel || EXP.name !== name) return;
  const probes = [...listed.uploads, ...listed.examples].map((d) => d.name).filter((n) => /probes/.test(n));
  for (const p of probes) sel.insertAdjacentHTML("beforeend", `<option value="${esc(p)}">${esc(p)}</option>`);
  const stem = name.replace(/\.jsonl?$/, "");
  const own = probes.find((p) => p === `${stem}_probes.jsonl`) || (name === "wukong_train.json" ? "wukong_probes.jsonl" : "");
  if (own && probes.includes(own)) sel.value = own;
};

EXP.options = function () {
  const f = $("#ex-form");
  const body = { target: Number(f.target.value), holdout: Number(f.holdout.value || 0), seed: Number(f.seed.value || 0),
    method: f.method.value, answers: f.answers.value,
    markers: f.markers.value.split(/[,，]/).map((m) => m.trim()).filter(Boolean) };
  if (f.keep_out.value) body.keep_out = f.keep_out.value;
  if (body.method === "model") { body.endpoint = f.endpoint.value.trim(); body.model = f.model.value.trim(); }
  return body;
};

EXP.preview = async function (ev) {
  ev.preventDefault();
  const name = EXP.name, button = $("#ex-preview");
  button.disabled = true; $("#ex-state").textContent = t("ex.running");
  $("#ex-error").innerHTML = ""; $("#ex-result").innerHTML = "";
  try {
    const data = await api("POST", `/api/datasets/${encodeURIComponent(name)}/expand`, EXP.options());
    if (EXP.name !== name) return;
    EXP.data = data;
    EXP.keep = new Set(data.candidates.map((c) => c.id));
    EXP.render();
  } catch (e) { showError("#ex-error", e); }
  finally { button.disabled = false; $("#ex-state").textContent = ""; }
};

// ------------------------------------------------------------------ the preview

EXP.render = function () {
  const d = EXP.data, r = d.report, saveName = $("#ex-name") ? $("#ex-name").value : d.suggested_name;
  const rejected = Object.values(r.filters).reduce((a, b) => a + b, 0);
  const box = (v, k, id) => `<div><b${id ? ` id="${id}"` : ""}>${v}</b><span>${esc(t(k))}</span></div>`;
  $("#ex-result").innerHTML = `
    <div class="numbers">${box(`${r.n_source} → ${r.n_out}`, "ex.samples")}${box(r.n_probes, "ex.probes")}
      ${box(r.candidates, "ex.tried")}${box(rejected, "ex.rejected")}${box("", "ex.kept", "ex-kept")}</div>
    ${EXP.notes(r).map((n) => `<p class="hint ex-note">${esc(n)}</p>`).join("")}
    <div class="grid2">
      <div><h3>${t("ex.cats")}</h3><table class="table" id="ex-cats"></table></div>
      <div><h3>${t("ex.filters")}</h3><table class="table" id="ex-filters">
        <tr><th>${t("ex.col.filter")}</th><th>${t("ex.col.rejected")}</th></tr>
        ${Object.entries(r.filters).map(([k, n]) => `<tr data-filter="${esc(k)}"><td>${esc(EXP.filterName(k))} <code class="hint">${esc(k)}</code></td><td>${n}</td></tr>`).join("")}
      </table></div>
    </div>
    <div class="buttons"><button class="small" id="ex-accept-all">${t("ex.acceptAll")}</button>
      <button class="small secondary" id="ex-discard-all">${t("ex.discardAll")}</button>
      <span class="hint" id="ex-keeping"></span></div>
    <div class="ex-scroll"><table class="table" id="ex-table">${EXP.rows()}</table></div>
    ${EXP.probesHTML(d.probes)}
    <div class="buttons ex-save">
      <label class="inline"><span>${t("ex.saveas")}</span> <input id="ex-name" value="${esc(saveName)}"></label>
      <button id="ex-save">${t("ex.save")}</button></div>
    <div id="ex-saved"></div>`;
  $("#ex-accept-all").onclick = () => EXP.setAll(true);
  $("#ex-discard-all").onclick = () => EXP.setAll(false);
  $("#ex-save").onclick = EXP.save;
  $("#ex-table").addEventListener("change", (e) => { if (e.target.dataset.id) EXP.set([e.target.dataset.id], e.target.checked); });
  $("#ex-table").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-cat]");
    if (b) EXP.set(EXP.data.candidates.filter((c) => c.category === b.dataset.cat).map((c) => c.id), b.dataset.keep === "1");
  });
  EXP.counts();
};

// What fell short, from the report's numbers (in the page's language, not the server's words).
EXP.notes = function (r) {
  const out = [];
  if (r.n_out < r.target) out.push(t("ex.note.target", { target: r.target, n: r.n_out }));
  if (r.n_probes < r.holdout) out.push(t("ex.note.probes", { n: r.n_probes, holdout: r.holdout }));
  return out;
};

EXP.filterName = (k) => (t("ex.filter." + k) !== "ex.filter." + k ? t("ex.filter." + k) : k);

// One group per category (the server sends them grouped, seeds first), each row with its keep box.
EXP.rows = function () {
  const groups = new Map();
  EXP.data.candidates.forEach((c, i) => {
    if (!groups.has(c.category)) groups.set(c.category, []);
    groups.get(c.category).push([c, i]);
  });
  let html = `<tr><th>${t("ex.col.keep")}</th><th>#</th><th>${t("ex.col.origin")}</th><th>${t("ds.col.prompt")}</th><th>${t("ds.col.response")}</th></tr>`;
  for (const [cat, rows] of groups) {
    html += `<tr class="ex-group" data-cat="${esc(cat)}"><th colspan="5"><span class="user-text">${esc(cat || "—")}</span> <span class="hint">${rows.length}</span>
      <button class="small secondary" data-cat="${esc(cat)}" data-keep="1">${t("ex.acceptCat")}</button>
      <button class="small secondary" data-cat="${esc(cat)}" data-keep="0">${t("ex.discardCat")}</button></th></tr>`;
    html += rows.map(([c, i]) => `<tr data-row="${esc(c.id)}" class="${EXP.keep.has(c.id) ? "" : "discarded"}">
      <td><input type="checkbox" data-id="${esc(c.id)}" ${EXP.keep.has(c.id) ? "checked" : ""}></td><td>${i + 1}</td>
      <td><span class="badge ${c.origin === "seed" ? "seed" : ""}">${esc(t("ex.origin." + c.origin))}</span></td>
      <td class="text user-text">${esc(c.prompt)}</td><td class="text user-text">${esc(c.response)}</td></tr>`).join("");
  }
  return html;
};

EXP.probesHTML = function (probes) {
  if (!probes.length) return "";
  return `<details id="ex-probes"><summary>${tHTML("ex.probes.list", { n: probes.length })}</summary>
    <table class="table"><tr><th>${t("ds.col.category")}</th><th>${t("ch.probes.col.prompt")}</th><th>${t("ex.col.expect")}</th></tr>
    ${probes.map((p) => `<tr><td class="user-text">${esc(p.category || "")}</td><td class="text user-text">${esc(p.prompt)}</td><td class="user-text">${esc(p.expect_any.join("、"))}</td></tr>`).join("")}
    </table></details>`;
};

EXP.set = function (ids, keep) {
  for (const id of ids) {
    if (keep) EXP.keep.add(id); else EXP.keep.delete(id);
    const box = $(`#ex-table input[data-id="${id}"]`);
    if (box) { box.checked = keep; box.closest("tr").classList.toggle("discarded", !keep); }
  }
  EXP.counts();
};

EXP.setAll = (keep) => EXP.set(EXP.data.candidates.map((c) => c.id), keep);

// The kept count and the category table follow every click.
EXP.counts = function () {
  const d = EXP.data, r = d.report, kept = {};
  d.candidates.forEach((c) => { if (EXP.keep.has(c.id)) kept[c.category] = (kept[c.category] || 0) + 1; });
  $("#ex-kept").textContent = `${EXP.keep.size} / ${d.candidates.length}`;
  $("#ex-keeping").textContent = t("ex.keeping", { k: EXP.keep.size, n: d.candidates.length });
  const cats = [...new Set(Object.keys(r.categories_before).concat(Object.keys(r.categories_after)))];
  $("#ex-cats").innerHTML = `<tr><th>${t("ds.col.category")}</th><th>${t("ex.col.before")}</th><th>${t("ex.col.after")}</th>
    <th>${t("ex.col.accepted")}</th><th>${t("ex.col.probes")}</th></tr>` +
    cats.map((c) => `<tr data-cat="${esc(c)}"><td class="user-text">${esc(c)}</td><td>${r.categories_before[c] || 0}</td><td>${r.categories_after[c] || 0}</td>
      <td class="accepted">${kept[c] || 0}</td><td>${r.probes_per_category[c] || 0}</td></tr>`).join("");
  $("#ex-save").disabled = EXP.keep.size === 0;
};

// ------------------------------------------------------------------ saving

EXP.save = async function () {
  const d = EXP.data, out = $("#ex-saved");
  const samples = d.candidates.filter((c) => EXP.keep.has(c.id));
  if (!samples.length) { out.innerHTML = errorHTML({ code: "invalid_request", message: t("ex.none") }); return; }
  out.innerHTML = `<p class="hint">${t("ex.saving")}</p>`;
  try {
    const r = await api("POST", `/api/datasets/${encodeURIComponent(d.name)}/expand/save`,
      { name: $("#ex-name").value.trim(), samples, probes: d.probes });
    out.innerHTML = `<div class="ok-box" id="ex-saved-ok">${tHTML("ex.saved", { name: r.name, n: r.n_samples })}` +
      (r.renamed_from ? `<br>${tHTML("ds.renamed", { name: r.name })}` : "") +
      (r.probes ? `<br>${tHTML("ex.saved.probes", { probes: r.probes })}` : "") + "</div>";
    await DS.refresh();
    TRAIN.pick(r.name);
    if (r.probes) TRAIN.form().probes.value = r.probes;
    DS.select(r.name);
  } catch (e) { showError("#ex-saved", e); }
};

window.addEventListener("langchange", () => { if (EXP.data && EXP.name && !EXP.card().hidden) EXP.render(); });
// Choosing another dataset in the list closes a preview that belongs to the previous one.
document.addEventListener("click", (e) => {
  const li = e.target.closest("#page-datasets li[data-name]");
  if (li && EXP.name && li.dataset.name !== EXP.name) { EXP.card().hidden = true; EXP.card().innerHTML = ""; EXP.name = null; }
});
