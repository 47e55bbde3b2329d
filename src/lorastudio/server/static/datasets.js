// The datasets page: upload (checked in the browser, then by the server), the list, and one
// dataset's statistics, token counts and the plan's findings with default settings. Upload
// errors show in the main pane, capped (MAX_PROBLEM_ROWS), once.
"use strict";

const DS = { current: null, maxMb: 100 };
pages.datasets = { async show() { await DS.refresh(); } };

DS.refresh = async function () {
  const data = await api("GET", "/api/datasets");
  const item = (d) => `<li data-name="${esc(d.name)}" data-kind="${esc(d.kind)}" class="${d.name === DS.current ? "current" : ""}"><span class="file-name">${esc(d.name)}</span>` +
    `<span class="hint">${d.kind === "probes" ? `<span class="badge">${esc(t("ds.kind.probes"))}</span> ` : ""}${(d.size_bytes / 1024).toFixed(1)} KB</span></li>`;
  $("#ds-uploads").innerHTML = data.uploads.map(item).join("") || `<li class="hint">${esc(t("common.none"))}</li>`;
  $("#ds-examples").innerHTML = data.examples.map(item).join("");
  TRAIN.setDatasets(data);
};

DS.select = async function (name) {
  DS.current = name;
  $$("#page-datasets li[data-name]").forEach((li) => li.classList.toggle("current", li.dataset.name === name));
  const box = $("#ds-detail");
  box.innerHTML = `<p class="hint"><span class="spinner"></span>${esc(t("common.loading"))}</p>`;
  try {
    const d = await api("GET", "/api/datasets/" + encodeURIComponent(name));
    if (d.format === "probes") { DS.renderProbes(d); return; }
    DS.render(d);
    DS.loadTokens(name);
    DS.loadFindings(name);
  } catch (e) { box.innerHTML = errorHTML(e); }
};

DS.render = function (d) {
  const s = d.stats;
  const cats = Object.entries(s.categories || {}).map(([k, v]) => `<span class="user-text">${esc(k)}</span> ${v}`).join("，") || "—";
  const row = (label, p) => `<tr><td>${esc(label)}</td><td>${p.p50}</td><td>${p.p95}</td><td>${p.max}</td></tr>`;
  $("#ds-detail").innerHTML = `
    <h2><span class="file-name">${esc(d.name)}</span> <button class="small" id="ds-use">${esc(t("ds.use"))}</button>
      <button class="small secondary" id="ds-expand">${esc(t("ds.expand"))}</button>
      ${d.source === "upload" ? `<button class="small danger" id="ds-del">${esc(t("ds.delete"))}</button>` : ""}</h2>
    <div class="numbers">
      <div><b>${esc(t("ds.format." + d.format))}</b><span>${esc(t("ds.format"))}</span></div>
      <div><b>${d.n_samples}</b><span>${esc(t("ds.samples"))}</span></div>
      <div><b>${s.n_turns}</b><span>${esc(t("ds.turns"))}</span></div>
      <div><b>${s.multi_turn}</b><span>${esc(t("ds.multiturn"))}</span></div>
      <div><b>${s.duplicates.count}</b><span>${esc(t("ds.duplicates"))}</span></div>
      <div><b>${s.short_responses.count}</b><span>${esc(t("ds.short"))}</span></div>
    </div>
    <p><b>${esc(t("ds.categories"))}：</b>${cats}</p>${DS.belongsHTML(d)}
    <table class="table" id="ds-lengths"><tr><th>${esc(t("ds.length"))}</th><th>${esc(t("ds.p50"))}</th><th>${esc(t("ds.p95"))}</th><th>${esc(t("ds.max"))}</th></tr>
      ${row(t("ds.chars.prompt"), s.chars.prompt)}${row(t("ds.chars.response"), s.chars.response)}</table>
    <div id="ds-tokens" class="hint">${esc(t("common.loading"))}</div>
    <h3>${esc(t("ds.findings"))}</h3><div id="ds-findings" class="hint">${esc(t("common.loading"))}</div>
    <h3>${tHTML("ds.preview", { n: d.preview.length })}</h3>
    <table class="table" id="ds-preview"><tr><th>${esc(t("ds.col.index"))}</th><th>${esc(t("ds.col.category"))}</th><th>${esc(t("ds.col.prompt"))}</th><th>${esc(t("ds.col.response"))}</th></tr>
      ${d.preview.map((r) => `<tr><td>${r.index}</td><td class="user-text">${esc(r.category || "")}</td><td class="text user-text">${esc(r.prompt)}</td><td class="text user-text">${esc(r.response)}</td></tr>`).join("")}</table>`;
  $("#ds-use").onclick = () => { TRAIN.pick(d.name); location.hash = "#train"; };
  $("#ds-expand").onclick = () => EXP.open(d.name);  // static/expand.js
  DS.wireDelete(d);
};

// What comes with the data: {{placeholders}} to fill on the train page, tool calls, its own probes.
DS.belongsHTML = function (d) {
  const out = [];
  const names = Object.entries(d.placeholders || {});
  if (names.length) out.push(`<p id="ds-placeholders">${tHTML("ds.placeholders", { n: names.length })} ` +
    names.map(([n, k]) => `<code>{{${esc(n)}}}</code> <span class="hint">${tHTML("ds.records", { n: k })}</span>`).join(" · ") + "</p>");
  if (d.tool_calls) out.push(`<p>${tHTML("ds.tool_calls", { n: d.tool_calls })}</p>`);
  if (d.probes) out.push(`<p>${tHTML("ds.own_probes", { name: d.probes })}</p>`);
  return out.join("");
};

