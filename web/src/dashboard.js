// A process dashboard: <div class="lg-dashboard" data-report-url data-compare-url> holding
// #figures, #throughput-chart, #throughput-table, #heatmap (data-xml-url), #heat-legend,
// #slowest, #compare-form and #comparison (see templates/dashboard.html). The report and the
// comparison are the JSON of the analytics endpoints.
import { throughputChart, throughputLegend, throughputTable } from "./chart.js";
import { loadDiagram } from "./diagram.js";
import { fetchJson, showProblem } from "./fetching.js";
import { count, duration, el, percent } from "./format.js";

const HEAT_LEVELS = 5;
const PERCENTILES = [
  ["p50Ms", "p50 (median)"],
  ["p90Ms", "p90"],
  ["p95Ms", "p95"],
  ["p99Ms", "p99"],
  ["meanMs", "mean"],
  ["maxMs", "longest"],
];

function figure(key, label, value, text) {
  return el("div", { "data-figure": key, "data-value": value }, el("dt", {}, label), el("dd", {}, text));
}

// A cycle time, or "–" when no instance ended (the report's figures are 0 then).
function cycleTime(cycle, key) {
  return cycle && cycle.count ? duration(cycle[key]) : "–";
}

function figures(report) {
  const cycle = report.cycleTime || {};
  const errors = report.errorRate || {};
  return [
    figure("count", "Instances ended", cycle.count, count(cycle.count)),
    ...PERCENTILES.map(([key, label]) => figure(key, `Cycle time ${label}`, cycle[key], cycleTime(cycle, key))),
    figure(
      "rate",
      "Error rate",
      errors.rate,
      `${percent(errors.rate)} (${count(errors.withIncidents)} of ${count(errors.instances)} with an incident)`,
    ),
    figure("incidentsOpen", "Open incidents", errors.incidentsOpen, count(errors.incidentsOpen)),
  ];
}

// How hot an element is, 0..1: its share of cycle time against the largest share (its run
// count against the largest when no element took time).
function heatOf(elements) {
  const maxShare = Math.max(0, ...elements.map((e) => e.share || 0));
  const maxCount = Math.max(0, ...elements.map((e) => e.count || 0));
  return (e) => (maxShare > 0 ? (e.share || 0) / maxShare : maxCount > 0 ? (e.count || 0) / maxCount : 0);
}

function level(heat) {
  return Math.min(HEAT_LEVELS - 1, Math.floor(heat * HEAT_LEVELS));
}

function heatBar(heat) {
  return el("span", { class: "lg-heat-bar", "aria-hidden": "true" }, el("span", { style: `width:${Math.round(heat * 100)}%` }));
}

function nameOf(registry, id) {
  const shape = registry && registry.get(id);
  const name = shape && shape.businessObject && shape.businessObject.name;
  return name || id;
}

async function drawHeatmap(container, legend, elements) {
  const viewer = await loadDiagram(container);
  if (!viewer) return null;
  const registry = viewer.get("elementRegistry");
  const canvas = viewer.get("canvas");
  const overlays = viewer.get("overlays");
  const heat = heatOf(elements);
  elements.forEach((e, i) => {
    if (!registry.get(e.elementId)) return;
    const h = heat(e);
    canvas.addMarker(e.elementId, `lg-heat-${level(h)}`);
    const label = `#${i + 1}: ${e.count} runs, mean ${duration(e.meanMs)}, ${percent(e.share)} of cycle time`;
    const box = el(
      "div",
      {
        class: `lg-heat lg-heat-box-${level(h)}`,
        "data-element-id": e.elementId,
        "data-rank": i + 1,
        "data-count": e.count,
        "data-mean-ms": e.meanMs,
        title: label,
      },
      el("span", { class: "lg-heat-rank" }, `#${i + 1}`),
      el("span", { class: "lg-heat-count" }, `${count(e.count)}×`),
      el("span", { class: "lg-heat-mean" }, duration(e.meanMs)),
      heatBar(h),
    );
    overlays.add(e.elementId, "lg-heat", { position: { bottom: 14, left: -8 }, html: box });
  });
  legend.replaceChildren(
    el("span", {}, "Cooler"),
    ...Array.from({ length: HEAT_LEVELS }, (_, i) =>
      el("span", { class: `lg-heat-swatch lg-heat-box-${i}`, title: `level ${i + 1} of ${HEAT_LEVELS}` }, heatBar((i + 1) / HEAT_LEVELS)),
    ),
    el("span", {}, "hotter (share of cycle time: colour and bar length)."),
    el("span", {}, "#n rank, n× runs, then the mean duration."),
  );
  container.lgViewer = viewer;
  return registry;
}

