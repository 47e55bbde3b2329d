// What every page uses: the JSON API, errors and findings rendered in the page's language,
// form validation from the server's config schema, and the router. Plain JavaScript, no build.
"use strict";

const $ = (sel, root) => (root || document).querySelector(sel);
const $$ = (sel, root) => [...(root || document).querySelectorAll(sel)];
const esc = (s) => String(s === null || s === undefined ? "" : s)
  .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmtNum = (v) => (v === null || v === undefined ? "—" : (typeof v === "number" ? fmtValue(v) : esc(v)));
const pct = (x) => (x === null || x === undefined || Number.isNaN(x) ? "—" : Math.round(100 * x) + "%");
const MAX_PROBLEM_ROWS = 20;

class ApiError extends Error {
  constructor(status, err) {
    super(err.message);
    this.status = status; this.code = err.code; this.fix = err.fix; this.details = err.details || {};
  }
}

async function api(method, path, body, isForm) {
  const opts = { method, headers: { "Accept-Language": LANG } };
  if (body !== undefined) {
    if (isForm) opts.body = body;
    else { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  }
  let resp;
  try { resp = await fetch(path, opts); } catch (e) {
    throw new ApiError(0, { code: "network", message: String(e), details: { key: "network" } });
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

// ------------------------------------------------------------------ errors

// An error's headline and fix in the page's language: from its catalogue key when it has one,
// else the headline of its code with the server's own words under it.
function errorParts(err) {
  const d = err.details || {}, code = err.code || "internal_error";
  if (d.fields && d.fields.length) return { title: tHTML("error.config_error"), fix: tHTML("error.invalid_fields.fix") };
  if (d.key && has("error." + d.key)) {
    const fixKey = "error." + d.key + ".fix";
    return { title: tHTML("error." + d.key, d.params), fix: has(fixKey) ? tHTML(fixKey, d.params) : (LANG === "en" && err.fix ? esc(err.fix) : "") };
  }
  if (code === "data_error") return { title: tHTML("error.data_error", { total: d.total || (d.problems || []).length }), fix: "" };
  const head = has("error." + code) ? tHTML("error." + code, d) : tHTML("common.error");
  // the server's own fix, in English when the catalogue has no entry: kept apart as its words
  const fix = !err.fix ? "" : (LANG === "en" ? esc(err.fix) : `<span class="core-text">${esc(err.fix)}</span>`);
  return { title: head, raw: err.message, fix };
}

function problemsHTML(problems, total) {
  if (!problems || !problems.length) return "";
  const shown = problems.slice(0, MAX_PROBLEM_ROWS);
  const more = (total || problems.length) - shown.length;
  const text = (p) => (p.code && has("data." + p.code) ? tHTML("data." + p.code, { field: p.field, index: p.index }) : `<span class="core-text">${esc(p.message)}</span>`);
  return `<table class="table problems"><thead><tr><th>${esc(t("common.record"))}</th><th>${esc(t("common.field"))}</th><th>${esc(t("common.message"))}</th></tr></thead><tbody>` +
    shown.map((p) => `<tr><td>${p.index === null || p.index === undefined ? "—" : p.index}</td><td><code>${esc(p.field || "—")}</code></td><td>${text(p)}</td></tr>`).join("") +
    "</tbody></table>" + (more > 0 ? `<p class="hint more-problems">${tHTML("common.more", { n: more })}</p>` : "");
}

// A dataset's problems by kind (details.groups): the first record with it, the field, what is
// wrong in the page's language (data.<code>), and how many more records have the same; the
// checker's own English words behind a toggle (they name the value it read).
function problemGroupsHTML(groups, total) {
  const shown = groups.slice(0, MAX_PROBLEM_ROWS);
  const row = (g) => {
    const text = g.code && has("data." + g.code) ? tHTML("data." + g.code, { field: g.field, index: g.records[0] }) :
      `<span class="core-text">${esc(g.message)}</span>`;
    const others = g.records.slice(1), more = g.count - 1;
    const same = more <= 0 ? "" : `<div class="hint same">${others.length ?
      tHTML("data.same", { n: more, records: others.concat(more > others.length ? ["…"] : []) }) : tHTML("data.same.file", { n: more })}</div>`;
    const original = g.code && has("data." + g.code) ?
      `<details class="original"><summary>${esc(t("data.original"))}</summary><div class="core-text">${esc(g.message)}</div></details>` : "";
    const first = g.records.length && g.records[0] !== null && g.records[0] !== undefined ? g.records[0] : "—";
    return `<tr data-code="${esc(g.code || "")}"><td>${first}</td><td>${g.field ? `<code>${esc(g.field)}</code>` : "—"}</td>` +
      `<td>${text}${same}${original}</td></tr>`;
  };
  const accounted = shown.reduce((n, g) => n + g.count, 0), rest = (total || accounted) - accounted;
  return `<table class="table problems groups"><thead><tr><th>${esc(t("common.record"))}</th><th>${esc(t("common.field"))}</th><th>${esc(t("common.message"))}</th></tr></thead><tbody>` +
    shown.map(row).join("") + "</tbody></table>" + (rest > 0 ? `<p class="hint more-problems">${tHTML("data.rest", { n: rest })}</p>` : "");
}

function errorHTML(err) {
  const parts = errorParts(err), d = err.details || {};
  let html = `<div class="error-box" data-code="${esc(err.code || "internal_error")}"><b>${parts.title}</b>`;
  // the server's own words when they are not in the catalogue (the core's English), kept apart
  if (parts.raw) html += `<div class="core-text">${esc(parts.raw).replace(/\n/g, "<br>")}</div>`;
  if (parts.fix) html += `<div class="fix">${esc(t("common.fix"))}${colon()}${parts.fix}</div>`;
  if (d.fields && d.fields.length) html += `<ul class="field-errors">${d.fields.map((f) => `<li>${esc(fieldError(f))}</li>`).join("")}</ul>`;
  html += d.groups && d.groups.length ? problemGroupsHTML(d.groups, d.total) : problemsHTML(d.problems, d.total);
  if (d.findings && d.findings.length) html += findingsHTML(d.findings, { apply: true });
  return html + "</div>";
}

function showError(target, err) { $(target).innerHTML = errorHTML(err); }

// "解决办法：" in Chinese, "Fix: " in English
const colon = () => (LANG === "zh" ? "：" : ": ");

function toast(html) {
  const el = $("#toast"); el.innerHTML = html; el.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { el.hidden = true; }, 3500);
}

// ------------------------------------------------------------------ findings

function findingTitleHTML(f) {
  const key = `finding.${f.code}.title`;
  return has(key) ? tHTML(key, f.evidence) : esc(f.title);  // a code newer than the catalogue: its own words
}

function applyHTML(apply) {
  const value = (k, v) => (typeof v === "string" && has(`value.${k}.${v}`) ? t(`value.${k}.${v}`) : v);  // "drop" → 舍弃
  return Object.entries(apply).map(([k, v]) => tHTML("fix.set", { field: fieldRef(k), value: value(k, v) })).join(esc(t("fix.join")));
}

// A finding: severity, title, then the fix. A fix that sets form fields (`apply`) reads as
// those settings and gets the "apply this fix" button; the catalogue's explanation follows.
function findingHTML(f, opts) {
  const key = `finding.${f.code}.fix`, apply = f.apply && Object.keys(f.apply).length ? f.apply : null;
  const why = has(key) ? tHTML(key, f.evidence) : esc(f.fix || "");
  let fix = "";
  if (apply) {
    const button = opts && opts.apply ? ` <button type="button" class="small apply-fix" data-apply="${esc(JSON.stringify(apply))}">${esc(t("fix.apply"))}</button>` : "";
    fix = `<div class="fix">${esc(t("common.fix"))}${colon()}${applyHTML(apply)}${button}</div>` + (why ? `<div class="why">${why}</div>` : "");
  } else if (why) fix = `<div class="fix">${esc(t("common.fix"))}${colon()}${why}</div>`;
  const ev = Object.entries(f.evidence || {}).map(([k, v]) =>
    `<span><span class="ev-label">${has("evidence." + k) ? esc(t("evidence." + k)) : `<code>${esc(k)}</code>`}</span> ${typeof v === "string" && /[A-Za-z]{3}/.test(v) ? `<code>${esc(v)}</code>` : esc(fmtValue(v))}</span>`).join("");
  return `<div class="finding ${esc(f.severity)}" data-code="${esc(f.code)}">${severityBadge(f.severity)} ${findingTitleHTML(f)} <code class="fcode">${esc(f.code)}</code>` +
    fix + (ev ? `<details class="ev"><summary>${esc(t("dr.evidence"))}</summary><div class="ev-list">${ev}</div></details>` : "") + "</div>";
}

function findingsHTML(findings, opts) { return findings.map((f) => findingHTML(f, opts)).join(""); }

// Findings by the moment they were raised (before, during, after training), most severe first.
function findingsByStageHTML(findings) {
  const order = { error: 0, warning: 1, info: 2 };
  return ["preflight", "live", "after"].map((stage) => {
    const mine = findings.filter((f) => (f.stage || "preflight") === stage).sort((a, b) => order[a.severity] - order[b.severity]);
    return mine.length ? `<div class="stage" data-stage="${stage}"><h4>${esc(t("stage." + stage))}</h4>${findingsHTML(mine)}</div>` : "";
  }).join("");
}

function severityBadge(s) { return `<span class="badge sev ${esc(s)}">${esc(t("severity." + s))}</span>`; }
function statusBadge(status) { return `<span class="badge ${esc(status)}">${esc(t("status." + status))}</span>`; }
function verdictBadge(v, big) { return v ? `<span class="badge verdict ${esc(v)}${big ? " big" : ""}">${esc(t("verdict." + v))}</span>` : ""; }
function kindLabel(kind) { return has("job.kind." + kind) ? t("job.kind." + kind) : kind; }

// ------------------------------------------------------------------ form validation

// Each config field's type and bounds come from the server's TrainConfig schema, so the page
// refuses what the server would, before any request, and says why next to the field.
const SCHEMA = { props: null };

async function loadSchema() {
  try { SCHEMA.props = (await api("GET", "/api/config/schema")).properties; } catch (e) { SCHEMA.props = {}; }
}

function fieldSpec(name) {
  const p = (SCHEMA.props || {})[name];
  if (!p) return null;
  const alt = p.anyOf ? p.anyOf.find((x) => x.type !== "null") || {} : p;
  return { ...p, ...alt, optional: !!p.anyOf };
}

// null when fine, else {why, params} for validation.<why>
function checkValue(name, raw) {
  const spec = fieldSpec(name), text = String(raw).trim();
  if (!spec || text === "") return null;
  let v;
  if (spec.type === "integer") {
    if (!/^[+-]?\d+$/.test(text)) return { why: "integer" };
    v = Number(text);
  } else if (spec.type === "number") {
    v = Number(text);
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) || !isFinite(v)) return { why: "number" };
  } else return null;
  if (spec.minimum !== undefined && v < spec.minimum) return { why: "min", params: { min: spec.minimum } };
  if (spec.exclusiveMinimum !== undefined && v <= spec.exclusiveMinimum) return { why: "gt", params: { min: spec.exclusiveMinimum } };
  if (spec.maximum !== undefined && v > spec.maximum) return { why: "max", params: { max: spec.maximum } };
  if (spec.exclusiveMaximum !== undefined && v >= spec.exclusiveMaximum) return { why: "lt", params: { max: spec.exclusiveMaximum } };
  return null;
}

