// LoRA Studio pages: plain JavaScript over the JSON API (no build step).
"use strict";

// ------------------------------------------------------------------ helpers
const $ = (sel, root) => (root || document).querySelector(sel);
const esc = (s) => String(s === null || s === undefined ? "" : s)
  .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
const fmtNum = (v) => (v === null || v === undefined ? "—" : (typeof v === "number" ? LineChart.fmt(v) : esc(v)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class ApiError extends Error {
  constructor(status, err) { super(err.message); this.status = status; this.code = err.code; this.fix = err.fix; this.details = err.details || {}; }
}

async function api(method, path, body, isForm) {
  const opts = { method, headers: { "Accept-Language": LANG } };
  if (body !== undefined) {
    if (isForm) opts.body = body;
    else { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  }
  let resp;
  try { resp = await fetch(path, opts); } catch (e) {
    throw new ApiError(0, { code: "network", message: String(e) });
  }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new ApiError(resp.status, data.error || { code: "internal_error", message: resp.statusText });
  return data;
}

// POST that answers with server-sent events; calls onEvent(name, data) for each.
async function postSSE(path, body, onEvent) {
  const resp = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "Accept-Language": LANG }, body: JSON.stringify(body) });
  if (!resp.ok) {
    const data = await resp.json().catch(() => ({}));
    throw new ApiError(resp.status, data.error || { code: "internal_error", message: resp.statusText });
  }
  const reader = resp.body.getReader(), dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
      let name = "message", data = "";
      block.split("\n").forEach((line) => {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      });
      if (data) {
        const parsed = JSON.parse(data);
        if (name === "error") throw new ApiError(500, parsed.error);
        onEvent(name, parsed);
      }
    }
  }
}

function errorHTML(err) {
  const code = err.code || "internal_error";
  const head = t("err." + code) !== "err." + code ? t("err." + code) : t("common.error");
  let html = `<div class="error-box" data-code="${esc(code)}"><b>${esc(head)}</b><div>${esc(err.message).replace(/\n/g, "<br>")}</div>`;
  if (err.fix) html += `<div class="fix">${esc(t("common.fix"))}: ${esc(err.fix)}</div>`;
  const d = err.details || {};
  if (d.problems && d.problems.length) {
    html += `<table class="table"><tr><th>${t("common.record")}</th><th>${t("common.field")}</th><th>${t("common.message")}</th></tr>` +
      d.problems.map((p) => `<tr><td>${p.index === null ? "—" : p.index}</td><td>${esc(p.field || "—")}</td><td>${esc(p.message)}</td></tr>`).join("") + "</table>";
  }
  if (d.findings && d.findings.length) html += findingsHTML(d.findings);
  return html + "</div>";
}

function showError(target, err) { $(target).innerHTML = errorHTML(err); }

function toast(text) {
  const el = $("#toast"); el.textContent = text; el.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { el.hidden = true; }, 3500);
}

function findingsHTML(findings) {
  return findings.map((f) => {
    const ev = Object.entries(f.evidence || {}).map(([k, v]) => `${esc(k)}=${esc(typeof v === "object" ? JSON.stringify(v) : v)}`).join(", ");
    return `<div class="finding ${esc(f.severity)}" data-code="${esc(f.code)}"><code>${esc(f.code)}</code> <span class="badge">${esc(f.severity)}</span> ${esc(f.title)}` +
      (ev ? `<div class="ev">${esc(t("dr.evidence"))}: ${ev}</div>` : "") +
      (f.fix ? `<div class="fix">${esc(t("common.fix"))}: ${esc(f.fix)}</div>` : "") + "</div>";
  }).join("");
}

function statusBadge(status) { return `<span class="badge ${esc(status)}">${esc(t("status." + status))}</span>`; }

// ------------------------------------------------------------------ navigation
const pages = {};
function route() {
  const [name, arg] = (location.hash.slice(1) || "datasets").split("/");
  const page = pages[name] ? name : "datasets";
  document.querySelectorAll(".page").forEach((p) => p.classList.toggle("active", p.id === "page-" + page));
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === page));
  pages[page].show(arg ? decodeURIComponent(arg) : undefined);
}

// ------------------------------------------------------------------ datasets
const DS = { current: null, maxMb: 100 };
pages.datasets = {
  async show() { await DS.refresh(); },
};

DS.refresh = async function () {
  const data = await api("GET", "/api/datasets");
  const item = (d) => `<li data-name="${esc(d.name)}" class="${d.name === DS.current ? "current" : ""}"><span>${esc(d.name)}</span><span class="hint">${(d.size_bytes / 1024).toFixed(1)} KB</span></li>`;
  $("#ds-uploads").innerHTML = data.uploads.map(item).join("") || `<li class="hint">${t("common.none")}</li>`;
  $("#ds-examples").innerHTML = data.examples.map(item).join("");
  TRAIN.setDatasets(data);
};

DS.select = async function (name) {
  DS.current = name;
  document.querySelectorAll("#page-datasets li[data-name]").forEach((li) => li.classList.toggle("current", li.dataset.name === name));
  const box = $("#ds-detail");
  box.innerHTML = `<p class="hint">${t("common.loading")}</p>`;
  try {
    const d = await api("GET", "/api/datasets/" + encodeURIComponent(name));
    DS.render(d);
    DS.loadTokens(name);
    DS.loadFindings(name);
  } catch (e) { box.innerHTML = errorHTML(e); }
};

