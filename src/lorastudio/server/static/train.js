// The train page: the form (checked against the config schema before any request), the plan
// as the user types with its findings and their "apply this fix" buttons, and the job card:
// start-up phases, step counter and ETA from the latest metric, live curves, cancel, resume.
// A reload re-attaches to the running job and puts its settings back in the form.
// The form sends only what the user set; what the recipe fills in, the placeholders, the
// probes and the memory plan are shown by recipe.js.
"use strict";

const TRAIN = { job: null, source: null, planTimer: null, planSeq: 0, clickedAt: null, firstPointMs: null,
  lastStep: null, stepTimes: [], liveFindings: [], restoreForm: false, extra: {} };
TRAIN.form = () => $("#train-form");

// Form inputs named after TrainConfig fields, by how their value is sent.
TRAIN.TEXT = ["model", "data", "probes", "target_modules", "long_samples", "markers", "gpu_memory", "quantize"];
TRAIN.NUMBERS = ["epochs", "batch_size", "grad_accum", "lr", "lora_r", "lora_alpha", "max_seq_len", "eval_split",
  "warmup_steps", "mix_general", "lora_dropout", "save_steps", "seed", "expand_to"];
TRAIN.CHOICES = { gradient_checkpointing: (v) => v === "true" };  // selects whose value is not text

pages.train = {
  async show() {
    TRAIN.loadModels();
    await TRAIN.refreshJobs();
    TRAIN.schedulePlan(0);
    TRAIN.fitCharts();
  },
};

// The dataset choices: training data (the user's uploads first), and the probes files (.json or
// .jsonl of prompts) after the automatic choice, prompts held out of the data itself.
TRAIN.setDatasets = function (data) {
  const f = TRAIN.form(), keep = f.data.value || TRAIN.wanted, keepProbes = f.probes.value || TRAIN.wantedProbes;
  const option = (d) => `<option value="${esc(d.name)}">${esc(d.name)}</option>`;
  const trainable = data.uploads.concat(data.examples).filter((d) => d.kind !== "probes");
  f.data.innerHTML = trainable.map(option).join("");
  f.probes.innerHTML = `<option value="">${esc(t("tr.probes.auto"))}</option>` +
    data.uploads.concat(data.examples).filter((d) => d.kind === "probes").map(option).join("");
  f.data.value = keep && trainable.some((d) => d.name === keep) ? keep :
    (trainable.find((d) => d.source === "upload") || trainable.find((d) => d.name === "wukong_train.json") || trainable[0] || {}).name || "";
  TRAIN.info = {};  // the list changed: a dataset's own probes may be new
  if (keepProbes && [...f.probes.options].some((o) => o.value === keepProbes)) f.probes.value = keepProbes;
  if (f.data.value && f.data.value !== TRAIN.probesFor) TRAIN.ownProbes();
};

TRAIN.pick = function (name) {
  TRAIN.wanted = name;
  const f = TRAIN.form();
  if ([...f.data.options].some((o) => o.value === name)) { f.data.value = name; TRAIN.ownProbes(); }
  TRAIN.schedulePlan();
};

// TRAIN.loadModels: in models.js, with the model pickers

// Only what the user set (and the fixes applied for settings the form lacks): the server and the
// training process fill the rest from the recipe for this data and model.
TRAIN.config = function () {
  const f = TRAIN.form(), c = {};
  for (const k of TRAIN.TEXT) if (f[k].value.trim()) c[k] = f[k].value.trim();
  for (const k of TRAIN.NUMBERS) if (f[k] && f[k].value.trim() !== "") c[k] = Number(f[k].value);
  for (const [k, read] of Object.entries(TRAIN.CHOICES)) if (f[k].value) c[k] = read(f[k].value);
  if (f.drop_duplicates.checked) c.drop_duplicates = true;
  Object.assign(c, TRAIN.extra);
  const vars = TRAIN.varValues();
  if (Object.keys(vars).length) c.vars = vars;
  c.doctor = f.doctor.checked;
  return c;
};

