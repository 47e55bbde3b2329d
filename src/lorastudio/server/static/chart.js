// A small hand-rolled SVG line chart: no library, no build step.
//   const c = new LineChart(el, [{key: "loss", label: () => t("chart.loss"), color: "#2563eb"}]);
//   c.setPoints("loss", [[step, value], ...]);
"use strict";

class LineChart {
  constructor(el, series, opts) {
    this.el = el;
    this.series = series;
    this.opts = Object.assign({ height: 170, log: false, title: () => "" }, opts || {});
    this.points = {};
    series.forEach((s) => { this.points[s.key] = []; });
    this.render();
  }

  clear() { Object.keys(this.points).forEach((k) => { this.points[k] = []; }); this.render(); }

  add(key, x, y) {
    if (y === null || y === undefined || !isFinite(y)) return;
    this.points[key].push([x, y]);
    this.render();
  }

  count() { return Object.values(this.points).reduce((n, p) => n + p.length, 0); }

  static fmt(v) {
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1000) return Math.round(v).toLocaleString();
    if (a >= 1) return v.toFixed(a >= 100 ? 0 : 3).replace(/\.?0+$/, "");
    if (a >= 0.001) return v.toPrecision(3);
    return v.toExponential(1);
  }

  render() {
    const W = this.el.clientWidth || 420, H = this.opts.height, L = 52, R = 10, T = 22, B = 22;
    const all = Object.values(this.points).flat();
    const ns = "http://www.w3.org/2000/svg";
    const legend = this.series.map((s) => {
      const last = this.points[s.key].at(-1);
      return `<tspan fill="${s.color}">■</tspan> ${s.label()}${last ? ": " + LineChart.fmt(last[1]) : ""}`;
    }).join("   ");
    let svg = `<svg xmlns="${ns}" width="${W}" height="${H}" class="chart-svg" role="img">` +
      `<text x="${L}" y="14" class="chart-legend">${legend}</text>`;
    if (all.length) {
      let x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]));
      let y0 = Math.min(...all.map((p) => p[1])), y1 = Math.max(...all.map((p) => p[1]));
      if (x1 === x0) { x1 = x0 + 1; }
      if (y1 === y0) { const d = Math.abs(y0) * 0.05 || 1; y0 -= d; y1 += d; }
      const pad = (y1 - y0) * 0.06; y0 -= pad; y1 += pad;
      const sx = (x) => L + (x - x0) / (x1 - x0) * (W - L - R);
      const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
      for (let i = 0; i <= 3; i++) {
        const v = y0 + (y1 - y0) * i / 3, y = sy(v);
        svg += `<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" class="chart-grid"/>` +
          `<text x="${L - 4}" y="${y + 4}" class="chart-tick" text-anchor="end">${LineChart.fmt(v)}</text>`;
      }
      svg += `<text x="${L}" y="${H - 5}" class="chart-tick">${LineChart.fmt(x0)}</text>` +
        `<text x="${W - R}" y="${H - 5}" class="chart-tick" text-anchor="end">${LineChart.fmt(x1)}</text>`;
      for (const s of this.series) {
        const pts = this.points[s.key];
        if (!pts.length) continue;
        const d = pts.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
        svg += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`;
        if (pts.length < 40 || s.dots) pts.forEach((p) => { svg += `<circle cx="${sx(p[0])}" cy="${sy(p[1])}" r="2.5" fill="${s.color}"/>`; });
      }
    } else {
      svg += `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="chart-tick">—</text>`;
    }
    this.el.innerHTML = svg + "</svg>";
    this.el.dataset.points = String(all.length);
  }
}