DS.render = function (d) {
  const s = d.stats;
  const cats = Object.entries(s.categories || {}).map(([k, v]) => `${esc(k)} ${v}`).join(", ") || "—";
  const row = (label, p) => `<tr><td>${esc(label)}</td><td>${p.p50}</td><td>${p.p95}</td><td>${p.max}</td></tr>`;
  $("#ds-detail").innerHTML = `
    <h2>${esc(d.name)} <button class="small" id="ds-use">${t("ds.use")}</button>
      <button class="small secondary" id="ds-expand">${t("ds.expand")}</button>
      ${d.source === "upload" ? `<button class="small danger" id="ds-del">${t("ds.delete")}</button>` : ""}</h2>
    <div class="numbers">
      <div><b>${esc(d.format)}</b><span>${t("ds.format")}</span></div>
      <div><b>${d.n_samples}</b><span>${t("ds.samples")}</span></div>
      <div><b>${s.n_turns}</b><span>${t("ds.turns")}</span></div>
      <div><b>${s.multi_turn}</b><span>${t("ds.multiturn")}</span></div>
      <div><b>${s.duplicates.count}</b><span>${t("ds.duplicates")}</span></div>
      <div><b>${s.short_responses.count}</b><span>${t("ds.short")}</span></div>
    </div>
    <p><b>${t("ds.categories")}:</b> ${cats}</p>
    <table class="table" id="ds-lengths"><tr><th>${t("ds.length")}</th><th>p50</th><th>p95</th><th>max</th></tr>
      ${row(t("ds.chars.prompt"), s.chars.prompt)}${row(t("ds.chars.response"), s.chars.response)}</table>
    <div id="ds-tokens" class="hint">${t("common.loading")}</div>
    <h3>${t("ds.findings")}</h3><div id="ds-findings" class="hint">${t("common.loading")}</div>
    <h3>${t("ds.preview", { n: d.preview.length })}</h3>
    <table class="table" id="ds-preview"><tr><th>${t("ds.col.index")}</th><th>${t("ds.col.category")}</th><th>${t("ds.col.prompt")}</th><th>${t("ds.col.response")}</th></tr>
      ${d.preview.map((r) => `<tr><td>${r.index}</td><td>${esc(r.category || "")}</td><td class="text">${esc(r.prompt)}</td><td class="text">${esc(r.response)}</td></tr>`).join("")}</table>`;
  $("#ds-use").onclick = () => { TRAIN.pick(d.name); location.hash = "#train"; };
  $("#ds-expand").onclick = () => EXP.open(d.name);  // static/expand.js
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
    $("#ds-tokens").innerHTML = `${t("ds.tokens.model", { model: esc(s.model) })} · ${t("ds.tokens.sum")}: <b>${k.sum.toLocaleString()}</b> · ` +
      `${t("ds.truncated")} (${k.max_seq_len}): <b>${k.truncated.count}</b> · ${t("ds.zero")}: <b>${k.zero_trainable.count}</b>`;
  } catch (e) { $("#ds-tokens").innerHTML = errorHTML(e); }
};

DS.loadFindings = async function (name) {
  try {
    const model = TRAIN.form().model.value || undefined;
    const r = await api("POST", "/api/plan", { config: { data: name, model } });
    if (DS.current !== name) return;
    $("#ds-findings").innerHTML = r.findings.length ? findingsHTML(r.findings) : `<div class="ok-box">${t("tr.plan.ok")}</div>`;
  } catch (e) { $("#ds-findings").innerHTML = errorHTML(e); }
};

DS.upload = async function () {
  const file = $("#ds-file").files[0];
  const out = $("#ds-upload-result");
  if (!file) return;
  if (file.size > DS.maxMb * 1024 * 1024) {
    out.innerHTML = errorHTML({ code: "too_large", message: `${file.name}: ${(file.size / 1048576).toFixed(1)} MB > ${DS.maxMb} MB` });
    return;
  }
  out.innerHTML = `<p class="hint">${t("ds.uploading")}</p>`;
  const form = new FormData(); form.append("file", file);
  try {
    const d = await api("POST", "/api/datasets", form, true);
    out.innerHTML = `<div class="ok-box">${esc(t("ds.uploaded", { name: d.name, n: d.n_samples, format: d.format }))}` +
      (d.renamed_from ? `<br>${esc(t("ds.renamed", { name: d.name }))}` : "") + "</div>";
    await DS.refresh();
    DS.select(d.name);
    TRAIN.pick(d.name);
  } catch (e) {
    out.innerHTML = (e.code === "data_error" ? `<p>${esc(t("ds.problems", { total: e.details.total || "?" }))}</p>` : "") + errorHTML(e);
  }
};

// ------------------------------------------------------------------ train
const TRAIN = { job: null, source: null, planTimer: null, planSeq: 0, clickedAt: null, firstPointMs: null };
TRAIN.form = () => $("#train-form");

pages.train = { async show() { TRAIN.loadModels(); TRAIN.refreshJobs(); TRAIN.schedulePlan(); } };

