// LoRA Studio's pages start here: load the catalogue and the config schema, wire each page
// (datasets.js, train.js, tune.js, adapters.js, chat.js, run.js, expand.js), then route.
"use strict";

function uploadHint() { $("#ds-upload-hint").textContent = t("ds.upload.hint", { mb: DS.maxMb }); }

async function init() {
  await loadCatalogue(LANG);
  applyI18n();
  $("#lang-switch").onclick = () => setLang(LANG === "zh" ? "en" : "zh");
  window.addEventListener("langchange", () => { uploadHint(); route(); });
  uploadHint();
  $("#ds-upload").onclick = DS.upload;
  $("#ds-file").onchange = () => {
    const f = $("#ds-file").files[0], label = $("#ds-file-name");
    label.textContent = f ? f.name : t("ds.nofile");
    label.classList.toggle("file-name", !!f);
  };
  document.addEventListener("click", (e) => {
    const li = e.target.closest("#page-datasets li[data-name]");
    if (li) DS.select(li.dataset.name);
    const view = e.target.closest("[data-view]");
    if (view) { TRAIN.clickedAt = null; TRAIN.attach(Number(view.dataset.view)); TRAIN.refreshJobs(); }
  });
  TRAIN.wire(); AD.wire(); CHAT.wire(); DR.wire();
  await loadSchema();
  api("GET", "/api/health").then((h) => { DS.maxMb = h.max_upload_mb; uploadHint(); }).catch(() => {});
  api("GET", "/api/datasets").then(TRAIN.setDatasets).then(() => TRAIN.loadModels()).catch(() => {});
  TRAIN.refreshJobs();
  window.addEventListener("hashchange", route);
  route();
}

document.addEventListener("DOMContentLoaded", init);
