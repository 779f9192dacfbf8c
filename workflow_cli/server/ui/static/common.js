// Shared helpers of the UI's pages: the API over fetch (the session cookie, JSON bodies), notices, form values, live sections.
document.documentElement.classList.add("js");

/** Call the API with the session cookie; resolves to the JSON answer, rejects with the API's error message. */
export async function api(method, url, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  const res = await fetch(url, init);
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (!res.ok) {
    const message = data && data.error ? data.error.message : `${res.status} ${res.statusText}`;
    throw new Error(res.status === 401 ? "your session has ended: reload the page to log in again" : message);
  }
  return data;
}

/** Show a short message in the page's live region. */
export function notice(text, isError = false) {
  const box = document.getElementById("notice");
  if (!box) return;
  box.textContent = text;
  box.classList.toggle("error", isError);
  box.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { box.hidden = true; }, isError ? 9000 : 4000);
}

/** Show (or clear) the error line of a form. */
export function formError(form, text) {
  const line = form.querySelector(".form-error");
  if (!line) return;
  line.textContent = text || "";
  line.hidden = !text;
}

function fieldValue(el) {
  const kind = el.dataset.kind;
  const raw = el.value;
  const label = el.name || "data";
  if (kind === "boolean") return el.checked;
  if (kind === "integer" || (kind === "select" && el.dataset.type === "integer")) {
    const n = Number(raw);
    if (!Number.isInteger(n)) throw new Error(`${label}: expected a whole number`);
    return n;
  }
  if (kind === "number" || (kind === "select" && el.dataset.type === "number")) {
    const n = Number(raw);
    if (Number.isNaN(n)) throw new Error(`${label}: expected a number`);
    return n;
  }
  if (kind === "json") {
    try { return JSON.parse(raw); } catch (_) { throw new Error(`${label}: not valid JSON`); }
  }
  return raw;
}

/** The JSON values of a generated form's fields; an empty field is left out (its default applies). */
export function collectFields(form) {
  const out = {};
  for (const el of form.querySelectorAll("[data-field]")) {
    if (el.dataset.kind !== "boolean" && el.value === "") continue;
    const value = fieldValue(el);
    if (el.name === "") return value;  // one JSON field holds the whole value
    out[el.name] = value;
  }
  return out;
}

/** Mark forms the user has typed into, so live updates leave them alone. */
document.addEventListener("input", (e) => {
  const form = e.target.closest("form");
  if (form) form.dataset.dirty = "1";
});

function busy(section) {
  const active = document.activeElement;
  const typing = active && section.contains(active) && active.matches("input, select, textarea");
  return typing || section.querySelector("form[data-dirty]") !== null;
}

function focusKey(el) {
  if (!el || el === document.body) return null;
  if (el.id) return `#${CSS.escape(el.id)}`;
  if (el.dataset.taskLink !== undefined) return `[data-task-link="${CSS.escape(el.dataset.taskLink)}"]`;
  if (el.dataset.task !== undefined && el.matches("g.node")) return `g.node[data-task="${CSS.escape(el.dataset.task)}"]`;
  if (el.dataset.verb) return `[data-verb="${CSS.escape(el.dataset.verb)}"]`;
  return null;
}

/** Replace the page's ``[data-live]`` sections by the fresh ones of ``doc`` (a section being typed into stays, unless its key changed). */
export function swapSections(doc) {
  const key = focusKey(document.activeElement);
  for (const fresh of doc.querySelectorAll("[data-live][id]")) {
    const current = document.getElementById(fresh.id);
    if (!current) continue;
    if (busy(current) && current.dataset.key === fresh.dataset.key) continue;
    const oldLog = current.querySelector("#log");
    const newLog = fresh.querySelector("#log");
    const scroll = oldLog ? oldLog.scrollTop : 0;
    const node = document.importNode(fresh, true);
    current.replaceWith(node);
    if (oldLog && newLog && oldLog.dataset.task === newLog.dataset.task) {
      const log = node.querySelector("#log");
      log.textContent = oldLog.textContent;
      log.scrollTop = scroll;
    }
  }
  if (key && !document.activeElement.matches("input, select, textarea")) {
    const again = document.querySelector(key);
    if (again && again !== document.activeElement) again.focus({ preventScroll: true });
  }
}

/** Fetch a page of this UI and parse it (the same HTML a reload would show). */
export async function fetchPage(url) {
  const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (!res.ok) return null;
  return new DOMParser().parseFromString(await res.text(), "text/html");
}
