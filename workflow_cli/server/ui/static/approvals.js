// The approvals page: decide gates through the API; the list follows GET /api/v1/approvals (cards come and go, typing is kept).
import { api, fetchPage } from "./common.js";
import { wireGates } from "./gates.js";

const section = document.getElementById("approvals");

function cards(root) {
  return new Map([...root.querySelectorAll("[data-gate-key]")].map((card) => [card.dataset.gateKey, card]));
}

/** Bring the list in line with the server's page: drop decided gates, add new ones, leave the others (and what was typed) alone. */
async function sync() {
  const doc = await fetchPage("/approvals");
  const fresh = doc && doc.getElementById("approvals");
  if (!fresh) return;
  const now = cards(section);
  const next = cards(fresh);
  for (const [key, card] of now) if (!next.has(key)) card.remove();
  for (const [key, card] of next) if (!now.has(key)) section.append(document.importNode(card, true));
  const empty = section.querySelector("p.empty");
  if (empty) empty.hidden = next.size > 0;
  else if (!next.size) section.append(Object.assign(document.createElement("p"), { className: "empty", textContent: "Nothing is waiting for you." }));
  section.dataset.key = fresh.dataset.key;
}

async function poll() {
  let gates;
  try { gates = await api("GET", "/api/v1/approvals"); } catch (_) { return; }
  const key = gates.map((g) => `${g.instance}/${g.task};`).join("");
  if (key !== section.dataset.key) await sync();
}

wireGates(async (form) => {
  const card = form.closest("[data-gate-key]");
  if (card) card.remove();
  await sync();
});
setInterval(() => { if (!document.hidden) poll(); }, 3000);
