// The adapters page: every finished run with its doctor's verdict; activate, rename, zip,
// merge, report, delete.
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
    } else if (act === "merge") {
      $("#ad-message").innerHTML = `<p class="hint"><span class="spinner"></span>${tHTML("ad.merging", { name })}</p>`;
      const r = await api("POST", `/api/adapters/${q}/merge`, {});
      $("#ad-message").innerHTML = `<div class="ok-box">${esc(t("ad.merged"))} <code>${esc(r.path)}</code></div>`;
    }
    await AD.refresh("GET");
  } catch (e) { showError("#ad-message", e); }
};

AD.wire = function () {
  $("#ad-scan").onclick = () => AD.refresh("POST");
  $("#ad-base").onclick = async () => { try { await api("POST", "/api/adapters/base/activate"); AD.refresh("GET"); } catch (e) { showError("#ad-message", e); } };
  document.addEventListener("click", (e) => {
    const act = e.target.closest("#ad-rows [data-act]");
    if (act) AD.act(act.dataset.act, act.closest("tr").dataset.name);
  });
};