TRAIN.setDatasets = function (data) {
  const f = TRAIN.form(), keep = f.data.value || TRAIN.wanted, keepProbes = f.probes.value;
  const all = data.uploads.concat(data.examples);
  const trainable = all.filter((d) => !/probes/.test(d.name));
  f.data.innerHTML = trainable.map((d) => `<option value="${esc(d.name)}">${esc(d.name)}</option>`).join("");
  f.probes.innerHTML = `<option value="">${t("tr.probes.none")}</option>` +
    all.filter((d) => d.name.endsWith(".jsonl")).map((d) => `<option value="${esc(d.name)}">${esc(d.name)}</option>`).join("");
  f.data.value = keep && trainable.some((d) => d.name === keep) ? keep : (trainable.find((d) => d.name === "wukong_train.json") || trainable[0] || {}).name || "";
  if (keepProbes) f.probes.value = keepProbes;
  else if (f.data.value.startsWith("wukong")) f.probes.value = "wukong_probes.jsonl";
};

TRAIN.pick = function (name) {
  TRAIN.wanted = name;
  const f = TRAIN.form();
  if ([...f.data.options].some((o) => o.value === name)) f.data.value = name;
  TRAIN.schedulePlan();
};

// TRAIN.loadModels: in models.js, with the model pickers

TRAIN.config = function () {
  const f = TRAIN.form(), c = {};
  for (const k of ["model", "data", "probes", "target_modules"]) if (f[k].value.trim()) c[k] = f[k].value.trim();
  for (const k of ["epochs", "batch_size", "grad_accum", "lora_r", "max_seq_len"]) if (f[k].value !== "") c[k] = Number(f[k].value);
  for (const k of ["lr", "lora_alpha", "eval_split"]) if (f[k].value.trim() !== "") c[k] = Number(f[k].value);
  if (f.gpu_memory.value.trim()) c.gpu_memory = f.gpu_memory.value.trim();
  if (f.quantize4.checked) c.quantize = "4bit";
  c.doctor = f.doctor.checked;
  if (c.data && c.data.startsWith("wukong")) c.markers = "俺老孙,嘿嘿,呔";
  return c;
};

TRAIN.schedulePlan = function () {
  clearTimeout(TRAIN.planTimer);
  $("#plan-state").textContent = t("tr.plan.updating");
  TRAIN.planTimer = setTimeout(TRAIN.updatePlan, 250);
};

TRAIN.updatePlan = async function () {
  const seq = ++TRAIN.planSeq, f = TRAIN.form();
  f.querySelectorAll(".bad").forEach((el) => el.classList.remove("bad"));
  if (!f.data.value) { $("#plan-state").textContent = ""; return; }
  try {
    const r = await api("POST", "/api/plan", { config: TRAIN.config() });
    if (seq !== TRAIN.planSeq) return;
    const p = r.plan, secs = p.estimated_seconds;
    const box = (v, k) => `<div><b>${v}</b><span>${t(k)}</span></div>`;
    $("#plan-numbers").innerHTML = box(p.steps_per_epoch, "tr.plan.spe") + box(p.total_steps, "tr.plan.total") +
      box(`${p.effective_batch}`, "tr.plan.eff") + box(p.n_train, "tr.plan.train") + box(p.tokens_per_epoch.toLocaleString(), "tr.plan.tokens") +
      box((p.label_coverage * 100).toFixed(1) + "%", "tr.plan.cov") + box(p.trainable_params.toLocaleString(), "tr.plan.params") +
      box(secs === null ? "—" : (secs < 90 ? Math.round(secs) + " s" : Math.round(secs / 60) + " min"), "tr.plan.time") + box(esc(r.device), "tr.plan.device");
    $("#plan-numbers").dataset.totalSteps = p.total_steps;
    $("#plan-memory").innerHTML = TRAIN.memoryHTML(r.memory);
    $("#plan-findings").innerHTML = r.findings.length ? findingsHTML(r.findings) : `<div class="ok-box">${t("tr.plan.ok")}</div>`;
    $("#plan-state").textContent = `${p.batch_size} × ${p.grad_accum} × ${p.world_size} = ${p.effective_batch}`;
  } catch (e) {
    if (seq !== TRAIN.planSeq) return;
    $("#plan-state").textContent = "";
    $("#plan-numbers").innerHTML = "";
    $("#plan-memory").innerHTML = "";
    $("#plan-findings").innerHTML = errorHTML(e);
    const opt = e.details && e.details.option;
    if (opt) { const el = f[opt.replace(/^--/, "").replace(/-/g, "_")]; if (el) el.classList.add("bad"); }
  }
};

