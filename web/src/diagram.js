// A BPMN diagram in a container: the viewer, the XML fetched from the app, and a layout for
// models without diagram interchange. Used by the diagram (app.js) and the dashboard.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import { layoutProcess } from "bpmn-auto-layout";
import { fetchText, showProblem } from "./fetching.js";

const BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL";

// The layouter follows <incoming>/<outgoing> of the flow nodes, which BPMN lets a model
// leave out (sourceRef/targetRef of the flows say the same): add them where missing.
function withFlowRefs(xml) {
  const doc = new DOMParser().parseFromString(xml, "application/xml");
  const byId = new Map();
  for (const node of doc.getElementsByTagNameNS(BPMN_NS, "*")) {
    if (node.getAttribute("id")) byId.set(node.getAttribute("id"), node);
  }
  const refs = (node, name) =>
    Array.from(node.children).filter((c) => c.namespaceURI === BPMN_NS && c.localName === name);
  for (const flow of doc.getElementsByTagNameNS(BPMN_NS, "sequenceFlow")) {
    const id = flow.getAttribute("id");
    for (const [end, name] of [["sourceRef", "outgoing"], ["targetRef", "incoming"]]) {
      const node = byId.get(flow.getAttribute(end));
      if (!node || refs(node, name).some((r) => r.textContent.trim() === id)) continue;
      const ref = doc.createElementNS(BPMN_NS, `${flow.prefix ? `${flow.prefix}:` : ""}${name}`);
      ref.textContent = id;
      node.appendChild(ref);
    }
  }
  return new XMLSerializer().serializeToString(doc);
}

// The diagram of element.dataset.xmlUrl drawn in element, fitted; the viewer, or null after
// showing the problem in its place.
export async function loadDiagram(element) {
  const viewer = new NavigatedViewer({ container: element });
  try {
    let xml = await fetchText(element.dataset.xmlUrl);
    // A model without diagram interchange (written by hand or by code) is laid out here.
    if (!/BPMNDiagram\b/.test(xml)) xml = await layoutProcess(withFlowRefs(xml));
    await viewer.importXML(xml);
  } catch (error) {
    showProblem(element, `The diagram cannot be shown: ${error.message}`);
    return null;
  }
  viewer.get("canvas").zoom("fit-viewport", "auto");
  return viewer;
}
