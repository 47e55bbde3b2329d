// The pages' texts come from the one message catalogue the CLI and the server use
// (src/lorastudio/locales/{en,zh}.json, served at /api/i18n/{lang}). The rules for rendering a
// template are those of src/lorastudio/i18n.py:
//   {name}  a parameter (floats to 4 significant digits, lists joined by ", ")
//   {name:%} a share as a percentage      {@field} a form field's label in quotes
//   [[ ... ]] an optional part, dropped when a parameter inside it is missing
// and on the pages `text` becomes a <code> span (tHTML).
"use strict";

const I18N = { lang: "zh", messages: {}, en: {} };

function pickLang() {
  const saved = localStorage.getItem("lorastudio.lang");
  if (saved === "en" || saved === "zh") return saved;
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  return String(langs[0]).toLowerCase().startsWith("zh") ? "zh" : "en";
}

let LANG = pickLang();

async function loadCatalogue(lang) {
  const get = async (l) => {
    const r = await fetch(`/api/i18n/${l}`);
    if (!r.ok) throw new Error(`catalogue ${l}: ${r.status}`);
    return r.json();
  };
  const [messages, en] = await Promise.all([get(lang), lang === "en" ? null : get("en")]);
  I18N.lang = lang; I18N.messages = messages; I18N.en = en || messages;
}

function fmtValue(v, percent) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "boolean") return t(v ? "common.yes" : "common.no");
  if (Array.isArray(v)) return v.map((x) => fmtValue(x)).join(", ");
  if (typeof v === "object") return Object.entries(v).map(([k, x]) => `${k}: ${fmtValue(x)}`).join(", ");
  if (typeof v !== "number") return String(v);
  if (percent) {
    const p = 100 * v;
    return (Math.abs(p) > 0 && Math.abs(p) < 10 && p !== Math.round(p)) ? p.toFixed(1) + "%" : p.toFixed(0) + "%";
  }
  if (!isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return fmtG(v);
}

// Python's "{:.4g}": 4 significant digits, exponent form below 1e-4 and from 1e4.
function fmtG(v) {
  if (v === 0) return "0";
  const exp = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(4)))));
  if (exp < -4 || exp >= 4) {
    let [m, e] = v.toExponential(3).split("e");
    m = m.replace(/\.?0+$/, "");
    const n = Number(e);
    return `${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  return v.toFixed(Math.max(0, 3 - exp)).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

function fieldRef(name) {
  const label = I18N.messages["field." + name] || I18N.en["field." + name] || name;
  return I18N.lang === "zh" ? `「${label}」` : `“${label}”`;
}

const PLACEHOLDER = /\{(@?)([A-Za-z_][A-Za-z0-9_.]*)(?::(%))?\}/g;

function renderTemplate(template, params, wrap) {
  params = params || {};
  wrap = wrap || ((x) => x);
  const present = (text) => [...text.matchAll(PLACEHOLDER)].every((m) => m[1] || (params[m[2]] !== undefined && params[m[2]] !== null));
  const text = template.replace(/\[\[([\s\S]*?)\]\]/g, (all, inner) => (present(inner) ? inner : ""));
  return text.replace(PLACEHOLDER, (all, at, name, spec) => {
    if (at) return fieldRef(name);
    return name in params ? wrap(fmtValue(params[name], spec === "%")) : all;
  });
}

function has(key) { return key in I18N.messages || key in I18N.en; }

// The message `key` as plain text (backticks kept off), English when the language lacks it.
function t(key, params) {
  const template = I18N.messages[key] !== undefined ? I18N.messages[key] : (I18N.en[key] !== undefined ? I18N.en[key] : key);
  return renderTemplate(template, params).replace(/`([^`]*)`/g, "$1");
}

// The same as HTML: escaped, with `x` as <code>x</code>, and each parameter (a number, a name,
// the user's value) in a <span class="param">: data, not the catalogue's words.
function tHTML(key, params) {
  const template = I18N.messages[key] !== undefined ? I18N.messages[key] : (I18N.en[key] !== undefined ? I18N.en[key] : key);
  const escd = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  return escd(renderTemplate(template, params, (v) => `\u0001${v}\u0002`))
    .replace(/`([^`]*)`/g, "<code>$1</code>").replace(/\u0001/g, '<span class="param">').replace(/\u0002/g, "</span>");
}

function applyI18n(root) {
  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  (root || document).querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  (root || document).querySelectorAll("[data-i18n-ph]").forEach((el) => { el.placeholder = t(el.dataset.i18nPh); });
  (root || document).querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
  document.title = t("app.title");
}

async function setLang(lang) {
  await loadCatalogue(lang);
  LANG = lang;
  localStorage.setItem("lorastudio.lang", lang);
  applyI18n();
  window.dispatchEvent(new Event("langchange"));
}
