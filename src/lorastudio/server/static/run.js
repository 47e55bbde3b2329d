// The run page (the doctor's report, RUN_DIR/doctor.json): the verdict first with the numbers
// that decided it; voice, content and retention as base-versus-adapter bars; findings by the
// moment they were raised; base and adapter answers side by side; the raw numbers in "details".
"use strict";

const DR = { SHOWN: 8 };  // answers shown at once; the rest behind a toggle
pages.doctor = {
  async show(arg) {
    try {
      const { runs } = await api("GET", "/api/runs");
      const sel = $("#dr-run");
      const done = runs.filter((r) => r.complete);
      sel.innerHTML = done.map((r) => `<option value="${esc(r.name)}">${esc(r.name)}</option>`).join("");
      if (arg) sel.value = arg;
      if (sel.value) await DR.load(sel.value); else $("#dr-report").innerHTML = `<p class="hint">${esc(t("ad.empty"))}</p>`;
    } catch (e) { showError("#dr-report", e); }
  },
};

DR.load = async function (name) {
  $("#dr-report").innerHTML = `<p class="hint"><span class="spinner"></span>${esc(t("common.loading"))}</p>`;
  try {
    const { report } = await api("GET", `/api/runs/${encodeURIComponent(name)}/doctor`);
    DR.report = report;
    DR.render(report);
  } catch (e) {
    DR.report = null;
    $("#dr-report").innerHTML = e.code === "not_found" ? `<p class="hint" id="dr-none">${esc(t("dr.none"))}</p>` : errorHTML(e);
  }
};

// One number the verdict rests on: its name, value, the bar it had to clear, pass or not.
DR.basisRow = function (b, findings) {
  const mark = b.ok ? '<span class="hit">✓</span>' : '<span class="miss">✗</span>';
  if (b.name === "finding") {
    const f = findings.find((x) => x.code === b.code) || { code: b.code, title: b.what, evidence: {} };
    return `<li data-basis="finding">${mark} ${findingTitleHTML(f)} <code class="fcode">${esc(b.code)}</code></li>`;
  }
  const percent = b.name === "train_loss_drop" || b.name === "marker_gain";
  const v = (x) => (typeof x === "number" ? fmtValue(x, percent) : "—");
  const need = b.threshold === undefined || b.threshold === null ? "" : " " + tHTML("dr.needs", { value: v(b.threshold) });
  return `<li data-basis="${esc(b.name)}">${mark} ${esc(t("basis." + b.name))}：<b>${v(b.value)}</b>${need}</li>`;
};

// Base versus adapter as two bars, 0-100 %.
DR.bars = function (key, base, adapter, note) {
  const bar = (who, x) => `<div class="bar-row"><span class="bar-label">${esc(t("dr.bar." + who))}</span>` +
    `<span class="bar"><span class="fill ${who}" style="width:${Math.round(100 * Math.max(0, Math.min(1, x || 0)))}%"></span></span><b>${pct(x)}</b></div>`;
  return `<div class="bars" data-bars="${key}"><h4>${esc(t("three." + key))}</h4>${bar("base", base)}${bar("adapter", adapter)}` +
    `<p class="hint">${esc(note)}</p></div>`;
};

DR.threeHTML = function (three) {
  if (!three) return "";
  const parts = [];
  if (three.voice) parts.push(DR.bars("voice", three.voice.base, three.voice.adapter, t("three.voice.note")));
  if (three.knowledge) parts.push(DR.bars("knowledge", three.knowledge.base, three.knowledge.adapter, t("three.knowledge.note", { n: three.knowledge.answers })));
  if (three.retention) {
    const r = three.retention, n = r.probes || 1;
    parts.push(DR.bars("retention", r.base_right / n, r.adapter_right / n, t("three.retention.note", { kept: pct(r.retention), n: r.probes })));
  }
  return parts.length ? `<div class="three">${parts.join("")}</div>` : "";
};

DR.answersHTML = function (gens) {
  if (!Array.isArray(gens) || !gens.length) return "";
  const mark = (g, side) => (g[side + "_fact"] === undefined ? "" : (g[side + "_fact"] ? ' <span class="hit">✓</span>' : ' <span class="miss">✗</span>'));
  const head = `<thead><tr><th>${esc(t("ch.probes.col.prompt"))}</th><th>${esc(t("ch.probes.col.base"))}</th><th>${esc(t("ch.probes.col.adapter"))}</th></tr></thead>`;
  const row = (g) => `<tr><td class="text user-text">${esc(g.prompt)}</td><td class="text"><span class="user-text">${esc(g.base)}</span>${mark(g, "base")}</td>` +
    `<td class="text"><span class="user-text">${esc(g.adapter)}</span>${mark(g, "adapter")}</td></tr>`;
  const first = gens.slice(0, DR.SHOWN), rest = gens.slice(DR.SHOWN);
  return `<h3>${esc(t("dr.generations"))}</h3><table class="table answers">${head}<tbody>${first.map(row).join("")}</tbody></table>` +
    (rest.length ? `<details class="more-answers"><summary>${tHTML("dr.more", { n: rest.length })}</summary><table class="table answers"><tbody>${rest.map(row).join("")}</tbody></table></details>` : "");
};