// The settings of a job (its config.json) back into the form: dataset paths become their names.
TRAIN.fillForm = function (job) {
  const f = TRAIN.form(), c = job.config || {};
  TRAIN.extra = {};
  const base = (p) => (p ? String(p).split(/[\\/]/).pop() : "");
  const text = (v) => (v === undefined || v === null ? "" : (Array.isArray(v) ? v.join(",") : String(v)));
  f.name.value = "";
  f.name.placeholder = job.name;
  if (c.model) f.model.value = c.model;
  TRAIN.wanted = base(c.data); TRAIN.wantedProbes = base(c.probes); TRAIN.probesFor = base(c.data);
  if (c.data && [...f.data.options].some((o) => o.value === base(c.data))) f.data.value = base(c.data);
  f.probes.value = [...f.probes.options].some((o) => o.value === base(c.probes)) ? base(c.probes) : "";
  for (const k of TRAIN.NUMBERS) if (f[k]) f[k].value = text(c[k]);  // what the job was not given stays empty
  for (const k of ["target_modules", "markers", "gpu_memory", "gradient_checkpointing"]) f[k].value = text(c[k]);
  f.quantize.value = c.quantize && c.quantize !== "none" ? c.quantize : "";
  TRAIN.setVars(c.vars || {});
  TRAIN.renderExtra();
  if (c.doctor !== undefined) f.doctor.checked = !!c.doctor;
  f.long_samples.value = c.long_samples || "";
  f.drop_duplicates.checked = !!c.drop_duplicates;
  f.force.checked = !!job.force;
  $("#form-note").innerHTML = tHTML("tr.restored", { name: job.name });
  $("#form-note").dataset.job = String(job.id);
  TRAIN.schedulePlan(0);
};

TRAIN.schedulePlan = function (delay) {
  clearTimeout(TRAIN.planTimer);
  if (!$("#page-train").classList.contains("active")) return;  // planned when the page is shown
  $("#plan-state").innerHTML = `<span class="spinner"></span>${esc(t("tr.plan.updating"))}`;
  TRAIN.planTimer = setTimeout(TRAIN.updatePlan, delay === undefined ? 250 : delay);
};

TRAIN.updatePlan = async function () {
  const seq = ++TRAIN.planSeq, f = TRAIN.form();
  if (!validateForm(f)) {
    $("#plan-state").textContent = t("tr.plan.fixfields");
    return;
  }
  if (!f.data.value) { $("#plan-state").textContent = ""; return; }
  try {
    const [r, info] = await Promise.all([api("POST", "/api/plan", { config: TRAIN.config() }), TRAIN.datasetInfo(f.data.value)]);
    if (seq !== TRAIN.planSeq) return;
    const p = r.plan, secs = p.estimated_seconds;
    const box = (v, k) => `<div><b>${v}</b><span>${esc(t(k))}</span></div>`;
    $("#plan-numbers").innerHTML = box(p.steps_per_epoch, "tr.plan.spe") + box(p.total_steps, "tr.plan.total") +
      box(`${p.effective_batch}`, "tr.plan.eff") + box(p.n_train, "tr.plan.train") + box(p.tokens_per_epoch.toLocaleString(), "tr.plan.tokens") +
      box((p.label_coverage * 100).toFixed(1) + "%", "tr.plan.cov") + box(p.trainable_params.toLocaleString(), "tr.plan.params") +
      box(secs === null ? "—" : esc(duration(secs)), "tr.plan.time") + box(esc(t("device." + r.device)), "tr.plan.device");
    $("#plan-numbers").dataset.totalSteps = p.total_steps;
    $("#plan-findings").innerHTML = r.findings.length ? findingsHTML(r.findings, { apply: true }) : `<div class="ok-box">${esc(t("tr.plan.ok"))}</div>`;
    TRAIN.showRecipe(r, info);  // recipe.js: the recipe's values and reasons, placeholders, memory, held-out prompts
    $("#plan-state").textContent = t("tr.plan.batch", { b: p.batch_size, a: p.grad_accum, w: p.world_size, e: p.effective_batch });
  } catch (e) {
    if (seq !== TRAIN.planSeq) return;
    $("#plan-state").textContent = "";
    $("#plan-numbers").innerHTML = "";
    $("#plan-memory").innerHTML = ""; $("#plan-heldout").innerHTML = "";
    $("#plan-findings").innerHTML = errorHTML(e);
    TRAIN.markServerFields(e);
  }
};

