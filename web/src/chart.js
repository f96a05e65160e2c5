// The throughput chart: started and completed instances per bucket as grouped SVG bars with
// axes and labels; the series differ by fill pattern as well as colour. Its table (the same
// numbers, for screen readers and readers without colour) is throughputTable().
import { count, el, shortTime, svg } from "./format.js";

const WIDTH = 760;
const HEIGHT = 260;
const MARGIN = { top: 14, right: 36, bottom: 46, left: 52 };
export const SERIES = [
  { key: "started", label: "Started", fill: "url(#lg-fill-started)" },
  { key: "completed", label: "Completed", fill: "url(#lg-fill-completed)" },
];

// A round step giving about `ticks` ticks up to max.
function niceStep(max, ticks) {
  const raw = Math.max(max, 1) / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return Math.max(1, step);
}

function patterns() {
  return svg(
    "defs",
    {},
    svg(
      "pattern",
      { id: "lg-fill-started", width: 6, height: 6, patternUnits: "userSpaceOnUse" },
      svg("rect", { width: 6, height: 6, class: "lg-fill-started" }),
    ),
    svg(
      "pattern",
      {
        id: "lg-fill-completed",
        width: 6,
        height: 6,
        patternUnits: "userSpaceOnUse",
        patternTransform: "rotate(45)",
      },
      svg("rect", { width: 6, height: 6, class: "lg-fill-completed" }),
      svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, class: "lg-hatch" }),
    ),
  );
}

// The chart of report.throughput as an <svg>.
export function throughputChart(throughput, bucketLabel) {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const max = Math.max(0, ...throughput.flatMap((b) => SERIES.map((s) => b[s.key] || 0)));
  const step = niceStep(max, 4);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const y = (v) => MARGIN.top + plotH - (v / top) * plotH;
  const slot = plotW / Math.max(1, throughput.length);
  const barW = Math.max(1, (slot * 0.8) / SERIES.length);
  const totals = SERIES.map((s) => `${throughput.reduce((n, b) => n + (b[s.key] || 0), 0)} ${s.label.toLowerCase()}`);
  const chart = svg(
    "svg",
    {
      class: "lg-chart-svg",
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: "img",
      "aria-labelledby": "throughput-svg-title throughput-svg-desc",
    },
    svg("title", { id: "throughput-svg-title" }, `Instances started and completed per ${bucketLabel}`),
    svg(
      "desc",
      { id: "throughput-svg-desc" },
      `${throughput.length} buckets; in all ${totals.join(", ")}. The table below has the numbers.`,
    ),
    patterns(),
  );
  const axis = svg("g", { class: "lg-axis" });
  for (let v = 0; v <= top; v += step) {
    axis.append(
      svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(v), y2: y(v), class: "lg-grid" }),
      svg("text", { x: MARGIN.left - 6, y: y(v) + 4, "text-anchor": "end" }, count(v)),
    );
  }
  axis.append(
    svg("line", { x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: y(0), class: "lg-axis-line" }),
    svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(0), y2: y(0), class: "lg-axis-line" }),
    svg(
      "text",
      { x: 12, y: MARGIN.top + plotH / 2, transform: `rotate(-90 12 ${MARGIN.top + plotH / 2})`, "text-anchor": "middle" },
      "Instances",
    ),
  );
  const labelEvery = Math.max(1, Math.ceil(throughput.length / 8));
  const bars = svg("g", { class: "lg-bars" });
  throughput.forEach((bucket, i) => {
    const x0 = MARGIN.left + i * slot + slot * 0.1;
    SERIES.forEach((series, j) => {
      const value = bucket[series.key] || 0;
      bars.append(
        svg(
          "rect",
          {
            class: `lg-bar lg-bar-${series.key}`,
            "data-series": series.key,
            "data-start": bucket.start,
            "data-value": value,
            x: (x0 + j * barW).toFixed(2),
            y: y(value).toFixed(2),
            width: Math.max(0.5, barW - 1).toFixed(2),
            height: (y(0) - y(value)).toFixed(2),
            fill: series.fill,
          },
          svg("title", {}, `${shortTime(bucket.start)}: ${value} ${series.label.toLowerCase()}`),
        ),
      );
    });
    if (i % labelEvery === 0) {
      axis.append(
        svg("text", { x: x0, y: y(0) + 16, class: "lg-tick", "text-anchor": "middle" }, shortTime(bucket.start)),
        svg("line", { x1: x0, x2: x0, y1: y(0), y2: y(0) + 4, class: "lg-axis-line" }),
      );
    }
  });
  axis.append(
    svg("text", { x: MARGIN.left + plotW / 2, y: HEIGHT - 6, "text-anchor": "middle" }, `Bucket start (UTC), one per ${bucketLabel}`),
  );
  chart.append(axis, bars);
  return chart;
}

// The chart's legend: each series' swatch drawn with its pattern, and its name.
export function throughputLegend() {
  return el(
    "p",
    { class: "lg-legend" },
    SERIES.map((s) => [
      svg(
        "svg",
        { width: 18, height: 12, "aria-hidden": "true", class: "lg-swatch" },
        patterns(),
        svg("rect", { width: 18, height: 12, fill: s.fill, stroke: "currentColor" }),
      ),
      el("span", {}, s.label),
    ]),
  );
}

// The chart's numbers as a <table>.
export function throughputTable(throughput) {
  const columns = ["started", "completed", "terminated", "incidents"];
  return el(
    "table",
    { class: "lg-table", id: "throughput-rows" },
    el("caption", { class: "lg-visually-hidden" }, "Instances per bucket"),
    el(
      "thead",
      {},
      el("tr", {}, el("th", { scope: "col" }, "Bucket start (UTC)"), columns.map((c) => el("th", { scope: "col", class: "lg-num" }, c[0].toUpperCase() + c.slice(1)))),
    ),
    el(
      "tbody",
      {},
      throughput.map((bucket) =>
        el(
          "tr",
          { "data-start": bucket.start },
          el("th", { scope: "row" }, el("time", { datetime: bucket.start }, shortTime(bucket.start))),
          columns.map((c) => el("td", { class: "lg-num", "data-column": c }, count(bucket[c] || 0))),
        ),
      ),
    ),
  );
}