// The memory plan's split as a small table: weights, LoRA + optimizer, activations, logits, total.
TRAIN.memoryHTML = function (m) {
  if (!m) return "";
  const g = (n) => n >= 1073741824 / 10 ? (n / 1073741824).toFixed(2) + " GiB" : (n / 1048576).toFixed(1) + " MiB", s = m.settings;
  const rows = [["tr.mem.weights", m.weights, `${m.detail.n_params.toLocaleString()} × ${s.quantize === "none" ? s.dtype : s.quantize}`],
    ["tr.mem.lora", m.lora, `${m.lora_params.toLocaleString()} × 16 B`],
    ["tr.mem.act", m.activations, `${s.batch_size} × ${s.seq_len}` + (s.gradient_checkpointing ? ` · ${t("tr.mem.ckpt")}` : "")],
    ["tr.mem.logits", m.logits, `${s.batch_size} × ${m.detail.logit_positions}`]];
  if (m.device === "cuda") rows.push(["tr.mem.overhead", m.overhead, ""]);
  const verdict = m.budget ? t(m.fits ? "tr.mem.fits" : "tr.mem.nofit", { budget: g(m.budget) }) : "";
  rows.push(["tr.mem.total", m.total, verdict]);
  const auto = Object.values(m.auto || {}).map((why) => `<p class="hint">${esc(t("tr.mem.auto", { why }))}</p>`).join("");
  return `<h4>${t("tr.mem.title")} (${t(m.device === "cuda" ? "tr.mem.cuda" : "tr.mem.cpu")})</h4><table class="table" id="memory-table">` +
    rows.map(([k, v, note]) => `<tr${k === "tr.mem.total" && m.budget && !m.fits ? ' class="bad"' : ""}><th>${t(k)}</th><td>${g(v)}</td><td>${esc(note)}</td></tr>`).join("") +
    `</table>${auto}`;
};

TRAIN.start = async function (ev) {
  ev.preventDefault();
  const f = TRAIN.form();
  $("#train-error").innerHTML = "";
  $("#train-start").disabled = true;
  TRAIN.clickedAt = performance.now();
  TRAIN.firstPointMs = null;
  window.__firstPointMs = null;
  try {
    const job = await api("POST", "/api/jobs", { name: f.name.value.trim() || null, config: TRAIN.config(), force: f.force.checked });
    f.name.value = "";
    TRAIN.attach(job.id);
    TRAIN.refreshJobs();
  } catch (e) { showError("#train-error", e); }
  finally { $("#train-start").disabled = false; }
};

TRAIN.charts = null;
TRAIN.makeCharts = function () {
  TRAIN.charts = {
    loss: new LineChart($("#chart-loss"), [{ key: "loss", label: () => t("chart.loss"), color: "#2563eb" },
      { key: "eval", label: () => t("chart.eval"), color: "#dc2626", dots: true }]),
    lr: new LineChart($("#chart-lr"), [{ key: "lr", label: () => t("chart.lr"), color: "#7c3aed" }]),
    tps: new LineChart($("#chart-tps"), [{ key: "tps", label: () => t("chart.tps"), color: "#059669" }]),
  };
};

TRAIN.onMetric = function (row) {
  const c = TRAIN.charts;
  if (row.type === "step") {
    c.loss.add("loss", row.step, row.loss); c.lr.add("lr", row.step, row.lr); c.tps.add("tps", row.step, row.tokens_per_sec);
    if (TRAIN.clickedAt !== null && TRAIN.firstPointMs === null) {
      TRAIN.firstPointMs = Math.round(performance.now() - TRAIN.clickedAt);
      window.__firstPointMs = TRAIN.firstPointMs;
    }
    if (row.findings) TRAIN.liveFindings = (TRAIN.liveFindings || []).concat(row.findings);
  } else if (row.type === "eval") c.loss.add("eval", row.step, row.eval_loss);
};

TRAIN.attach = function (jobId) {
  if (TRAIN.source) TRAIN.source.close();
  if (!TRAIN.charts) TRAIN.makeCharts();
  Object.values(TRAIN.charts).forEach((c) => c.clear());
  TRAIN.job = { id: jobId };
  TRAIN.liveFindings = [];
  localStorage.setItem("lorastudio.job", jobId);
  const src = new EventSource(`/api/jobs/${jobId}/events?lang=${encodeURIComponent(LANG)}`);
  TRAIN.source = src;
  src.addEventListener("metric", (e) => TRAIN.onMetric(JSON.parse(e.data)));
  src.addEventListener("reset", () => Object.values(TRAIN.charts).forEach((c) => c.clear()));
  src.addEventListener("status", (e) => TRAIN.renderJob(JSON.parse(e.data)));
  src.addEventListener("end", () => { src.close(); TRAIN.refreshJobs(); api("GET", `/api/jobs/${jobId}`).then(TRAIN.renderJob).catch(() => {}); });
};

TRAIN.renderJob = function (job) {
  TRAIN.job = job;
  const p = job.progress || {};
  let status = statusBadge(job.status);
  if (job.status === "running" && p.state === "done") status += " " + esc(t("status.doctor"));
  if (job.status === "running" && job.cancel_requested) status += " " + esc(t("status.stopping"));
  if (p.total_steps) status += " · " + esc(t("tr.step", { step: p.step || 0, total: p.total_steps }));
  $("#job-title").innerHTML = `#${job.id} <b>${esc(job.name)}</b>`;
  $("#job-status").innerHTML = status + (job.error ? `<div class="error-box">${esc(job.error)}</div>` : "");
  $("#job-card").dataset.status = job.status;
  const bar = $("#job-progress");
  bar.hidden = !p.total_steps; bar.max = p.total_steps || 1; bar.value = p.step || 0;
  $("#job-cancel").hidden = !(job.status === "running" || job.status === "queued");
  $("#job-cancel").textContent = job.cancel_requested ? t("tr.cancel.again") : t("tr.cancel");
  $("#job-resume").hidden = !((job.status === "cancelled" || job.status === "failed") && job.kind === "train" && !job.complete);
  if (job.log_tail !== undefined) { $("#job-log").textContent = job.log_tail; if (job.status === "failed") $("#job-log-box").open = true; }
  if (TRAIN.liveFindings && TRAIN.liveFindings.length) $("#job-findings").innerHTML = TRAIN.liveFindings.map((c) => `<div class="finding warning"><code>${esc(c)}</code></div>`).join("");
  else $("#job-findings").innerHTML = "";
};