// A server refusal that names fields: mark them on the form too.
TRAIN.markServerFields = function (e) {
  const f = TRAIN.form(), d = e.details || {};
  for (const x of d.fields || []) markField(f, x.field, t("validation." + x.why, x.params || {}));
  if (String(d.key || "").startsWith("name.")) markField(f, "name", errorParts(e).title.replace(/<[^>]+>/g, ""));
  else if (!(d.fields || []).length && d.option) {
    const name = String(d.option).replace(/^--/, "").replace(/-/g, "_");
    if (f.elements[name]) markField(f, name, errorParts(e).raw || t("validation.other"));
  }
};

// "Apply this fix": the finding's settings into the form (a setting in "more settings" opens it),
// then a new plan. A setting the form has no field for is sent all the same, shown as a chip
// the user can remove (recipe.js); placeholder values go to their fields.
TRAIN.applyFix = function (apply) {
  const f = TRAIN.form();
  for (const [k, v] of Object.entries(apply)) {
    if (k === "vars") { TRAIN.setVars({ ...TRAIN.varValues(), ...v }); continue; }
    const input = f.elements[k];
    if (!input || !input.name) { TRAIN.extra[k] = v; continue; }
    const more = input.closest("details");
    if (more) more.open = true;
    if (input.type === "checkbox") input.checked = !!v;
    else input.value = Array.isArray(v) ? v.join(",") : String(v);
    input.classList.add("applied");
    setTimeout(() => input.classList.remove("applied"), 1500);
  }
  TRAIN.renderExtra();
  if (location.hash !== "#train") location.hash = "#train";
  toast(esc(t("fix.applied")));
  TRAIN.schedulePlan(0);
};

TRAIN.start = async function (ev) {
  ev.preventDefault();
  const f = TRAIN.form();
  $("#train-error").innerHTML = "";
  if (!validateForm(f)) { $("#train-error").innerHTML = `<div class="error-box"><b>${esc(t("tr.plan.fixfields"))}</b></div>`; return; }
  $("#train-start").disabled = true;
  TRAIN.clickedAt = performance.now();
  TRAIN.firstPointMs = null;
  window.__firstPointMs = null;
  try {
    const job = await api("POST", "/api/jobs", { name: f.name.value.trim() || null, config: TRAIN.config(), force: f.force.checked });
    f.name.value = "";
    TRAIN.attach(job.id);
    TRAIN.refreshJobs();
  } catch (e) { showError("#train-error", e); TRAIN.markServerFields(e); }
  finally { $("#train-start").disabled = false; }
};

// ------------------------------------------------------------------ charts

TRAIN.charts = null;
TRAIN.makeCharts = function () {
  TRAIN.charts = {
    loss: new StudioChart($("#chart-loss"), {
      series: [{ key: "raw", label: () => t("chart.loss.raw"), color: "#93c5fd", width: 1 },
        { key: "loss", label: () => t("chart.loss"), color: "#2563eb", width: 2 },
        { key: "eval", label: () => t("chart.eval"), color: "#dc2626", width: 2, points: true }],
      smooth: { from: "raw", key: "loss", weight: 0.8 },
    }),
    lr: new StudioChart($("#chart-lr"), { series: [{ key: "lr", label: () => t("chart.lr"), color: "#7c3aed" }], yMin0: true }),
    tps: new StudioChart($("#chart-tps"), { series: [{ key: "tps", label: () => t("chart.tps"), color: "#059669" }], yMin0: true }),
  };
};

