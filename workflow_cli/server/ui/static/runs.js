// The runs page: the list re-read from the API (GET /api/v1/instances) every two seconds, filters applied without a reload.
import { api } from "./common.js";

const form = document.getElementById("filters");
const body = document.getElementById("runs-body");
const live = document.getElementById("live");

function when(iso) {
  return iso ? iso.replace("T", " ").replace(/Z$/, "").slice(0, 19) : "–";
}

function cell(row, ...children) {
  const td = document.createElement("td");
  td.append(...children);
  row.append(td);
  return td;
}

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function render(rows) {
  const filtered = form.elements.status.value || form.elements.template.value;
  const out = rows.map((r) => {
    const tr = el("tr", undefined, { "data-id": r.id });
    const status = r.display_status || r.status;
    cell(tr, el("a", r.name || r.id, { href: `/instances/${encodeURIComponent(r.id)}` }), el("br"), el("code", r.id, { class: "id" }));
    cell(tr, r.template || "–");
    cell(tr, el("span", status, { class: `badge s-${status}` }));
    cell(tr, el("progress", undefined, { max: "100", value: String(r.progress), "aria-label": `progress of ${r.id}` }), ` ${r.progress}%`);
    cell(tr, when(r.created_at));
    cell(tr, when(r.finished_at));
    return tr;
  });
  if (!out.length) {
    const tr = el("tr", undefined, { class: "empty" });
    cell(tr, `No runs${filtered ? " match these filters" : ""}.`).setAttribute("colspan", "6");
    out.push(tr);
  }
  body.replaceChildren(...out);
}

async function poll() {
  const query = new URLSearchParams({ limit: "200" });
  for (const name of ["status", "template"]) if (form.elements[name].value) query.set(name, form.elements[name].value);
  try {
    render(await api("GET", `/api/v1/instances?${query}`));
    live.classList.remove("stale");
  } catch (_) {
    live.classList.add("stale");
  }
}

form.addEventListener("change", () => {
  const query = new URLSearchParams();
  for (const name of ["status", "template"]) if (form.elements[name].value) query.set(name, form.elements[name].value);
  history.replaceState(null, "", query.toString() ? `/?${query}` : "/");
  poll();
});

setInterval(() => { if (!document.hidden) poll(); }, 2000);
