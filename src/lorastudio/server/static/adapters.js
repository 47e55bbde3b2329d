// The adapters page: every finished run with its doctor's verdict; activate, rename, zip,
// merge, export (llama.cpp, Ollama, LM Studio, transformers; checked against the adapter),
// report, delete.
"use strict";

const AD = {};
pages.adapters = { async show() { await AD.refresh("GET"); } };

AD.refresh = async function (method) {
  try {
    const r = await api(method || "GET", method === "POST" ? "/api/adapters/scan" : "/api/adapters");
    AD.render(r);
  } catch (e) { showError("#ad-message", e); }
};

// "/home/u/.cache/lorastudio/models/smollm2" → "smollm2": a model's name, not where it lives
const modelName = (m) => String(m || "").replace(/[\\/]+$/, "").split(/[\\/]/).pop();

AD.render = function (r) {
  const active = r.active === "base" ? esc(t("ch.base")) : `<code>${esc(r.active)}</code>`;
  $("#ad-engine").innerHTML = `${esc(t("ad.engine"))} <code>${esc(modelName(r.engine.model))}</code> · ${esc(t("ad.current"))} ${active}`;
  $("#ad-empty").hidden = r.adapters.length > 0;
  $("#ad-rows").innerHTML = r.adapters.map((a) => {
    const c = a.config || {}, n = esc(a.name), q = encodeURIComponent(a.name);
    return `<tr data-name="${n}" class="${a.active ? "current" : ""}">
      <td><b class="file-name">${n}</b> ${a.active ? `<span class="badge done">${esc(t("ad.active"))}</span>` : ""}<div class="hint">${esc(a.created ? new Date(a.created).toLocaleString(LANG === "zh" ? "zh-CN" : "en") : "")}</div></td>
      <td><code title="${esc(a.base_model)}">${esc(modelName(a.base_model))}</code></td><td>${esc(c.lora_r)} / ${esc(c.lora_alpha)} / ${esc(c.epochs)}</td>
      <td>${fmtNum(a.steps)}</td><td>${fmtNum(a.final_loss)}</td><td>${fmtNum(a.eval_loss)}</td>
      <td>${a.verdict ? verdictBadge(a.verdict) : `<span class="hint">${esc(t("ad.noreport"))}</span>`}</td>
      <td><button class="small" data-act="activate">${esc(t("ad.activate"))}</button>
        <button class="small secondary" data-act="rename">${esc(t("ad.rename"))}</button>
        <a href="/api/adapters/${q}/download" download><button class="small secondary">${esc(t("ad.download"))}</button></a>
        <button class="small secondary" data-act="merge">${esc(t("ad.merge"))}</button>
        <button class="small secondary" data-act="export">${esc(t("ad.export"))}</button>
        <a href="#doctor/${q}"><button class="small secondary">${esc(t("ad.doctor"))}</button></a>
        <button class="small danger" data-act="delete">${esc(t("ad.delete"))}</button></td></tr>`;
  }).join("");
};

AD.act = async function (act, name) {
  const q = encodeURIComponent(name);
  $("#ad-message").innerHTML = "";
  try {
    if (act === "activate") {
      await api("POST", `/api/adapters/${q}/activate`);
      toast(tHTML("ad.activated", { name }));
    } else if (act === "rename") {
      const to = prompt(t("ad.rename.prompt", { name }), name);
      if (!to || to === name) return;
      await api("POST", `/api/adapters/${q}/rename`, { new_name: to });
    } else if (act === "delete") {
      if (!confirm(t("ad.delete.confirm", { name }))) return;
      await api("DELETE", `/api/adapters/${q}?confirm=${q}`);
    } else if (act === "export") {
      AD.exportForm(name);
      return;
    } else if (act === "merge") {
      $("#ad-message").innerHTML = `<p class="hint"><span class="spinner"></span>${tHTML("ad.merging", { name })}</p>`;
      const r = await api("POST", `/api/adapters/${q}/merge`, {});
      $("#ad-message").innerHTML = `<div class="ok-box">${esc(t("ad.merged"))} <code>${esc(r.path)}</code></div>`;
    }
    await AD.refresh("GET");
  } catch (e) { showError("#ad-message", e); }
};

// ------------------------------------------------------------------ export

// Export: pick a format and a precision, follow the task (GET /api/exports/{id}), then the files
// written, the checks that they reproduce the adapter, and the download.
AD.QUANTS = { gguf: ["f16", "q8_0", "q4_0", "bf16", "f32"], ollama: ["f16", "q8_0", "q4_0", "bf16", "f32"], "gguf-lora": ["f32", "f16"], merged: [] };

