// The approvals page: decide gates through the API; the list follows GET /api/v1/approvals.
import { api, fetchPage, swapSections } from "./common.js";
import { wireGates } from "./gates.js";

function keys(section) {
  return section ? section.dataset.key || "" : "";
}

async function reload() {
  const doc = await fetchPage("/approvals");
  if (doc) swapSections(doc);
}

async function poll() {
  let gates;
  try { gates = await api("GET", "/api/v1/approvals"); } catch (_) { return; }
  const now = gates.map((g) => `${g.instance}/${g.task};`).join("");
  if (now !== keys(document.getElementById("approvals"))) await reload();
}

wireGates(async (form) => {
  const card = form.closest("[data-gate-key]");
  if (card) card.remove();
  await reload();
});
setInterval(() => { if (!document.hidden) poll(); }, 3000);