// A probes file: its prompts (and the words an answer should hold), usable on the train page.
DS.renderProbes = function (d) {
  $("#ds-detail").innerHTML = `<h2><span class="file-name">${esc(d.name)}</span> <span class="badge">${esc(t("ds.kind.probes"))}</span>
      ${d.source === "upload" ? `<button class="small danger" id="ds-del">${esc(t("ds.delete"))}</button>` : ""}</h2>
    <p class="hint">${tHTML("ds.probes.about", { n: d.n_samples })}</p>
    <table class="table" id="ds-preview"><tr><th>${esc(t("ds.col.index"))}</th><th>${esc(t("ds.col.prompt"))}</th><th>${esc(t("ds.col.expect"))}</th></tr>
      ${d.preview.map((r) => `<tr><td>${r.index}</td><td class="text user-text">${esc(r.prompt)}</td><td class="text user-text">${esc((r.expect_any || []).join(", "))}</td></tr>`).join("")}</table>`;
  DS.wireDelete(d);
};

DS.wireDelete = function (d) {
  if ($("#ds-del")) $("#ds-del").onclick = async () => {
    if (!confirm(t("ds.delete.confirm", { name: d.name }))) return;
    try { await api("DELETE", "/api/datasets/" + encodeURIComponent(d.name)); DS.current = null; $("#ds-detail").innerHTML = ""; DS.refresh(); }
    catch (e) { showError("#ds-detail", e); }
  };
};

DS.loadTokens = async function (name) {
  try {
    const model = TRAIN.form().model.value || "";
    const q = new URLSearchParams({ max_seq_len: TRAIN.form().max_seq_len.value || 512 });
    if (model) q.set("model", model);
    const s = await api("GET", `/api/datasets/${encodeURIComponent(name)}/stats?${q}`);
    if (DS.current !== name || !s.tokens) return;
    const k = s.tokens, row = (label, p) => `<tr><td>${esc(label)}</td><td>${p.p50}</td><td>${p.p95}</td><td>${p.max}</td></tr>`;
    $("#ds-lengths").insertAdjacentHTML("beforeend", row(t("ds.tokens.prompt"), k.prompt) + row(t("ds.tokens.response"), k.response) + row(t("ds.tokens.total"), k.total));
    $("#ds-tokens").innerHTML = `${esc(t("ds.tokens.model"))} <code>${esc(s.model)}</code> · ${esc(t("ds.tokens.sum"))}：<b>${k.sum.toLocaleString()}</b> · ` +
      `${tHTML("ds.truncated", { n: k.max_seq_len })}：<b>${k.truncated.count}</b> · ${esc(t("ds.zero"))}：<b>${k.zero_trainable.count}</b>`;
  } catch (e) { $("#ds-tokens").innerHTML = errorHTML(e); }
};

DS.loadFindings = async function (name) {
  try {
    const model = TRAIN.form().model.value || undefined;
    const r = await api("POST", "/api/plan", { config: { data: name, model } });
    if (DS.current !== name) return;
    $("#ds-findings").innerHTML = r.findings.length ? findingsHTML(r.findings) : `<div class="ok-box">${esc(t("tr.plan.ok"))}</div>`;
  } catch (e) { $("#ds-findings").innerHTML = errorHTML(e); }
};

// Checked here first (a file chosen, its name, its size), then by the server; any problem
// replaces the main pane, so it is read where the dataset would have been shown.
DS.upload = async function () {
  const file = $("#ds-file").files[0], main = $("#ds-detail"), note = $("#ds-upload-result");
  note.innerHTML = "";
  if (!file) { main.innerHTML = errorHTML({ code: "invalid_request", details: { key: "no_file" } }); return; }
  if (!/\.jsonl?$/i.test(file.name)) {
    main.innerHTML = errorHTML({ code: "config_error", details: { key: "file_type", params: { name: file.name } } });
    return;
  }
  if (file.size > DS.maxMb * 1024 * 1024) {
    main.innerHTML = errorHTML({ code: "too_large", details: { key: "file_too_large", params: { name: file.name, size: Number((file.size / 1048576).toFixed(1)), mb: DS.maxMb } } });
    return;
  }
  note.innerHTML = `<p class="hint"><span class="spinner"></span>${esc(t("ds.uploading"))}</p>`;
  const form = new FormData(); form.append("file", file);
  try {
    const d = await api("POST", "/api/datasets", form, true);
    note.innerHTML = `<div class="ok-box">${tHTML("ds.uploaded", { name: d.name, n: d.n_samples })}` +
      (d.renamed_from ? `<br>${tHTML("ds.renamed", { name: d.name })}` : "") + "</div>";
    await DS.refresh();
    DS.select(d.name);
    if (d.kind !== "probes") TRAIN.pick(d.name);  // a probes file is offered in the train form's probes choice
  } catch (e) {
    note.innerHTML = "";
    DS.current = null;
    $$("#page-datasets li[data-name]").forEach((li) => li.classList.remove("current"));
    main.innerHTML = `<h2 class="file-name">${esc(file.name)}</h2>` + errorHTML(e);
  }
};