AD.exportForm = function (name) {
  const formats = { gguf: "ad.export.f.gguf", "gguf-lora": "ad.export.f.gguf_lora", ollama: "ad.export.f.ollama", merged: "ad.export.f.merged" };
  $("#ad-message").innerHTML = `<div class="card" id="ex-card"><b>${tHTML("ad.export.title", { name })}</b>
    <p class="hint">${esc(t("ad.export.hint"))}</p>
    <div class="grid2"><label><span>${esc(t("ad.export.format"))}</span><select id="ex-format">${Object.entries(formats).map(([f, key]) =>
      `<option value="${f}">${esc(t(key))}</option>`).join("")}</select></label>
    <label><span>${esc(t("ad.export.quant"))}</span><select id="ex-quant"></select></label></div>
    <label class="check" id="ex-only-box"><input type="checkbox" id="ex-only"> <span>${esc(t("ad.export.adapter_only"))}</span></label>
    <div class="buttons"><button class="small" id="ex-start">${esc(t("ad.export.start"))}</button>
      <button class="small secondary" id="ex-close">${esc(t("common.close"))}</button></div>
    <div id="ex-status"></div></div>`;
  const sync = () => {
    const f = $("#ex-format").value, qs = AD.QUANTS[f];
    $("#ex-quant").innerHTML = qs.length ? qs.map((q) => `<option value="${q}">${q}</option>`).join("") : `<option value="">${esc(t("ad.export.fp32"))}</option>`;
    $("#ex-quant").disabled = !qs.length;
    $("#ex-only-box").style.display = f === "ollama" ? "" : "none";  // the label's CSS display beats [hidden]
  };
  $("#ex-format").onchange = sync;
  sync();
  $("#ex-start").onclick = () => AD.runExport(name);
  $("#ex-close").onclick = () => { $("#ad-message").innerHTML = ""; };
};

AD.runExport = async function (name) {
  const f = $("#ex-format").value, body = { format: f };
  if (!$("#ex-quant").disabled) body.quant = $("#ex-quant").value;
  if (f === "ollama") body.adapter_only = $("#ex-only").checked;
  $("#ex-start").disabled = true;
  try {
    let task = await api("POST", `/api/adapters/${encodeURIComponent(name)}/export`, body);
    while (task.state === "queued" || task.state === "running") {
      AD.exportStatus(task);
      await sleep(1000);
      task = await api("GET", `/api/exports/${task.id}`);
    }
    AD.exportStatus(task);
  } catch (e) { showError("#ex-status", e); }
  if ($("#ex-start")) $("#ex-start").disabled = false;
};

AD.exportStatus = function (task) {
  const el = $("#ex-status");
  if (!el) return;
  if (task.state === "failed") {
    const e = task.error || {};
    el.innerHTML = errorHTML({ code: "export_failed", message: e.message, fix: e.fix, details: e.key ? { key: e.key, params: e.params } : {} });
    return;
  }
  if (task.state !== "done") {  // the stage in the exporter's own words, kept apart
    el.innerHTML = `<progress max="1" value="${task.fraction}"></progress><p class="hint"><span class="spinner"></span>` +
      `${tHTML("ad.export.progress", { pct: Math.round(task.fraction * 100) })} <span class="core-text">${esc(task.stage || "")}</span></p>`;
    return;
  }
  const r = task.result, size = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} KB`);
  const files = Object.entries(r.files).map(([n, bytes]) => `<tr><td class="text file-name">${esc(n)}</td><td>${size(bytes)}</td></tr>`).join("");
  const checks = r.checks.map((c) => `<div class="check-row" data-ok="${c.ok ? 1 : 0}"><span class="badge ${c.ok ? "done" : "failed"}">${esc(t(c.ok ? "ad.export.ok" : "ad.export.bad"))}</span>
    ${tHTML("ad.export.check", { target: c.target, consumer: c.consumer, eq: c.greedy_equal, n: c.probes, dl: c.mean_abs_dlogit.toExponential(1),
      kl: c.kl_mean.toExponential(1), top1: (c.top1_agree * 100).toFixed(1) })}
    ${c.failed.length ? `<div class="core-text">${esc(c.failed.join("; "))}</div>` : ""}</div>`).join("");
  el.innerHTML = `<div class="${r.ok ? "ok-box" : "error-box"}">${esc(t(r.ok ? "ad.export.done" : "ad.export.failed"))}</div>
    <table class="table">${files}</table>${checks}
    <p><a href="${esc(task.download)}" download><button class="small">${esc(t("ad.export.download"))}</button></a></p>
    ${r.run_command ? `<p class="hint">${esc(t("ad.export.run"))}</p><pre>${esc(r.run_command.replace(/^cd \S+ && /, ""))}</pre>` : ""}`;
};

AD.wire = function () {
  $("#ad-scan").onclick = () => AD.refresh("POST");
  $("#ad-base").onclick = async () => { try { await api("POST", "/api/adapters/base/activate"); AD.refresh("GET"); } catch (e) { showError("#ad-message", e); } };
  document.addEventListener("click", (e) => {
    const act = e.target.closest("#ad-rows [data-act]");
    if (act) AD.act(act.dataset.act, act.closest("tr").dataset.name);
  });
};
