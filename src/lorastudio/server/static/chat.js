// The chat page: an adapter and the base side by side on the same prompt (one model in memory,
// the adapter switched off and on), and the run's held-out probes in one click.
"use strict";

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
  $("#col-adapter-title").innerHTML = name === "base" ? esc(t("ch.col.base")) : `${esc(t("ch.col.adapter"))} <span class="file-name">${esc(name)}</span>`;
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
  const body = document.createElement("span"); body.className = "body user-text"; body.textContent = text;
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
  if (!answer) { out.textContent = t("ch.empty"); out.classList.remove("user-text"); out.classList.add("hint"); }
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
        $("#probes-rows").insertAdjacentHTML("beforeend", `<tr><td>${r.index + 1}</td><td class="text user-text">${esc(r.prompt)}</td>
          <td class="text"><span class="user-text">${esc(r.base)}</span>${mark(r.base_hit)}</td><td class="text"><span class="user-text">${esc(r.adapter)}</span>${mark(r.adapter_hit)}</td></tr>`);
      } else if (name === "done") {
        $("#probes-state").textContent = t("ch.probes.summary", { b: tally.b, a: tally.a, n: tally.facts, mb: tally.mb, ma: tally.ma });
      }
    });
  } catch (e) { $("#probes-card").hidden = true; showError("#ch-error", e); }
};

CHAT.wire = function () {
  $("#ch-send").onclick = CHAT.send;
  $("#ch-clear").onclick = CHAT.clear;
  $("#ch-probes").onclick = CHAT.probes;
  $("#ch-adapter").onchange = CHAT.titles;
  $("#ch-compare").onchange = CHAT.titles;
  $("#ch-prompt").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) CHAT.send(); });
};
