// Legato's web app bundle: htmx, the bpmn.io viewers and the form renderer, driven by data
// attributes so that templates carry no inline script. See legato/web/__init__.py.
import htmx from "htmx.org";
import DmnViewer from "dmn-js/lib/Viewer";
import { Form } from "@bpmn-io/form-js";
import { initDashboard } from "./dashboard.js";
import { loadDiagram } from "./diagram.js";
import { fetchJson, fetchText, showProblem } from "./fetching.js";
import "./app.css";

window.htmx = htmx;

const PENDING = "legato:pending-form";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

function splitIds(value) {
  return (value || "").split(",").map((id) => id.trim()).filter(Boolean);
}

// (a) BPMN viewer: <div class="lg-diagram" data-xml-url data-highlight data-path data-tokens
// data-incidents data-overlays-url>
async function initDiagram(element) {
  const viewer = await loadDiagram(element);
  if (!viewer) return;
  const registry = viewer.get("elementRegistry");
  const canvas = viewer.get("canvas");
  const mark = (ids, cls) => {
    for (const id of splitIds(ids)) if (registry.get(id)) canvas.addMarker(id, cls);
  };
  mark(element.dataset.highlight, "lg-highlight");
  mark(element.dataset.path, "lg-path");
  mark(element.dataset.tokens, "lg-token");
  mark(element.dataset.incidents, "lg-incident");
  if (element.dataset.overlaysUrl) {
    let counts;
    try {
      counts = await fetchJson(element.dataset.overlaysUrl);
    } catch (error) {
      return;
    }
    const overlays = viewer.get("overlays");
    for (const [id, count] of Object.entries(counts)) {
      if (!registry.get(id)) continue;
      const badges = document.createElement("div");
      badges.className = "lg-badges";
      for (const kind of ["active", "incidents", "completed"]) {
        const n = count[kind];
        if (!n) continue;
        const badge = document.createElement("span");
        badge.className = `lg-badge lg-badge-${kind}`;
        badge.title = `${n} ${kind}`;
        badge.textContent = String(n);
        badges.append(badge);
      }
      if (badges.childElementCount) {
        overlays.add(id, "lg-counts", { position: { bottom: 12, left: -6 }, html: badges });
      }
    }
  }
  element.lgViewer = viewer;
}

// (b) DMN viewer: <div class="lg-decision" data-xml-url data-decision>
async function initDecision(element) {
  const viewer = new DmnViewer({ container: element });
  try {
    await viewer.importXML(await fetchText(element.dataset.xmlUrl));
  } catch (error) {
    showProblem(element, `The decision cannot be shown: ${error.message}`);
    return;
  }
  const wanted = element.dataset.decision;
  const views = viewer.getViews();
  const view =
    views.find((v) => v.element.id === wanted && v.type !== "drd") ||
    views.find((v) => v.type !== "drd") ||
    views[0];
  if (view) await viewer.open(view);
  element.lgViewer = viewer;
}

function savePending(entry) {
  sessionStorage.setItem(PENDING, JSON.stringify({ ...entry, path: location.pathname + location.search }));
}

function takePending(kind, id) {
  const raw = sessionStorage.getItem(PENDING);
  if (!raw) return null;
  const entry = JSON.parse(raw);
  if (!entry.viaSignIn || entry.kind !== kind || entry.id !== id) return null;
  if (entry.path !== location.pathname + location.search) return null;
  sessionStorage.removeItem(PENDING);
  return entry;
}

function signIn() {
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}

function fieldIdsByKey(form) {
  const ids = {};
  for (const field of form.get("formFieldRegistry").getAll()) {
    if (field.key) ids[field.key] = field.id;
  }
  return ids;
}