function fieldError(f) {
  const label = t("field." + f.field) !== "field." + f.field ? t("field." + f.field) : f.field;
  return t("validation.field", { field: label, why: t("validation." + f.why, f.params || {}) });
}

// Marks each bad field of `form` (inputs named after config fields); true when all are fine.
function validateForm(form) {
  let ok = true;
  $$(".field-error", form).forEach((el) => el.remove());
  $$(".bad", form).forEach((el) => el.classList.remove("bad"));
  $$("input[name]", form).forEach((input) => {
    const problem = checkValue(input.name, input.value);
    if (problem) { ok = false; markField(form, input.name, t("validation." + problem.why, problem.params || {})); }
  });
  return ok;
}

function markField(form, name, why) {
  const input = form.elements[name];
  if (!input) return false;
  input.classList.add("bad");
  const label = input.closest("label") || input.parentElement;
  const old = $(".field-error", label);
  if (old) old.remove();
  label.insertAdjacentHTML("beforeend", `<small class="field-error">${esc(why)}</small>`);
  return true;
}

// ------------------------------------------------------------------ navigation

const pages = {};
const TTI = {};  // page → ms from navigation to its data shown (the browser tests read it)
window.__tti = TTI;

async function route() {
  const [name, arg] = (location.hash.slice(1) || "datasets").split("/");
  const page = pages[name] ? name : "datasets";
  const t0 = performance.now();
  document.body.dataset.ready = "";
  $$(".page").forEach((p) => p.classList.toggle("active", p.id === "page-" + page));
  $$("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === page));
  try { await pages[page].show(arg ? decodeURIComponent(arg) : undefined); } finally {
    TTI[page] = Math.round(performance.now() - t0);
    if (TTI.first_load === undefined) TTI.first_load = Math.round(performance.now());  // from navigation start
    document.body.dataset.ready = page;
  }
}