TRAIN.fitCharts = function () { if (TRAIN.charts) Object.values(TRAIN.charts).forEach((c) => c.fit()); };

TRAIN.resetCurves = function () {
  Object.values(TRAIN.charts).forEach((c) => c.reset());
  TRAIN.lastStep = null; TRAIN.stepTimes = []; TRAIN.liveFindings = [];
};

TRAIN.onMetric = function (row) {
  const c = TRAIN.charts;
  if (row.type === "step") {
    c.loss.push(row.step, { raw: row.loss }); c.lr.push(row.step, { lr: row.lr }); c.tps.push(row.step, { tps: row.tokens_per_sec });
    if (TRAIN.lastStep !== null && row.step === TRAIN.lastStep + 1 && row.elapsed !== undefined && TRAIN.lastElapsed !== undefined && row.elapsed >= TRAIN.lastElapsed) {
      TRAIN.stepTimes.push(row.elapsed - TRAIN.lastElapsed);
      if (TRAIN.stepTimes.length > 20) TRAIN.stepTimes.shift();
    }
    TRAIN.lastStep = row.step; TRAIN.lastElapsed = row.elapsed;
    if (TRAIN.clickedAt !== null && TRAIN.firstPointMs === null) {
      TRAIN.firstPointMs = Math.round(performance.now() - TRAIN.clickedAt);
      window.__firstPointMs = TRAIN.firstPointMs;
    }
    // full findings (newer runs) or their codes only (older ones)
    const found = row.new_findings || (row.findings || []).map((code) => ({ code, severity: "warning", evidence: { step: row.step } }));
    for (const f of found) TRAIN.liveFindings.push({ ...f, stage: "live" });
    TRAIN.scheduleProgress();
  } else if (row.type === "eval") c.loss.push(row.step, { eval: row.eval_loss });
};

// ------------------------------------------------------------------ the job card

TRAIN.attach = function (jobId, restore) {
  if (TRAIN.source) TRAIN.source.close();
  if (!TRAIN.charts) TRAIN.makeCharts();
  TRAIN.resetCurves();
  TRAIN.job = { id: jobId };
  TRAIN.restoreForm = !!restore;
  localStorage.setItem("lorastudio.job", jobId);
  const src = new EventSource(`/api/jobs/${jobId}/events`);
  TRAIN.source = src;
  src.addEventListener("metric", (e) => TRAIN.onMetric(JSON.parse(e.data)));
  src.addEventListener("reset", () => TRAIN.resetCurves());
  src.addEventListener("checkpoint", (e) => { const step = JSON.parse(e.data).step; Object.values(TRAIN.charts).forEach((c) => c.mark(step)); });
  src.addEventListener("status", (e) => {
    const job = JSON.parse(e.data);
    if (TRAIN.restoreForm && job.kind === "train") { TRAIN.restoreForm = false; if (job.status === "running" || job.status === "queued") TRAIN.fillForm(job); }
    TRAIN.renderJob(job);
  });
  src.addEventListener("end", () => { src.close(); TRAIN.refreshJobs(); api("GET", `/api/jobs/${jobId}`).then(TRAIN.renderJob).catch(() => {}); });
};

// Where the job is before its first step (the server reads it from the trainer's status.json):
// queued, starting the process, preparing (tokenising the data, loading the model), first step.
TRAIN.phase = function (job) { return job.phase || null; };

TRAIN.PHASES = ["queued", "starting", "preparing", "first_step", "training"];

