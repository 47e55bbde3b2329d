// Training curves on uPlot (static/vendor/uPlot.iife.min.js, MIT, vendored: no CDN).
//   const c = new StudioChart(el, {series: [{key: "loss", label: () => t("chart.loss"), color: "#2563eb"}]});
//   c.push(step, {loss: 1.2});   c.mark(step);   c.reset();
// Points are appended to arrays and drawn once per animation frame, so a long curve replayed
// row by row costs one draw per frame, not one per point. The chart follows its container's
// width (a chart built while its tab was hidden gets its size when shown).
"use strict";

class StudioChart {
  constructor(el, opts) {
    this.el = el;
    this.opts = Object.assign({ height: 190, yMin0: false, smooth: null }, opts);
    this.series = this.opts.series;
    this.marks = [];
    this.pending = false;
    this.reset(true);
    this.build();
    this.observer = new ResizeObserver(() => this.fit());
    this.observer.observe(el);
  }

  reset(quiet) {
    this.xs = [];
    this.ys = Object.fromEntries(this.series.map((s) => [s.key, []]));
    this.ema = null; this.emaWeight = 0; this.marks = [];
    if (!quiet) this.schedule();
  }

  build() {
    if (this.plot) this.plot.destroy();
    this.el.innerHTML = "";
    const self = this;
    const yRange = this.opts.yMin0 ? (u, min, max) => [0, max > 0 ? max * 1.08 : 1] : undefined;
    this.plot = new uPlot({
      width: Math.max(this.el.clientWidth, 200), height: this.opts.height,
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      legend: { live: false },  // the labels; values show in the tooltip
      scales: { x: { time: false }, y: yRange ? { range: yRange } : { auto: true } },
      axes: [
        { space: 44, incrs: [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000],
          values: (u, splits) => self.xLabels(splits), stroke: "#6b7280", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e5e7eb" } },
        { values: (u, splits) => self.yLabels(splits), size: 56, stroke: "#6b7280", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e5e7eb" } },
      ],
      series: [{ label: t("chart.step"), value: (u, v) => (v === null || v === undefined ? "—" : String(Math.round(v))) }].concat(this.series.map((s) => ({
        label: s.label(), stroke: s.color, width: s.width || 2, dash: s.dash, spanGaps: true,
        points: { show: !!s.points, size: 6, fill: s.color },
        value: (u, v) => (v === null || v === undefined ? "—" : fmtValue(v)),
      }))),
      hooks: { draw: [(u) => self.drawMarks(u)], setCursor: [(u) => self.tooltip(u)] },
    }, this.data(), this.el);
    this.tip = document.createElement("div");
    this.tip.className = "chart-tip";
    this.tip.hidden = true;
    this.plot.over.appendChild(this.tip);
    this.plot.over.addEventListener("mouseleave", () => { this.tip.hidden = true; });
    this.record();
  }

  // Step numbers as they are: 100 stays "100" (no trailing zeros cut), and the labels drawn are
  // kept on the element for the browser tests.
  xLabels(splits) {
    const labels = splits.map((v) => String(Math.round(v)));
    this.el.dataset.xticks = labels.join(",");
    return labels;
  }

  yLabels(splits) {
    const labels = splits.map((v) => fmtValue(v));
    this.el.dataset.yticks = labels.join(",");
    return labels;
  }

  data() { return [this.xs].concat(this.series.map((s) => this.ys[s.key])); }

  // One point per step: values of series not given stay empty at that step (drawn across).
  push(x, values) {
    if (!this.xs.length || x > this.xs[this.xs.length - 1]) {
      this.xs.push(x);
      this.series.forEach((s) => this.ys[s.key].push(null));
    }
    let i = this.xs.length - 1;
    if (x < this.xs[i]) { i = this.xs.indexOf(x); if (i < 0) return; }  // an eval row for an earlier step
    for (const [k, v] of Object.entries(values)) {
      if (this.ys[k] && v !== null && v !== undefined && isFinite(v)) this.ys[k][i] = v;
    }
    const sm = this.opts.smooth;
    if (sm && values[sm.from] !== undefined && isFinite(values[sm.from])) {
      // exponential moving average, corrected for its start (as TensorBoard draws it)
      this.ema = (this.ema === null ? 0 : this.ema) * sm.weight + (1 - sm.weight) * values[sm.from];
      this.emaWeight = this.emaWeight * sm.weight + (1 - sm.weight);
      this.ys[sm.key][i] = this.ema / this.emaWeight;
    }
    this.schedule();
  }

  mark(x) { if (!this.marks.includes(x)) { this.marks.push(x); this.schedule(); } }

  count() { return this.xs.length; }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    const flush = () => { this.pending = false; this.plot.setData(this.data()); this.record(); };
    // a hidden tab gets no animation frames: draw anyway after a moment
    if (document.hidden) setTimeout(flush, 50); else requestAnimationFrame(flush);
  }

  record() {
    this.el.dataset.points = String(this.xs.length);
    this.el.dataset.marks = String(this.marks.length);
    this.el.dataset.counts = this.series.map((s) => `${s.key}:${this.ys[s.key].filter((v) => v !== null).length}`).join(",");
  }

  fit() {
    const w = this.el.clientWidth;
    if (w > 0 && Math.abs(w - this.plot.width) > 1) this.plot.setSize({ width: w, height: this.opts.height });
  }

  // Checkpoints: a dashed vertical line at each saved step.
  drawMarks(u) {
    if (!this.marks.length) return;
    const ctx = u.ctx, top = u.bbox.top, bottom = u.bbox.top + u.bbox.height;
    ctx.save();
    ctx.strokeStyle = "#9ca3af"; ctx.setLineDash([4, 4]); ctx.lineWidth = 1 * devicePixelRatio;
    for (const m of this.marks) {
      const x = Math.round(u.valToPos(m, "x", true));
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
    }
    ctx.restore();
  }

  tooltip(u) {
    const i = u.cursor.idx;
    if (i === null || i === undefined || u.cursor.left < 0) { this.tip.hidden = true; return; }
    const rows = this.series.map((s, k) => {
      const v = u.data[k + 1][i];
      return v === null || v === undefined ? "" : `<div><span style="color:${s.color}">■</span> ${esc(s.label())}: ${esc(fmtValue(v))}</div>`;
    }).join("");
    this.tip.innerHTML = `<b>${esc(t("chart.step"))} ${Math.round(u.data[0][i])}</b>${rows}` +
      (this.marks.includes(u.data[0][i]) ? `<div class="hint">${esc(t("chart.checkpoint"))}</div>` : "");
    this.tip.hidden = false;
    const left = u.cursor.left + 12, w = this.tip.offsetWidth;
    this.tip.style.left = (left + w > u.over.clientWidth ? u.cursor.left - w - 12 : left) + "px";
    this.tip.style.top = Math.max(0, u.cursor.top - 10) + "px";
  }

  // A language switch: the labels change, the points stay.
  relabel() { this.build(); }
}