TRAIN.refreshJobs = async function () {
  try {
    const { jobs } = await api("GET", "/api/jobs");
    $("#jobs-table").innerHTML = jobs.map((j) => `<tr class="${TRAIN.job && TRAIN.job.id === j.id ? "current" : ""}">
      <td>#${j.id}</td><td>${esc(j.kind)}</td><td>${esc(j.name)}</td><td>${statusBadge(j.status)}</td>
      <td>${j.progress && j.progress.total_steps ? `${j.progress.step || 0}/${j.progress.total_steps}` : ""}</td>
      <td>${new Date(j.created * 1000).toLocaleString()}</td>
      <td><button class="small secondary" data-view="${j.id}">${t("tr.view")}</button></td></tr>`).join("");
    if (!TRAIN.job && jobs.length) {
      const saved = Number(localStorage.getItem("lorastudio.job"));
      const running = jobs.find((j) => j.status === "running" || j.status === "queued");
      const pick = running || jobs.find((j) => j.id === saved) || jobs[0];
      TRAIN.attach(pick.id);
    }
  } catch (e) { /* shown on the next action */ }
};

// ------------------------------------------------------------------ adapters
const AD = {};
pages.adapters = { async show() { await AD.refresh("GET"); } };

AD.refresh = async function (method) {
  try {
    const r = await api(method || "GET", method === "POST" ? "/api/adapters/scan" : "/api/adapters");
    AD.render(r);
  } catch (e) { showError("#ad-message", e); }
};

AD.render = function (r) {
  $("#ad-engine").textContent = t("ad.engine", { model: r.engine.model, active: r.active });
  $("#ad-empty").hidden = r.adapters.length > 0;
  $("#ad-rows").innerHTML = r.adapters.map((a) => {
    const c = a.config || {}, n = esc(a.name), q = encodeURIComponent(a.name);
    return `<tr data-name="${n}" class="${a.active ? "current" : ""}">
      <td><b>${n}</b> ${a.active ? `<span class="badge done">${t("ad.active")}</span>` : ""}<div class="hint">${esc(a.created || "")}</div></td>
      <td class="text">${esc(a.base_model)}</td><td>${esc(c.lora_r)} / ${esc(c.lora_alpha)} / ${esc(c.epochs)}</td>
      <td>${fmtNum(a.steps)}</td><td>${fmtNum(a.final_loss)}</td><td>${fmtNum(a.eval_loss)}</td>
      <td>${a.verdict ? `<span class="badge ${esc(a.verdict)}">${esc(t("verdict." + a.verdict))}</span>` : "—"}</td>
      <td><button class="small" data-act="activate">${t("ad.activate")}</button>
        <button class="small secondary" data-act="rename">${t("ad.rename")}</button>
        <a href="/api/adapters/${q}/download" download><button class="small secondary">${t("ad.download")}</button></a>
        <button class="small secondary" data-act="merge">${t("ad.merge")}</button>
        <button class="small secondary" data-act="export">${t("ad.export")}</button>
        <a href="#doctor/${q}"><button class="small secondary">${t("ad.doctor")}</button></a>
        <button class="small danger" data-act="delete">${t("ad.delete")}</button></td></tr>`;
  }).join("");
};

AD.act = async function (act, name) {
  const q = encodeURIComponent(name);
  $("#ad-message").innerHTML = "";
  try {
    if (act === "activate") {
      await api("POST", `/api/adapters/${q}/activate`);
      toast(t("ad.activated", { name }));
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
      $("#ad-message").innerHTML = `<p class="hint">${esc(t("ad.merging", { name }))}</p>`;
      const r = await api("POST", `/api/adapters/${q}/merge`, {});
      $("#ad-message").innerHTML = `<div class="ok-box">${esc(t("ad.merged", { path: r.path }))}</div>`;
    }
    await AD.refresh("GET");
  } catch (e) { showError("#ad-message", e); }
};

// Export: pick a format, follow the task's progress, then download what was written and checked.
AD.QUANTS = { gguf: ["f16", "q8_0", "q4_0", "bf16", "f32"], ollama: ["f16", "q8_0", "q4_0", "bf16", "f32"], "gguf-lora": ["f32", "f16"], merged: [] };