TRAIN.phasesHTML = function (current) {
  if (!current || current === "doctor") return "";
  const at = TRAIN.PHASES.indexOf(current);
  return TRAIN.PHASES.map((ph, i) => `<li class="${i < at ? "done" : (i === at ? "now" : "")}" data-phase="${ph}">` +
    `${i === at && ph !== "training" ? '<span class="spinner"></span>' : (i < at ? "✓ " : "")}${esc(t("phase." + ph))}</li>`).join("");
};

TRAIN.eta = function (job) {
  const total = (job.progress || {}).total_steps;
  if (!total || TRAIN.lastStep === null || TRAIN.stepTimes.length < 3) return null;
  const sorted = [...TRAIN.stepTimes].sort((a, b) => a - b), per = sorted[Math.floor(sorted.length / 2)];
  return Math.max(0, (total - TRAIN.lastStep) * per);
};

// Once per frame at most: a replayed curve sends its rows all at once.
TRAIN.scheduleProgress = function () {
  if (TRAIN.progressPending) return;
  TRAIN.progressPending = true;
  const run = () => { TRAIN.progressPending = false; TRAIN.renderProgress(); };
  if (document.hidden) setTimeout(run, 50); else requestAnimationFrame(run);
};

// The step counter and bar follow the latest metric row, not status.json (written per checkpoint).
TRAIN.renderProgress = function () {
  const job = TRAIN.job;
  if (!job || !job.kind) return;
  const p = job.progress || {}, total = p.total_steps;
  const step = TRAIN.lastStep !== null ? TRAIN.lastStep : (p.step || 0);
  const phase = TRAIN.phase(job);
  let text = "";
  if (total && job.kind === "train" && (phase === "training" || !job.active)) {
    text = t("tr.step", { step, total });
    const eta = job.status === "running" ? TRAIN.eta(job) : null;
    if (eta !== null && phase === "training") text += " · " + t("tr.eta", { time: duration(eta) });
  }
  $("#job-step").textContent = text;
  const bar = $("#job-progress");
  bar.hidden = !(total && job.kind === "train");
  bar.max = total || 1; bar.value = Math.min(step, total || 1);
  const cell = $(`#jobs-table tr[data-job="${job.id}"] td.steps`);
  if (cell && total) cell.textContent = `${step}/${total}`;
  $("#job-phases").innerHTML = TRAIN.phasesHTML(phase);
  $("#job-phases").dataset.phase = phase || "";
  $("#job-findings").innerHTML = TRAIN.liveFindings.length ? findingsHTML(TRAIN.liveFindings) : "";
};

TRAIN.renderJob = function (job) {
  TRAIN.job = job;
  job.active = job.status === "running" || job.status === "queued";
  const p = job.progress || {};
  let status = statusBadge(job.status) + ` <span class="badge kind">${esc(kindLabel(job.kind))}</span>`;
  if (job.status === "running" && p.state === "done" && job.kind === "train") status += " " + esc(t("status.doctor"));
  if (job.status === "running" && job.cancel_requested) status += " " + esc(t("status.stopping"));
  $("#job-title").innerHTML = `#${job.id} <b class="file-name">${esc(job.name)}</b>`;
  $("#job-verdict").innerHTML = job.verdict ? `${esc(t("dr.verdict"))}：${verdictBadge(job.verdict)} <a href="#doctor/${encodeURIComponent(job.name)}">${esc(t("tr.report"))}</a>` : "";
  $("#job-status").innerHTML = status + (job.error ? `<div class="error-box"><b>${esc(t("tr.failed"))}</b><div class="core-text">${esc(job.error)}</div></div>` : "");
  $("#job-card").dataset.status = job.status;
  if (!job.active && $("#form-note").dataset.job === String(job.id)) $("#form-note").textContent = "";  // no longer running
  $("#job-card").dataset.kind = job.kind;
  $("#job-card .charts").style.display = job.kind === "train" ? "" : "none";  // a doctor has no curve; a tune, one per trial
  $("#job-cancel").hidden = !job.active;
  $("#job-cancel").textContent = job.cancel_requested ? t("tr.cancel.again") : t("tr.cancel");
  $("#job-resume").hidden = !((job.status === "cancelled" || job.status === "failed") && job.kind === "train" && !job.complete);
  if (job.log_tail !== undefined) { $("#job-log").textContent = job.log_tail; if (job.status === "failed") $("#job-log-box").open = true; }
  TRAIN.renderProgress();
};

