/* Charts as inline SVG, drawn here (no library): a monthly line chart with detected shifts marked,
   keyboard-focusable points, and a text alternative (the values) for screen readers. */
"use strict";
(function () {
  const { el, svg } = window.Parley;
  const W = 340, H = 170, L = 44, R = 12, T = 18, B = 26;

  function nice(max) {
    if (max <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(max)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
    return 10 * p;
  }

  /** points: [{month, value|null}], shifts: [{month, direction, method, statistic}], unit: "rate"|"number"|"seconds" */
  function lineChart({ title, points, shifts = [], unit = "number", onSelect }) {
    const values = points.map((p) => p.value).filter((v) => v !== null && v !== undefined && isFinite(v));
    const top = unit === "rate" ? 1 : nice(Math.max(1, ...values));
    const x = (i) => L + (points.length <= 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (points.length - 1));
    const y = (v) => T + (H - T - B) * (1 - v / top);
    const fmt = (v) => (v === null || v === undefined ? "no data" : unit === "rate" ? `${Math.round(v * 100)}%` :
      unit === "seconds" ? (v >= 7200 ? `${Math.round(v / 360) / 10} h` : `${Math.round(v / 60)} min`) : (Math.round(v * 10) / 10).toString());
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}: monthly values` });
    for (const f of [0, 0.5, 1]) {
      chart.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(top * f), y2: y(top * f) }),
        svg("text", { x: L - 4, y: y(top * f) + 3, "text-anchor": "end" }, fmt(top * f)));
    }
    chart.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    let d = "", pen = false;
    points.forEach((p, i) => {
      if (p.value === null || p.value === undefined || !isFinite(p.value)) { pen = false; return; }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)} `; pen = true;
    });
    chart.append(svg("path", { class: "line", d: d.trim() || "M0,0" }));
    const step = Math.max(1, Math.ceil(points.length / 6));
    points.forEach((p, i) => {
      if (i % step === 0 || i === points.length - 1) chart.append(svg("text", { x: x(i), y: H - 8, "text-anchor": "middle" }, p.month.slice(2)));
    });
    const byMonth = new Map();
    for (const s of shifts) byMonth.set(s.month, (byMonth.get(s.month) || []).concat(s));
    points.forEach((p, i) => {
      const found = byMonth.get(p.month);
      if (found) {
        const dir = found[0].direction;
        chart.append(svg("line", { class: "shift-line", x1: x(i), x2: x(i), y1: T, y2: H - B }),
          svg("path", { class: `shift-${dir}`, d: dir === "up" ? `M${x(i) - 5},${T - 2} L${x(i) + 5},${T - 2} L${x(i)},${T - 10} Z` : `M${x(i) - 5},${T - 10} L${x(i) + 5},${T - 10} L${x(i)},${T - 2} Z` },
            svg("title", {}, found.map((s) => `${s.method} shift ${s.direction} in ${s.month}`).join("; "))));
      }
      if (p.value === null || p.value === undefined || !isFinite(p.value)) return;
      const dot = svg("circle", { class: "pt", cx: x(i), cy: y(p.value), r: 4, tabindex: "0", role: "button",
        "aria-label": `${p.month}: ${fmt(p.value)}${found ? ", shift detected" : ""}`, "data-month": p.month },
        svg("title", {}, `${p.month}: ${fmt(p.value)}`));
      if (onSelect) {
        dot.addEventListener("click", () => onSelect(p));
        dot.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); onSelect(p); } });
      }
      chart.append(dot);
    });
    const table = el("table", { class: "sr-only" }, el("caption", { text: title }),
      el("tbody", {}, points.map((p) => el("tr", {}, el("th", { scope: "row", text: p.month }), el("td", { text: fmt(p.value) })))));
    const last = [...points].reverse().find((p) => p.value !== null && p.value !== undefined);
    return el("figure", { class: "chart", dataset: { metric: title } }, el("h3", {}, title, last ? el("span", { class: "muted", text: ` — ${last.month}: ${fmt(last.value)}` }) : null),
      chart, shifts.length ? el("p", { class: "help", text: `${shifts.length} shift(s) detected` }) : null, table);
  }

  window.ParleyCharts = { lineChart };
})();