// (c) Form renderer: <div class="lg-form" data-schema-url data-data-url data-submit-url>
async function initForm(element) {
  const id = element.id || element.dataset.submitUrl;
  let schema;
  let data = {};
  try {
    schema = await fetchJson(element.dataset.schemaUrl);
    if (element.dataset.dataUrl) data = await fetchJson(element.dataset.dataUrl);
  } catch (error) {
    showProblem(element, `The form cannot be shown: ${error.message}`);
    return;
  }
  const pending = takePending("lg-form", id);
  if (pending) data = { ...data, ...pending.data };
  const container = document.createElement("div");
  const message = document.createElement("div");
  message.className = "lg-form-message";
  message.setAttribute("role", "alert");
  element.replaceChildren(container, message);
  // No debounce: a value typed is in the form's data at once, so a submit right after typing
  // (before a blur flushes the debounced change) never sends, or validates, the old value.
  const form = new Form({ container, debounce: false });
  await form.importSchema(schema, data);
  element.lgForm = form;
  // Forms from the Modeler usually have no submit button of their own (the task list gives
  // one): add it unless the schema has one.
  const hasSubmit = (components) =>
    (components || []).some(
      (c) => (c.type === "button" && c.action !== "reset") || hasSubmit(c.components),
    );
  if (!hasSubmit(schema.components)) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "lg-form-submit";
    button.textContent = element.dataset.submitLabel || "Submit";
    button.addEventListener("click", () => form.submit());
    element.insertBefore(button, message);
  }
  form.on("submit", async (event) => {
    message.textContent = "";
    if (Object.keys(event.errors || {}).length) return;
    const response = await fetch(element.dataset.submitUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRF-Token": csrfToken(),
        "HX-Request": "true",
      },
      body: JSON.stringify(event.data),
    });
    if (response.status === 401) {
      savePending({ kind: "lg-form", id, data: event.data });
      signIn();
      return;
    }
    const target = response.headers.get("HX-Redirect") || response.headers.get("Location");
    if (response.ok) {
      if (target) location.assign(target);
      else message.textContent = "Saved.";
      return;
    }
    let problem = {};
    try {
      problem = await response.json();
    } catch (error) {
      problem = {};
    }
    const ids = fieldIdsByKey(form);
    const errors = {};
    const unplaced = [];
    for (const error of problem.errors || []) {
      const fieldId = ids[error.field];
      if (fieldId) (errors[fieldId] = errors[fieldId] || []).push(error.message);
      else unplaced.push(`${error.field}: ${error.message}`);
    }
    form._setState({ errors });
    const text = unplaced.length ? unplaced.join("; ") : problem.detail || `${response.status}`;
    message.textContent = Object.keys(errors).length && !unplaced.length ? "Please correct the marked fields." : text;
    message.className = "lg-form-message lg-error-text";
  });
}

// Form input survives a lost session: every posted form is kept in sessionStorage until the
// page after it loads; the sign-in page marks it, and the same page after sign-in restores it.
function formKey(form) {
  return form.id || form.getAttribute("action") || form.getAttribute("hx-post") || "";
}

function rememberForm(event) {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.dataset.lgNoKeep !== undefined) return;
  const method = (form.getAttribute("method") || "").toLowerCase();
  if (method !== "post" && !form.hasAttribute("hx-post")) return;
  const fields = {};
  for (const control of form.elements) {
    if (!control.name || control.name === "csrf" || control.type === "password") continue;
    if (control.type === "checkbox" || control.type === "radio") {
      if (control.checked) (fields[control.name] = fields[control.name] || []).push(control.value);
    } else if (control.type !== "file" && control.type !== "submit") {
      fields[control.name] = control.value;
    }
  }
  savePending({ kind: "form", id: formKey(form), fields });
}

function restoreForms() {
  const raw = sessionStorage.getItem(PENDING);
  if (!raw) return;
  const entry = JSON.parse(raw);
  if (document.body.dataset.page === "login") {
    entry.viaSignIn = true;
    sessionStorage.setItem(PENDING, JSON.stringify(entry));
    return;
  }
  if (entry.kind !== "form") {
    if (!entry.viaSignIn || entry.path !== location.pathname + location.search) {
      sessionStorage.removeItem(PENDING);
    }
    return;
  }
  sessionStorage.removeItem(PENDING);
  if (!entry.viaSignIn || entry.path !== location.pathname + location.search) return;
  const form = Array.from(document.forms).find((f) => formKey(f) === entry.id);
  if (!form) return;
  for (const [name, value] of Object.entries(entry.fields)) {
    for (const control of form.querySelectorAll(`[name="${CSS.escape(name)}"]`)) {
      if (control.type === "checkbox" || control.type === "radio") {
        control.checked = Array.isArray(value) && value.includes(control.value);
      } else {
        control.value = value;
      }
    }
  }
  form.dataset.lgRestored = "true";
}

// (e) <time datetime="ISO"> in the browser's time zone.
const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function renderTimes(root) {
  for (const element of root.querySelectorAll("time[datetime]")) {
    if (element.dataset.lgLocal) continue;
    const when = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) continue;
    element.title = element.getAttribute("datetime");
    element.textContent = timeFormat.format(when);
    element.dataset.lgLocal = "true";
  }
}

function initAll(root) {
  const scope = root.querySelectorAll ? root : document;
  const each = (selector, init) => {
    for (const element of scope.querySelectorAll(selector)) {
      if (element.dataset.lgReady) continue;
      element.dataset.lgReady = "true";
      init(element);
    }
  };
  each(".lg-diagram", initDiagram);
  each(".lg-decision", initDecision);
  each(".lg-form", initForm);
  each(".lg-dashboard", initDashboard);
  renderTimes(scope);
}

// (d) htmx: the CSRF header on every request (also set by hx-headers on <body>), and a
// session lost during an htmx request goes to sign-in through HX-Redirect.
document.addEventListener("htmx:configRequest", (event) => {
  event.detail.headers["X-CSRF-Token"] = csrfToken();
});
document.addEventListener("htmx:load", (event) => initAll(event.detail.elt));
// Content added by other means: window.legato.init(element).
window.legato = { init: initAll };
document.addEventListener("submit", rememberForm, true);

function start() {
  restoreForms();
  initAll(document);
  document.documentElement.dataset.lgReady = "true";
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
