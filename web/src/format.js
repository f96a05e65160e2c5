// Building DOM and SVG nodes and formatting the dashboard's numbers as text.

const SVG_NS = "http://www.w3.org/2000/svg";

// An HTML element: el("td", { class: "lg-num", "data-value": 3 }, "3", child, ...).
export function el(tag, attributes = {}, ...children) {
  return build(document.createElement(tag), attributes, children);
}

// An SVG element, as el().
export function svg(tag, attributes = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attributes, children);
}

function build(node, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const UNITS = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["min", 60_000],
  ["s", 1000],
];

// Milliseconds as "850 ms", "2.3 s", "4 min 5 s", "2 h 3 min", "1 d 2 h"; "–" for none.
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  for (let i = 0; i < UNITS.length - 1; i += 1) {
    const [unit, size] = UNITS[i];
    if (ms >= size) {
      const [next, nextSize] = UNITS[i + 1];
      const whole = Math.floor(ms / size);
      const rest = Math.floor((ms - whole * size) / nextSize);
      return rest ? `${whole} ${unit} ${rest} ${next}` : `${whole} ${unit}`;
    }
  }
  return `${Math.round(ms / 1000)} s`;
}

// A fraction as "12.5 %" (one decimal below 10 %, none above).
export function percent(fraction) {
  if (fraction === null || fraction === undefined || Number.isNaN(fraction)) return "–";
  const value = fraction * 100;
  if (value > 0 && value < 0.1) return "< 0.1 %";
  return `${value < 10 && value !== 0 ? value.toFixed(1) : Math.round(value)} %`;
}

// A count with thousands separators.
export function count(n) {
  return n === null || n === undefined ? "–" : Number(n).toLocaleString("en");
}

// An ISO time as "12-07 15:00" (UTC, as the dashboard's window is given).
export function shortTime(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return String(iso);
  return when.toISOString().slice(5, 16).replace("T", " ");
}
