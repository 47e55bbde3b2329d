// Tune on the train page: `lorastudio tune` as a job (POST /api/tune). The job card follows it
// like a training job (app.js: status, cancel, log); this file adds the trials table, filled in
// as trials finish (job.tune, sent with every status event), and the way to chat with the best.
"use strict";

const TUNE = {};

TUNE.start = async function () {
  const f = TRAIN.form(), all = TRAIN.config(), config = {};
  // the train page's data, model, probes and markers; epochs, lr and target modules are what tune tries
  for (const k of ["model", "data", "probes", "markers"]) if (all[k] !== undefined) config[k] = all[k];
  const max = $("#tune-max").value.trim();
  $("#train-error").innerHTML = "";
  $("#tune-start").disabled = true;
  try {
    const job = await api("POST", "/api/tune", { name: f.name.value.trim() || null, config, force: f.force.checked,
      budget: $("#tune-budget").value.trim() || "15m", max_trials: max === "" ? 3 : Number(max) });
    f.name.value = "";
    TRAIN.attach(job.id);
    TRAIN.refreshJobs();
  } catch (e) { showError("#train-error", e); }
  finally { $("#tune-start").disabled = false; }
};

TUNE.pct = (x) => (x === null || x === undefined ? "—" : Math.round(100 * x) + "%");

// A trial's settings as HTML: labels in the page's language, values (and module names) as they are.
TUNE.settings = function (s) {
  return Object.entries(s || {}).map(([k, v]) => {
    if (k === "target_modules") return v ? `<code>${esc([].concat(v).join(","))}</code>` : esc(t("tune.attention"));
    const label = has("tune.set." + k) ? esc(t("tune.set." + k)) : `<code>${esc(k)}</code>`;
    return `${label} <span class="param">${esc(v)}</span>`;
  }).join(" · ");
};

// A trial's reason in the page's language: a skip by its time, a refusal by its findings' codes;
// a failure keeps the tool's own words (shown apart, as the server wrote them).
TUNE.noteHTML = function (r) {
  if (r.status === "skipped" && r.estimated_seconds) return tHTML("tune.note.skipped", { s: Math.round(r.estimated_seconds) });
  if (r.status === "refused") {
    const codes = [...new Set(String(r.note || "").match(/\b[A-Z][A-Z_]{3,}\b/g) || [])];
    return esc(t("tune.note.refused")) + " " + codes.map((c) => `<code>${esc(c)}</code>`).join(" ");
  }
  return r.note ? `<span class="core-text">${esc(r.note)}</span>` : "";
};

TUNE.row = function (r) {
  const score = r.score === null || r.score === undefined ? "—" : r.score.toFixed(3);
  const why = r.status === "done" ? "" : ` <span class="badge ${esc(r.status)}">${esc(t("tune.status." + r.status))}</span>` +
    (TUNE.noteHTML(r) ? `<div class="hint">${TUNE.noteHTML(r)}</div>` : "");
  return `<tr data-trial="${esc(r.name)}" class="${r.best ? "best" : ""}"><td class="file-name">${esc(r.name)}</td>
    <td class="text">${TUNE.settings(r.settings)}${why}</td><td>${TUNE.pct(r.voice)}</td><td>${TUNE.pct(r.facts)}</td>
    <td>${TUNE.pct(r.retention)}</td><td>${score}</td><td class="star">${r.best ? "★" : ""}</td></tr>`;
};

TUNE.current = function (c) {
  const what = c.phase === "scoring" ? t("tune.scoring") : t("tune.training", { step: c.step || 0, total: c.total_steps || "?" });
  return `<tr class="current" data-current="${esc(c.trial)}"><td class="file-name">${esc(c.trial)}</td><td colspan="6" class="hint">${esc(what)}</td></tr>`;
};

TUNE.summary = function (job, tt) {
  const best = tt.trials.find((r) => r.best);
  if (job.status === "done" && tt.adapter) {
    return `<div class="ok-box" id="tune-done">${tHTML("tune.best", { trial: best ? best.name : tt.best, score: best && best.score !== null ? best.score.toFixed(3) : "—", name: tt.adapter })}
      <button class="small" id="tune-chat" data-adapter="${esc(tt.adapter)}">${esc(t("tune.chat"))}</button></div>`;
  }
  if (job.status === "running" || job.status === "queued") {
    return `<p class="hint">${tHTML("tune.progress", { done: tt.trials.length, max: tt.max_trials, budget: tt.budget })}</p>`;
  }
  return job.status === "failed" && !tt.best ? `<p class="hint">${esc(t("tune.none"))}</p>` : "";
};

TUNE.render = function (job) {
  const box = $("#tune-box"), isTune = !!job && job.kind === "tune" && !!job.tune;
  box.hidden = !isTune;
  if (!isTune) return;
  const tt = job.tune, head = ["tune.col.trial", "tune.col.settings", "tune.col.voice", "tune.col.facts",
    "tune.col.retention", "tune.col.score", "tune.col.best"].map((k) => `<th>${esc(t(k))}</th>`).join("");
  box.dataset.final = tt.final ? "1" : "0";
  box.innerHTML = `<h3>${esc(t("tune.trials"))}</h3>${TUNE.summary(job, tt)}
    <table class="table" id="tune-trials"><thead><tr>${head}</tr></thead>
      <tbody>${tt.trials.map(TUNE.row).join("")}${tt.current ? TUNE.current(tt.current) : ""}</tbody></table>
    <p class="hint">${esc(t("tune.weights"))}</p>`;
  const chat = $("#tune-chat");
  if (chat) chat.onclick = () => TUNE.chat(chat.dataset.adapter);
};

TUNE.chat = async function (name) {
  try {
    await api("POST", `/api/adapters/${encodeURIComponent(name)}/activate`);
    location.hash = "#chat";
  } catch (e) { showError("#train-error", e); }
};

// Every job the card shows passes through TRAIN.renderJob (status events, cancel): the table follows it.
const renderTrainJob = TRAIN.renderJob;
TRAIN.renderJob = function (job) { renderTrainJob(job); TUNE.render(job); };

document.addEventListener("DOMContentLoaded", () => {
  $("#tune-start").onclick = TUNE.start;
  // Enter in the tune fields would submit the form, which starts a training
  ["#tune-budget", "#tune-max"].forEach((sel) => $(sel).addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); TUNE.start(); }
  }));
  window.addEventListener("langchange", () => { if (TRAIN.job && TRAIN.job.kind) TUNE.render(TRAIN.job); });
});
