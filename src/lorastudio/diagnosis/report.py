"""The doctor's readable report: verdict and the numbers it rests on, findings with evidence
and fix, the effect numbers, and base and adapter answers side by side.

Both renderers take `DoctorReport.to_dict()` (or doctor.json read back), so a report can be
re-rendered from the file alone.
"""

from __future__ import annotations

HEADLINE = {
    "learned": "learned: the adapter measurably changes the model",
    "not_learned": "not learned: the adapter does not do what it was trained for",
    "inconclusive": "inconclusive: the numbers do not settle it",
}


def headline(data: dict) -> str:
    """The verdict in words; an adapter blocked only by collapsed answers did change the model."""
    codes = {b.get("code") for b in data.get("basis", []) if b.get("name") == "finding"}
    if data["verdict"] == "not_learned" and codes == {"ANSWERS_COLLAPSED"}:
        return "not useful: the adapter changed the model, but gives (nearly) the same answer to every prompt"
    return HEADLINE.get(data["verdict"], data["verdict"])


def _num(v, digits: int = 4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def _pct(v) -> str:
    return "n/a" if not isinstance(v, (int, float)) else f"{100 * v:.0f}%"


def _lower(drop) -> str:
    """A relative drop as words: '17% lower', '3% higher'."""
    if not isinstance(drop, (int, float)):
        return "n/a"
    return f"{_pct(drop)} lower" if drop >= 0 else f"{_pct(-drop)} higher"


def _cell(text: str, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("|", "\\|") or "(empty)"


def _basis_lines(data: dict) -> list[str]:
    lines = []
    for b in data.get("basis", []):
        if b["name"] == "finding":
            lines.append(f"- finding **{b['code']}**: {b['what']}")
        elif "threshold" in b:
            mark = "✓" if b["ok"] else "✗"
            lines.append(f"- {b['name']} = {_num(b['value'])} (needs ≥ {_num(b['threshold'])}) {mark}: {b['what']}")
        else:
            lines.append(f"- {b['name']}: {b['what']}")
    return lines


def _effect_rows(effect: dict) -> list[tuple[str, str, str]]:
    rows = []
    loss = effect.get("loss") or {}
    for key in ("train", "heldout"):
        x = loss.get(key)
        if x:
            of = f" of {x['of_samples']}: the drop was clear" if x.get("of_samples") else ""
            rows.append((f"mean token loss, {x['source']} ({x['samples']} samples{of})", _num(x["base"]),
                         f"{_num(x['adapter'])} ({_lower(x['drop'])})"))
    kl = effect.get("kl")
    if kl:
        rows.append((f"KL(base ‖ adapter), next token, {kl['probes']} probes", "",
                     f"mean {_num(kl['mean'])} nats, max {_num(kl['max'])}; same top token {_pct(kl['same_top_token'])}"))
    for key, label in (("markers", "answers with a style marker"), ("facts", "answers with an expected fact")):
        x = effect.get(key)
        if x:
            rows.append((f"{label} ({x['answers']} answers)", _pct(x["base_rate"]), _pct(x["adapter_rate"])))
    c = effect.get("content")
    if c:
        rows.append((f"chrF against the reference answers ({c['answers']} answers)", f"{c['base']:.1f}", f"{c['adapter']:.1f}"))
    r = effect.get("retention")
    if r and r.get("retention") is not None:
        rows.append((f"general probes answered right ({r['probes']} probes)", f"{r['base_right']}",
                     f"{r['adapter_right']} (retention {_pct(r['retention'])})"))
    return rows


def three_lines(effect: dict) -> list[str]:
    """voice, content, knowledge, retention in one line each: the numbers a user decides on."""
    three = effect.get("three") or {}
    v, k, r, c = three.get("voice"), three.get("knowledge"), three.get("retention"), three.get("content")
    ret = effect.get("retention") or {}
    if v:
        found = " (markers found in the training answers: " + ", ".join(v.get("markers") or []) + ")" if v.get("derived") else ""
        voice = f"base {_pct(v['base'])}, adapter {_pct(v['adapter'])}{found}"
    else:
        voice = f"n/a ({effect.get('markers_note') or 'no --markers'})"
    by_kind = ((effect.get("content") or {}).get("by_kind") or {})
    kinds = "; ".join(f"{kind}: {x['base']:.1f} → {x['adapter']:.1f}" for kind, x in by_kind.items())
    return [
        "- voice (answers with a marker): " + voice,
        "- content (chrF of held-out answers against the reference, 0-100): "
        + (f"base {c['base']:.1f}, adapter {c['adapter']:.1f} over {c['answers']}" + (f" ({kinds})" if kinds else "")
           if c else "n/a (no held-out prompt has a reference answer)"),
        "- knowledge (fact recall on held-out probes): "
        + (f"base {_pct(k['base'])}, adapter {_pct(k['adapter'])} of {k['answers']}" if k else "n/a (no probe has expect_any)"),
        "- retention (general answers right, adapter / base): "
        + (f"{_pct(r['retention'])} ({r['adapter_right']} / {r['base_right']} of {r['probes']})" if r
           else f"n/a ({ret.get('note') or 'no general probes'})"),
    ]


def _summary_lines(effect: dict) -> list[str]:
    lines = []
    w = effect.get("weights")
    if w:
        lines.append(f"- weights: {w['modules']} LoRA modules, ‖B‖ max {_num(w['b_norm_max'])}, "
                     f"‖ΔW‖/‖W‖ mean {_num(w['delta_rel_mean'])} max {_num(w['delta_rel_max'])}, "
                     f"{w['zero_b_modules']} with B = 0, file {w['file_bytes']} bytes")
    c = effect.get("curve") or {}
    if c.get("steps"):
        line = (f"- curve: {c['steps']} steps, loss {_num(c.get('first_window_mean'))} → {_num(c.get('last_window_mean'))} "
                f"(means of {c.get('window')}-step windows, {_lower(c.get('drop'))})")
        if c.get("best_eval") is not None:
            line += (f"; eval best {_num(c['best_eval'])} at step {c['best_eval_step']}, "
                     f"last {_num(c['last_eval'])} at step {c['last_eval_step']}")
        lines.append(line)
    elif c:
        lines.append("- curve: no optimizer step was recorded")
    s = effect.get("serving")
    if s:
        tmpl = s.get("template_sha256")
        same_tmpl = "unknown" if not tmpl else ("same as training" if tmpl == s.get("training_template_sha256") else "DIFFERENT from training")
        c = s.get("compared") or {}
        served = (f"served answers like the doctor's with the adapter {c.get('as_adapter', 0)}, without it "
                  f"{c.get('as_base', 0)}, neither {c.get('neither', 0)}, either {c.get('undecided', 0)}")
        same = (f"; {s['same_answers']}/{s['probes']} identical to the server's base" if s.get("same_answers") is not None
                else "; no base on this server (--server-base)")
        asked = (f"; {s['probes']} of {s['of_probes']} probes asked, the first settled it"
                 if s.get("of_probes", s["probes"]) > s["probes"] else "")
        lines.append(f"- serving ({s['target']}, adapter '{s['adapter']}'): {served}{same}{asked}, largest log-prob gap "
                     f"{_num(s['max_logprob_gap'])}; chat template {same_tmpl}")
        for note in ([s["note"]] if s.get("note") else []) + list(s.get("notes") or []):
            lines.append(f"  - {note}")
    p = effect.get("probes")
    if p:
        lines.append(f"- probes: {p['count']} from {p['source']}")
    leaks = effect.get("leaks")
    if leaks and leaks["leaking"]:
        lines.append(f"- leaks: {leaks['leaking']} of {leaks['probes']} probes in {leaks['source']} are training prompts "
                     f"({leaks['exact']} exact); held-out numbers measured on {leaks['measured_on']}")
    a = effect.get("answers") or {}
    if a.get("adapter") and a.get("base"):
        line = (f"- answers alike (pairs near-identical): base {_pct(a['base']['pair_share'])}, "
                f"adapter {_pct(a['adapter']['pair_share'])}")
        if a.get("training"):
            line += f", training answers {_pct(a['training']['pair_share'])}"
        lines.append(line)
    return lines


def render_markdown(data: dict) -> str:
    out = [f"# LoRA doctor: {headline(data)}", "", f"Run: `{data.get('run_dir', '')}`", "",
           "## Verdict", "", f"**{data['verdict']}** (exit code {data.get('exit_code')}), decided on:", ""]
    out += _basis_lines(data) or ["- (nothing measurable)"]
    out += ["", "## Findings", ""]
    if not data["findings"]:
        out += ["None.", ""]
    for f in data["findings"]:
        out.append(f"### [{f['severity']}] {f['code']} ({f.get('stage', '')})")
        out.append("")
        out.append(f["title"])
        if f.get("evidence"):
            out.append("")
            out.append("evidence: " + ", ".join(f"{k}={_num(v)}" for k, v in f["evidence"].items()))
        if f.get("fix"):
            out.append("")
            out.append(f"fix: {f['fix']}")
        out.append("")
    effect = data.get("effect") or {}
    rows = _effect_rows(effect)
    if effect.get("three"):
        out += ["## Voice, knowledge, retention", ""] + three_lines(effect) + [""]
    out += ["## Effect", ""]
    if rows:
        out += ["| measure | base | adapter |", "|---|---|---|"]
        out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
        out.append("")
    out += _summary_lines(effect)
    gens = effect.get("generations") or []
    if gens:
        out += ["", "## Side by side (greedy)", "", "| prompt | base | adapter |", "|---|---|---|"]
        out += [f"| {_cell(g['prompt'], 40)} | {_cell(g['base'])} | {_cell(g['adapter'])} |" for g in gens]
    if data.get("notes"):
        out += ["", "## Notes", ""] + [f"- {n}" for n in data["notes"]]
    return "\n".join(out) + "\n"


def render_text(data: dict) -> str:
    """A terminal version: the same content without tables."""
    out = [f"verdict: {headline(data)}"]
    out += ["  " + line[2:] for line in _basis_lines(data)]
    for f in data["findings"]:
        out.append(f"[{f['severity']}] {f['code']} ({f.get('stage', '')}): {f['title']}")
        if f.get("evidence"):
            out.append("    evidence: " + ", ".join(f"{k}={_num(v)}" for k, v in f["evidence"].items()))
        if f.get("fix"):
            out.append(f"    fix: {f['fix']}")
    effect = data.get("effect") or {}
    if effect.get("three"):
        out += [line[2:] for line in three_lines(effect)]
    for a, b, c in _effect_rows(effect):
        out.append(f"{a}: base {b or '-'} | adapter {c}")
    out += [line[2:] for line in _summary_lines(effect)]
    for g in effect.get("generations") or []:
        out += [f"> {_cell(g['prompt'], 60)}", f"    base:    {_cell(g['base'], 100)}", f"    adapter: {_cell(g['adapter'], 100)}"]
    out += [f"note: {n}" for n in data.get("notes") or []]
    return "\n".join(out) + "\n"


def format_report(report) -> str:
    """The terminal text of a `DoctorReport` (what `lorastudio doctor` prints without --json)."""
    return render_text(report.to_dict() if hasattr(report, "to_dict") else report)