TRAIN.refreshJobs = async function () {
  try {
    const { jobs } = await api("GET", "/api/jobs");
    $("#jobs-table").innerHTML = jobs.length ? `<thead><tr><th>#</th><th>${esc(t("tr.col.kind"))}</th><th>${esc(t("common.name"))}</th>` +
      `<th>${esc(t("common.status"))}</th><th>${esc(t("tr.col.steps"))}</th><th>${esc(t("dr.verdict"))}</th><th>${esc(t("common.created"))}</th><th></th></tr></thead><tbody>` +
      jobs.map((j) => `<tr class="${TRAIN.job && TRAIN.job.id === j.id ? "current" : ""}" data-job="${j.id}">
      <td>${j.id}</td><td>${esc(kindLabel(j.kind))}</td><td class="file-name">${esc(j.name)}</td><td>${statusBadge(j.status)}</td>
      <td class="steps">${j.progress && j.progress.total_steps ? `${j.progress.step || 0}/${j.progress.total_steps}` : ""}</td>
      <td>${verdictBadge(j.verdict)}</td><td>${new Date(j.created * 1000).toLocaleString(LANG === "zh" ? "zh-CN" : "en")}</td>
      <td><button class="small secondary" data-view="${j.id}">${esc(t("tr.view"))}</button></td></tr>`).join("") + "</tbody>" : "";
    if (!TRAIN.job && jobs.length) {
      const saved = Number(localStorage.getItem("lorastudio.job"));
      const running = jobs.find((j) => j.status === "running" || j.status === "queued");
      const pick = running || jobs.find((j) => j.id === saved) || jobs[0];
      TRAIN.attach(pick.id, !!running);
    }
  } catch (e) { /* shown on the next action */ }
};

// 75 → "75 秒", 150 → "2 分 30 秒"
function duration(seconds) {
  const s = Math.round(seconds);
  if (s < 90) return t("time.s", { s });
  const m = Math.floor(s / 60), r = s % 60;
  return m >= 60 ? t("time.hm", { h: Math.floor(m / 60), m: m % 60 }) : t("time.ms", { m, s: r });
}

TRAIN.wire = function () {
  const f = TRAIN.form();
  // the model field plans on change (blur, Enter), not per keystroke: a half-typed hub id is a network lookup
  f.addEventListener("input", (e) => { if (e.target.name !== "model") TRAIN.schedulePlan(); });
  f.addEventListener("change", (e) => { if (e.target === f.data) TRAIN.ownProbes(); TRAIN.schedulePlan(); });
  f.addEventListener("submit", TRAIN.start);
  document.addEventListener("click", (e) => {
    const b = e.target.closest(".apply-fix");
    if (b) TRAIN.applyFix(JSON.parse(b.dataset.apply));
  });
  $("#job-cancel").onclick = async () => { try { TRAIN.renderJob(await api("POST", `/api/jobs/${TRAIN.job.id}/cancel`)); } catch (e) { showError("#train-error", e); } };
  $("#job-resume").onclick = async () => {
    try { const j = await api("POST", `/api/jobs/${TRAIN.job.id}/resume`); TRAIN.attach(j.id); TRAIN.refreshJobs(); } catch (e) { showError("#train-error", e); }
  };
  TRAIN.makeCharts();
  window.addEventListener("langchange", () => {
    Object.values(TRAIN.charts).forEach((c) => c.relabel());
    if (TRAIN.job && TRAIN.job.kind) TRAIN.renderJob(TRAIN.job);
  });
};