// The measured numbers, named, behind the "details" toggle.
DR.detailsHTML = function (r) {
  const e = r.effect || {}, rows = [];
  const add = (key, value, percent) => { if (value !== undefined && value !== null) rows.push(`<tr><td>${esc(t("detail." + key))}</td><td>${esc(fmtValue(value, percent))}</td></tr>`); };
  const loss = e.loss || {};
  if (loss.train) { add("train_base", loss.train.base); add("train_adapter", loss.train.adapter); add("train_drop", loss.train.drop, true); }
  if (loss.heldout) { add("heldout_base", loss.heldout.base); add("heldout_adapter", loss.heldout.adapter); add("heldout_drop", loss.heldout.drop, true); }
  if (e.kl) { add("kl_mean", e.kl.mean); add("kl_probes", e.kl.probes); }
  if (e.curve) { add("steps", e.curve.steps); add("first_loss", e.curve.first_loss); add("last_loss", e.curve.last_loss); add("best_eval", e.curve.best_eval); }
  if (e.weights) { add("modules", e.weights.modules); add("delta_rel_mean", e.weights.delta_rel_mean); }
  if (e.markers) { add("marker_base", e.markers.base_rate, true); add("marker_adapter", e.markers.adapter_rate, true); }
  if (e.facts) { add("fact_base", e.facts.base_rate, true); add("fact_adapter", e.facts.adapter_rate, true); }
  if (e.serving) { add("serving_same", e.serving.same_answers); add("serving_probes", e.serving.probes); }
  const notes = (r.notes || []).map((n) => `<li class="core-text">${esc(n)}</li>`).join("");
  return `<details id="dr-details"><summary>${esc(t("dr.details"))}</summary>` +
    (rows.length ? `<table class="table" id="dr-effect">${rows.join("")}</table>` : "") +
    (notes ? `<h4>${esc(t("dr.notes"))}</h4><ul>${notes}</ul>` : "") +
    `<details><summary>${esc(t("dr.raw"))}</summary><pre>${esc(JSON.stringify(r, null, 2))}</pre></details></details>`;
};

// The verdict in words: an adapter held back only by collapsed answers did change the model, and
// is "not useful" rather than "not learned" (as diagnosis/report.py headlines it).
DR.verdict = function (r) {
  const codes = new Set((r.basis || []).filter((b) => b.name === "finding").map((b) => b.code));
  return r.verdict === "not_learned" && codes.size === 1 && codes.has("ANSWERS_COLLAPSED") ? "not_useful" : (r.verdict || "inconclusive");
};

DR.render = function (r) {
  const v = DR.verdict(r), findings = r.findings || [];
  const basis = (r.basis || []).map((b) => DR.basisRow(b, findings)).join("");
  let html = `<div class="verdict-box ${esc(v)}"><div>${verdictBadge(v, true)}</div><div><p>${esc(t("verdict." + v + ".means"))}</p>` +
    (basis ? `<ul id="dr-basis">${basis}</ul>` : "") + "</div></div>";
  html += DR.threeHTML((r.effect || {}).three);
  html += `<h3>${esc(t("dr.findings"))}</h3>` + (findings.length ? findingsByStageHTML(findings) : `<div class="ok-box">${esc(t("dr.nofindings"))}</div>`);
  html += DR.answersHTML((r.effect || {}).generations);
  html += DR.detailsHTML(r);
  $("#dr-report").innerHTML = html;
};

DR.start = async function () {
  const name = $("#dr-run").value;
  if (!name) return;
  try {
    const job = await api("POST", `/api/runs/${encodeURIComponent(name)}/doctor`);
    $("#dr-state").innerHTML = `<span class="spinner"></span>${esc(t("dr.running"))}`;
    for (;;) {
      await sleep(1500);
      const j = await api("GET", `/api/jobs/${job.id}`);
      if (j.status !== "running" && j.status !== "queued") {
        $("#dr-state").textContent = "";
        if (j.status === "failed") { $("#dr-report").innerHTML = `<div class="error-box"><b>${esc(t("tr.failed"))}</b><div class="core-text">${esc(j.error)}</div></div><pre>${esc(j.log_tail)}</pre>`; return; }
        break;
      }
    }
    DR.load(name);
  } catch (e) { $("#dr-state").textContent = ""; showError("#dr-report", e); }
};

DR.wire = function () {
  $("#dr-run").onchange = () => DR.load($("#dr-run").value);
  $("#dr-start").onclick = DR.start;
};
