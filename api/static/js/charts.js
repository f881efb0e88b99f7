// Small inline-SVG charts: no framework, a few hundred bytes of DOM each, so they draw fast
// on a school Chromebook. Every chart carries a text alternative (<title>, <desc> and a data
// table) and tells its series apart by colour (the Okabe-Ito palette, safe for colour-blind
// readers), marker shape and dash pattern, so no one has to rely on colour alone.
import { el } from "./api.js";

const NS = "http://www.w3.org/2000/svg";
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#000000"];
const DASHES = ["", "6 3", "2 3", "8 3 2 3", "4 4", "1 2"];
let uid = 0;

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

function marker(shape, x, y, colour) {
  const r = 4.5;
  const paths = [
    null,
    `M${x - r},${y - r}h${2 * r}v${2 * r}h${-2 * r}z`,
    `M${x},${y - r - 1}l${r + 1},${2 * r + 1}h${-2 * r - 2}z`,
    `M${x},${y - r - 1}l${r + 1},${r + 1}l${-r - 1},${r + 1}l${-r - 1},${-r - 1}z`,
    `M${x},${y + r + 1}l${r + 1},${-2 * r - 1}h${-2 * r - 2}z`,
    `M${x - r},${y}h${2 * r}M${x},${y - r}v${2 * r}`,
  ];
  const i = shape % paths.length;
  if (i === 0) return svg("circle", { cx: x, cy: y, r, fill: colour });
  return svg("path", { d: paths[i], fill: i === 5 ? "none" : colour, stroke: colour, "stroke-width": i === 5 ? 2.5 : 1 });
}

export function pct(v) { return v === null || v === undefined ? "–" : `${Math.round(v * 100)}%`; }

function dataTable(caption, head, rows) {
  return el("table", { class: "data-table" },
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c, i) => (i === 0 ? el("th", { scope: "row" }, c) : el("td", {}, c)))))));
}

// A line chart of series over the x labels (values in [0, yMax], null for a gap).
export function lineChart({ id, title, summary, xLabels, series, yMax = 1, format = pct }) {
  const W = 640, H = 260, L = 56, R = 30, T = 14, B = 34;
  const tid = `chart-${++uid}`;
  const x = (i) => L + (xLabels.length < 2 ? (W - L - R) / 2 : (i * (W - L - R)) / (xLabels.length - 1));
  const y = (v) => T + (1 - v / yMax) * (H - T - B);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${tid}-t ${tid}-d`, class: "chart", "data-chart": id },
    svg("title", { id: `${tid}-t` }, title), svg("desc", { id: `${tid}-d` }, summary));
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    chart.append(svg("line", { x1: L, x2: W - R, y1: y(f * yMax), y2: y(f * yMax), class: "grid" }));
    chart.append(svg("text", { x: L - 6, y: y(f * yMax) + 4, "text-anchor": "end", class: "tick" }, format(f * yMax)));
  }
  xLabels.forEach((lab, i) => chart.append(svg("text", { x: x(i), y: H - 12, "text-anchor": "middle", class: "tick" }, lab)));
  series.forEach((s, k) => {
    const colour = PALETTE[k % PALETTE.length];
    let d = "";
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      d += `${d && s.values[i - 1] !== null && s.values[i - 1] !== undefined ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    });
    chart.append(svg("path", { d, fill: "none", stroke: colour, "stroke-width": 2.5, "stroke-dasharray": DASHES[k % DASHES.length] || null, "data-series": s.name }));
    s.values.forEach((v, i) => { if (v !== null && v !== undefined) chart.append(marker(k, x(i), y(v), colour)); });
  });
  const legend = el("ul", { class: "chart-legend", "aria-hidden": "true" },
    ...series.map((s, k) => {
      const key = svg("svg", { viewBox: "0 0 28 12", width: 28, height: 12 },
        svg("line", { x1: 0, x2: 28, y1: 6, y2: 6, stroke: PALETTE[k % PALETTE.length], "stroke-width": 2.5, "stroke-dasharray": DASHES[k % DASHES.length] || null }),
        marker(k, 14, 6, PALETTE[k % PALETTE.length]));
      return el("li", {}, key, ` ${s.name}`);
    }));
  const table = dataTable(`${title}: data`, ["Series", ...xLabels], series.map((s) => [s.name, ...s.values.map(format)]));
  return el("figure", { class: "chart-figure", id },
    chart, legend, el("details", {}, el("summary", {}, "Show the data as a table"), table));
}

// Vertical bars, one per x label, with the value printed on each bar.
export function barChart({ id, title, summary, xLabels, values, format = (v) => String(v), colour = PALETTE[0] }) {
  const W = 640, H = 200, L = 12, R = 12, T = 18, B = 30;
  const tid = `chart-${++uid}`;
  const max = Math.max(1e-9, ...values.filter((v) => v !== null));
  const bw = (W - L - R) / Math.max(1, values.length);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${tid}-t ${tid}-d`, class: "chart", "data-chart": id },
    svg("title", { id: `${tid}-t` }, title), svg("desc", { id: `${tid}-d` }, summary));
  values.forEach((v, i) => {
    const h = v ? (v / max) * (H - T - B) : 0;
    const cx = L + i * bw + bw / 2;
    chart.append(svg("rect", { x: cx - bw * 0.3, width: bw * 0.6, y: H - B - h, height: h, fill: colour }));
    chart.append(svg("text", { x: cx, y: H - B - h - 4, "text-anchor": "middle", class: "tick" }, v === null ? "–" : format(v)));
    chart.append(svg("text", { x: cx, y: H - 10, "text-anchor": "middle", class: "tick" }, xLabels[i]));
  });
  const table = dataTable(`${title}: data`, ["Week", "Value"], xLabels.map((lab, i) => [lab, values[i] === null ? "–" : format(values[i])]));
  return el("figure", { class: "chart-figure", id }, chart, el("details", {}, el("summary", {}, "Show the data as a table"), table));
}

export { dataTable };
