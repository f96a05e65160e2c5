// What the bundle's parts share: fetching the app's own URLs with the session, and showing
// a problem in place of what could not be drawn.

export async function fetchText(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "*/*" } });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.text();
}

export async function fetchJson(url) {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) {
    let detail = "";
    try {
      detail = (await response.json()).detail || "";
    } catch (error) {
      detail = "";
    }
    throw new Error(`${url}: ${response.status}${detail ? ` ${detail}` : ""}`);
  }
  return response.json();
}

export function showProblem(element, message) {
  const note = document.createElement("p");
  note.className = "lg-error-text";
  note.setAttribute("role", "alert");
  note.textContent = message;
  element.replaceChildren(note);
}