function slowestTable(elements, registry) {
  const heat = heatOf(elements);
  const head = ["Rank", "Element", "Type", "Runs", "Active", "Mean", "p95", "Total", "Share of cycle time", "Incidents"];
  return el(
    "table",
    { class: "lg-table", id: "slowest-rows" },
    el("caption", { class: "lg-visually-hidden" }, "Elements ranked by their share of cycle time"),
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
    el(
      "tbody",
      {},
      elements.map((e, i) =>
        el(
          "tr",
          { "data-element-id": e.elementId },
          el("td", { class: "lg-num", "data-column": "rank" }, i + 1),
          el("th", { scope: "row" }, nameOf(registry, e.elementId), nameOf(registry, e.elementId) !== e.elementId ? el("div", { class: "lg-muted" }, e.elementId) : null),
          el("td", {}, e.elementType),
          el("td", { class: "lg-num", "data-column": "count" }, count(e.count)),
          el("td", { class: "lg-num", "data-column": "active" }, count(e.active)),
          el("td", { class: "lg-num", "data-column": "meanMs", "data-value": e.meanMs }, duration(e.meanMs)),
          el("td", { class: "lg-num", "data-column": "p95Ms", "data-value": e.p95Ms }, duration(e.p95Ms)),
          el("td", { class: "lg-num", "data-column": "totalMs", "data-value": e.totalMs }, duration(e.totalMs)),
          el("td", { class: "lg-share", "data-column": "share", "data-value": e.share }, heatBar(heat(e)), ` ${percent(e.share)}`),
          el("td", { class: "lg-num", "data-column": "incidents" }, count(e.incidents)),
        ),
      ),
    ),
  );
}

// "Version 2 is 23 % faster than version 1" from the comparison's cycleTimeChange (B
// against A, a fraction).
export function changeText(comparison) {
  const a = comparison.a.version;
  const b = comparison.b.version;
  const change = comparison.cycleTimeChange;
  if (change === null || change === undefined || Number.isNaN(change)) {
    return `Version ${a} and version ${b} cannot be compared: one of them has no ended instance in this window.`;
  }
  const amount = Math.round(Math.abs(change) * 100);
  if (amount === 0) return `Version ${b} is as fast as version ${a} (mean cycle time within 1 %).`;
  const way = change < 0 ? "faster" : "slower";
  return `Version ${b} is ${amount} % ${way} than version ${a} (mean cycle time).`;
}

function throughputTotal(side) {
  const total = side.throughputTotal;
  if (total && typeof total === "object") return total.started ?? total.completed ?? 0;
  return total;
}

function comparisonTable(comparison) {
  const rows = [
    ["Instances ended", (s) => count((s.cycleTime || {}).count)],
    ["Cycle time p50", (s) => cycleTime(s.cycleTime, "p50Ms")],
    ["Cycle time p95", (s) => cycleTime(s.cycleTime, "p95Ms")],
    ["Cycle time mean", (s) => cycleTime(s.cycleTime, "meanMs")],
    ["Error rate", (s) => percent((s.errorRate || {}).rate)],
    ["Open incidents", (s) => count((s.errorRate || {}).incidentsOpen)],
    ["Instances completed", (s) => count(throughputTotal(s))],
  ];
  return el(
    "table",
    { class: "lg-table lg-compare", id: "comparison-rows" },
    el(
      "thead",
      {},
      el("tr", {}, el("th", { scope: "col" }, "Figure"), el("th", { scope: "col" }, `Version ${comparison.a.version} (A)`), el("th", { scope: "col" }, `Version ${comparison.b.version} (B)`)),
    ),
    el(
      "tbody",
      {},
      rows.map(([label, of]) => el("tr", {}, el("th", { scope: "row" }, label), el("td", { "data-side": "a" }, of(comparison.a)), el("td", { "data-side": "b" }, of(comparison.b)))),
    ),
  );
}

async function compare(root) {
  const form = root.querySelector("#compare-form");
  const target = root.querySelector("#comparison");
  const a = form.elements.a.value;
  const b = form.elements.b.value;
  target.setAttribute("aria-busy", "true");
  try {
    const comparison = await fetchJson(`${root.dataset.compareUrl}&a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
    target.replaceChildren(el("p", { class: "lg-change", id: "comparison-text" }, changeText(comparison)), comparisonTable(comparison));
    target.dataset.lgShown = `${a},${b}`;
  } catch (error) {
    showProblem(target, `The comparison cannot be shown: ${error.message}`);
  } finally {
    target.removeAttribute("aria-busy");
  }
}

export async function initDashboard(root) {
  const loading = root.querySelector("[data-lg-loading]");
  let report;
  try {
    report = await fetchJson(root.dataset.reportUrl);
  } catch (error) {
    showProblem(loading || root, `The dashboard cannot be shown: ${error.message}`);
    return;
  }
  if (loading) loading.remove();
  root.lgReport = report;
  root.querySelector("#figures").replaceChildren(...figures(report));
  const bucket = root.querySelector("#throughput-title .lg-muted");
  const bucketLabel = bucket ? bucket.textContent.replace(/^per\s+/, "") : report.bucket;
  root.querySelector("#throughput-chart").replaceChildren(throughputChart(report.throughput, bucketLabel), throughputLegend());
  root.querySelector("#throughput-table").replaceChildren(throughputTable(report.throughput));
  const slowest = root.querySelector("#slowest");
  slowest.replaceChildren(slowestTable(report.elements, null));
  const registry = await drawHeatmap(root.querySelector("#heatmap"), root.querySelector("#heat-legend"), report.elements);
  if (registry) slowest.replaceChildren(slowestTable(report.elements, registry));
  const form = root.querySelector("#compare-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    compare(root);
  });
  await compare(root);
  root.dataset.lgDrawn = "true";
}