AD.exportForm = function (name) {
  const formats = { gguf: t("ad.export.f.gguf"), "gguf-lora": t("ad.export.f.gguf_lora"), ollama: t("ad.export.f.ollama"),
    merged: t("ad.export.f.merged") };
  $("#ad-message").innerHTML = `<div class="card" id="ex-card"><b>${esc(t("ad.export.title", { name }))}</b>
    <p class="hint">${esc(t("ad.export.hint"))}</p>
    <label>${esc(t("ad.export.format"))} <select id="ex-format">${Object.entries(formats).map(([f, label]) => `<option value="${f}">${esc(label)}</option>`).join("")}</select></label>
    <label>${esc(t("ad.export.quant"))} <select id="ex-quant"></select></label>
    <label id="ex-only-box"><input type="checkbox" id="ex-only"> ${esc(t("ad.export.adapter_only"))}</label>
    <button class="small" id="ex-start">${esc(t("ad.export.start"))}</button>
    <div id="ex-status"></div></div>`;
  const sync = () => {
    const f = $("#ex-format").value, qs = AD.QUANTS[f];
    $("#ex-quant").innerHTML = qs.map((q) => `<option value="${q}">${q}</option>`).join("");
    $("#ex-quant").disabled = !qs.length;
    $("#ex-only-box").style.display = f === "ollama" ? "" : "none";  // the label's CSS display beats [hidden]
  };
  $("#ex-format").onchange = sync;
  sync();
  $("#ex-start").onclick = () => AD.runExport(name);
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
  if (task.state === "failed") { el.innerHTML = errorHTML({ code: "export_failed", ...task.error }); return; }
  if (task.state !== "done") {
    el.innerHTML = `<progress max="1" value="${task.fraction}"></progress><p class="hint">${esc(t("ad.export.stage", { pct: Math.round(task.fraction * 100), stage: task.stage || "…" }))}</p>`;
    return;
  }
  const r = task.result, kb = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} KB`);
  const files = Object.entries(r.files).map(([n, size]) => `<tr><td class="text">${esc(n)}</td><td>${kb(size)}</td></tr>`).join("");
  const checks = r.checks.map((c) => `<div><span class="badge ${c.ok ? "done" : "failed"}">${esc(t(c.ok ? "ad.export.ok" : "ad.export.bad"))}</span>
    ${esc(t("ad.export.check", { target: c.target, consumer: c.consumer, eq: c.greedy_equal, n: c.probes, dl: c.mean_abs_dlogit.toExponential(1), kl: c.kl_mean.toExponential(1), top1: (c.top1_agree * 100).toFixed(1) }))}
    ${c.failed.length ? `<div class="fix">${esc(c.failed.join("; "))}</div>` : ""}</div>`).join("");
  el.innerHTML = `<div class="${r.ok ? "ok-box" : "error-box"}">${esc(t(r.ok ? "ad.export.done" : "ad.export.failed"))}</div>
    <table class="table">${files}</table>${checks}
    <p><a href="${esc(task.download)}" download><button class="small">${esc(t("ad.export.download"))}</button></a></p>
    ${r.run_command ? `<p class="hint">${esc(t("ad.export.run"))}</p><pre>${esc(r.run_command.replace(/^cd \S+ && /, ""))}</pre>` : ""}`;
};

// ------------------------------------------------------------------ chat
const CHAT = { history: { adapter: [], base: [] }, busy: false };
pages.chat = { async show() { await CHAT.loadAdapters(); } };

CHAT.loadAdapters = async function () {
  try {
    const r = await api("GET", "/api/adapters");
    const sel = $("#ch-adapter"), keep = sel.value;
    sel.innerHTML = r.adapters.map((a) => `<option value="${esc(a.name)}">${esc(a.name)}${a.active ? " ★" : ""}</option>`).join("") +
      `<option value="base">${esc(t("ch.base"))}</option>`;
    sel.value = keep && [...sel.options].some((o) => o.value === keep) ? keep : (r.active !== "base" ? r.active : (r.adapters[0] ? r.adapters[0].name : "base"));
    CHAT.titles();
  } catch (e) { showError("#ch-error", e); }
};

CHAT.titles = function () {
  const name = $("#ch-adapter").value;
  $("#col-adapter-title").textContent = name === "base" ? t("ch.col.base") : t("ch.col.adapter", { name });
  $("#chat-cols").classList.toggle("single", !$("#ch-compare").checked || name === "base");
};

CHAT.sampling = function () {
  const s = { max_new_tokens: Number($("#ch-max").value || 128), temperature: Number($("#ch-temp").value || 0), top_p: Number($("#ch-topp").value || 1) };
  if ($("#ch-seed").value !== "") s.seed = Number($("#ch-seed").value);
  return s;
};

CHAT.bubble = function (log, role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.innerHTML = `<span class="who">${esc(role === "user" ? t("ch.you") : "")}</span>`;
  const body = document.createElement("span"); body.className = "body"; body.textContent = text;
  div.appendChild(body); log.appendChild(div); log.scrollTop = log.scrollHeight;
  return body;
};

CHAT.ask = async function (side, adapter, text) {
  const log = $("#log-" + side), hist = CHAT.history[side];
  hist.push({ role: "user", content: text });
  CHAT.bubble(log, "user", text);
  const out = CHAT.bubble(log, "assistant", "");
  out.parentElement.dataset.side = side;
  let answer = "";
  await postSSE("/api/chat", { messages: hist, system: $("#ch-system").value || null, adapter, stream: true, sampling: CHAT.sampling() },
    (name, data) => { if (name === "delta") { answer += data.text; out.textContent = answer.trimStart(); log.scrollTop = log.scrollHeight; } });
  answer = answer.trim();
  if (!answer) { out.textContent = t("ch.empty"); out.classList.add("hint"); }
  out.parentElement.dataset.done = "1";
  hist.push({ role: "assistant", content: answer });
};

CHAT.send = async function () {
  const text = $("#ch-prompt").value.trim();
  if (!text || CHAT.busy) return;
  CHAT.busy = true; $("#ch-send").disabled = true; $("#ch-error").innerHTML = "";
  $("#ch-prompt").value = "";
  const adapter = $("#ch-adapter").value;
  try {
    await CHAT.ask("adapter", adapter, text);
    if ($("#ch-compare").checked && adapter !== "base") await CHAT.ask("base", "base", text);
  } catch (e) { showError("#ch-error", e); }
  finally { CHAT.busy = false; $("#ch-send").disabled = false; }
};

CHAT.clear = function () {
  CHAT.history = { adapter: [], base: [] };
  $("#log-adapter").innerHTML = ""; $("#log-base").innerHTML = "";
};

CHAT.probes = async function () {
  const adapter = $("#ch-adapter").value;
  $("#probes-card").hidden = false; $("#probes-rows").innerHTML = ""; $("#ch-error").innerHTML = "";
  const tally = { b: 0, a: 0, n: 0, mb: 0, ma: 0, facts: 0 };
  const mark = (hit) => (hit === null ? "" : (hit ? ' <span class="hit">✓</span>' : ' <span class="miss">✗</span>'));
  try {
    await postSSE("/api/chat/probes", { adapter, limit: 30, sampling: { max_new_tokens: Number($("#ch-max").value || 96) } }, (name, r) => {
      if (name === "probe") {
        $("#probes-state").textContent = t("ch.probes.running", { i: r.index + 1, n: r.total });
        tally.n++; if (r.expect_any.length) tally.facts++;
        if (r.base_hit) tally.b++; if (r.adapter_hit) tally.a++;
        if (r.base_markers) tally.mb++; if (r.adapter_markers) tally.ma++;
        $("#probes-rows").insertAdjacentHTML("beforeend", `<tr><td>${r.index + 1}</td><td class="text">${esc(r.prompt)}</td>
          <td class="text">${esc(r.base)}${mark(r.base_hit)}</td><td class="text">${esc(r.adapter)}${mark(r.adapter_hit)}</td></tr>`);
      } else if (name === "done") {
        $("#probes-state").textContent = t("ch.probes.summary", { b: tally.b, a: tally.a, n: tally.facts, mb: tally.mb, ma: tally.ma });
      }
    });
  } catch (e) { $("#probes-card").hidden = true; showError("#ch-error", e); }
};

// ------------------------------------------------------------------ doctor
const DR = {};
pages.doctor = {
  async show(arg) {
    try {
      const { runs } = await api("GET", "/api/runs");
      const sel = $("#dr-run");
      const done = runs.filter((r) => r.complete);
      sel.innerHTML = done.map((r) => `<option value="${esc(r.name)}">${esc(r.name)}${r.has_doctor ? "" : " ·"}</option>`).join("");
      if (arg) sel.value = arg;
      if (sel.value) DR.load(sel.value); else $("#dr-report").innerHTML = `<p class="hint">${t("ad.empty")}</p>`;
    } catch (e) { showError("#dr-report", e); }
  },
};

DR.load = async function (name) {
  $("#dr-report").innerHTML = `<p class="hint">${t("common.loading")}</p>`;
  try {
    const { report } = await api("GET", `/api/runs/${encodeURIComponent(name)}/doctor`);
    DR.render(report);
  } catch (e) {
    $("#dr-report").innerHTML = e.code === "not_found" ? `<p class="hint">${t("dr.none")}</p>` : errorHTML(e);
  }
};

DR.render = function (r) {
  const v = r.verdict || "inconclusive", effect = r.effect || {};
  const num = (x) => (typeof x === "number" ? LineChart.fmt(x) : esc(typeof x === "object" && x !== null ? JSON.stringify(x) : x));
  let html = `<p>${t("dr.verdict")}: <span class="badge big ${esc(v)}" id="dr-verdict">${esc(t("verdict." + v))}</span></p>`;
  if (Array.isArray(r.basis) && r.basis.length) {
    html += `<table class="table" id="dr-basis">` + r.basis.map((b) => `<tr><td>${b.ok ? '<span class="hit">✓</span>' : '<span class="miss">✗</span>'}</td>
      <td><code>${esc(b.name)}</code></td><td>${num(b.value)}${b.threshold === undefined || b.threshold === null ? "" : " ≥ " + num(b.threshold)}</td>
      <td class="hint">${esc(b.what || b.title || "")}</td></tr>`).join("") + "</table>";
  }
  (r.notes || []).forEach((n) => { html += `<p class="hint">${esc(n)}</p>`; });
  if (r.findings) html += `<h3>${t("dr.findings")}</h3>` + (r.findings.length ? findingsHTML(r.findings) : `<div class="ok-box">${t("tr.plan.ok")}</div>`);
  // the effect numbers, flattened: "kl.mean 0.42", "markers.gain 0.6", ...
  const rows = [];
  const walk = (prefix, o) => Object.entries(o).forEach(([k, val]) => {
    const key = prefix ? prefix + "." + k : k;
    if (k === "generations" || (Array.isArray(val) && val.some((x) => x && typeof x === "object"))) return;  // in the tables / raw JSON
    if (val && typeof val === "object" && !Array.isArray(val)) walk(key, val);
    else rows.push(`<tr><td>${esc(key)}</td><td>${num(val)}</td></tr>`);
  });
  walk("", effect);
  if (rows.length) html += `<h3>${t("dr.effect")}</h3><table class="table" id="dr-effect">${rows.join("")}</table>`;
  const gens = effect.generations || r.generations;
  const mark = (g, side) => (g[side + "_fact"] === undefined ? "" : (g[side + "_fact"] ? ' <span class="hit">✓</span>' : ' <span class="miss">✗</span>'));
  if (Array.isArray(gens) && gens.length) {
    html += `<h3>${t("dr.generations")}</h3><table class="table"><tr><th>${t("ch.probes.col.prompt")}</th><th>${t("ch.probes.col.base")}</th><th>${t("ch.probes.col.adapter")}</th></tr>` +
      gens.map((g) => `<tr><td class="text">${esc(g.prompt)}</td><td class="text">${esc(g.base)}${mark(g, "base")}</td><td class="text">${esc(g.adapter)}${mark(g, "adapter")}</td></tr>`).join("") + "</table>";
  }
  html += `<details><summary>${t("dr.raw")}</summary><pre>${esc(JSON.stringify(r, null, 2))}</pre></details>`;
  $("#dr-report").innerHTML = html;
};

DR.start = async function () {
  const name = $("#dr-run").value;
  if (!name) return;
  try {
    const job = await api("POST", `/api/runs/${encodeURIComponent(name)}/doctor`);
    $("#dr-state").textContent = t("dr.running");
    for (;;) {
      await sleep(1500);
      const j = await api("GET", `/api/jobs/${job.id}`);
      if (j.status !== "running" && j.status !== "queued") {
        $("#dr-state").textContent = "";
        if (j.status === "failed") { $("#dr-report").innerHTML = errorHTML({ code: "run_error", message: j.error, details: {} }) + `<pre>${esc(j.log_tail)}</pre>`; return; }
        break;
      }
    }
    DR.load(name);
  } catch (e) { $("#dr-state").textContent = ""; showError("#dr-report", e); }
};

// ------------------------------------------------------------------ wiring
function init() {
  applyI18n();
  $("#lang-switch").onclick = () => setLang(LANG === "zh-CN" ? "en" : "zh-CN");
  window.addEventListener("langchange", () => { $("#ds-upload-hint").textContent = t("ds.upload.hint", { mb: DS.maxMb }); route(); });
  $("#ds-upload-hint").textContent = t("ds.upload.hint", { mb: DS.maxMb });
  $("#ds-upload").onclick = DS.upload;
  document.addEventListener("click", (e) => {
    const li = e.target.closest("#page-datasets li[data-name]");
    if (li) DS.select(li.dataset.name);
    const view = e.target.closest("[data-view]");
    if (view) { TRAIN.clickedAt = null; TRAIN.attach(Number(view.dataset.view)); TRAIN.refreshJobs(); }
    const act = e.target.closest("[data-act]");
    if (act) AD.act(act.dataset.act, act.closest("tr").dataset.name);
  });
  const f = TRAIN.form();
  // the model field plans on change (blur, Enter), not per keystroke: a half-typed hub id is a network lookup
  f.addEventListener("input", (e) => { if (e.target.name !== "model") TRAIN.schedulePlan(); });
  f.addEventListener("change", TRAIN.schedulePlan);
  f.addEventListener("submit", TRAIN.start);
  $("#job-cancel").onclick = async () => { try { TRAIN.renderJob(await api("POST", `/api/jobs/${TRAIN.job.id}/cancel`)); } catch (e) { showError("#train-error", e); } };
  $("#job-resume").onclick = async () => {
    try { const j = await api("POST", `/api/jobs/${TRAIN.job.id}/resume`); TRAIN.attach(j.id); TRAIN.refreshJobs(); } catch (e) { showError("#train-error", e); }
  };
  $("#ad-scan").onclick = () => AD.refresh("POST");
  $("#ad-base").onclick = async () => { try { await api("POST", "/api/adapters/base/activate"); AD.refresh("GET"); } catch (e) { showError("#ad-message", e); } };
  $("#ch-send").onclick = CHAT.send;
  $("#ch-clear").onclick = CHAT.clear;
  $("#ch-probes").onclick = CHAT.probes;
  $("#ch-adapter").onchange = CHAT.titles;
  $("#ch-compare").onchange = CHAT.titles;
  $("#ch-prompt").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) CHAT.send(); });
  $("#dr-run").onchange = () => DR.load($("#dr-run").value);
  $("#dr-start").onclick = DR.start;
  TRAIN.makeCharts();
  api("GET", "/api/health").then((h) => { DS.maxMb = h.max_upload_mb; $("#ds-upload-hint").textContent = t("ds.upload.hint", { mb: DS.maxMb }); }).catch(() => {});
  api("GET", "/api/datasets").then(TRAIN.setDatasets).then(() => TRAIN.loadModels()).catch(() => {});
  TRAIN.refreshJobs();
  window.addEventListener("hashchange", route);
  route();
}

document.addEventListener("DOMContentLoaded", init);
