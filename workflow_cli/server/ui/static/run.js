// The run page: live from the API's event stream (EventSource), the chosen task's log followed, actions through the API.
import { api, fetchPage, formError, notice, swapSections } from "./common.js";
import { wireGates } from "./gates.js";

const main = document.getElementById("main");
const id = main.dataset.instance;
const base = `/api/v1/instances/${encodeURIComponent(id)}`;
const TERMINAL = ["completed", "failed", "cancelled"];
const TYPES = ["workflow.started", "workflow.completed", "workflow.failed", "workflow.cancelled", "workflow.paused", "workflow.resumed",
  "workflow.waiting", "workflow.queued", "queue.released", "task.started", "task.completed", "task.failed", "task.retrying", "task.skipped",
  "task.cancelled", "task.waiting", "task.reset", "task.warning", "task.pool_wait", "item.started", "item.completed", "item.failed",
  "item.retrying", "item.skipped", "item.reset", "approval.required", "approval.decided", "signal.received", "signal.consumed",
  "checkpoint.created", "rollback.started", "rollback.task", "rollback.completed", "vars.set", "loop.iteration", "request.received"];
let task = main.dataset.task || "";
let source = null;
let lastSeq = Number(main.dataset.seq || 0);
let pending = null;
let logTimer = null;
let actedAt = 0;  // after an action the run may still look finished for a moment: keep listening a while
const GRACE_MS = 15000;

function pageUrl() {
  return `/instances/${encodeURIComponent(id)}` + (task ? `?task=${encodeURIComponent(task)}` : "");
}

function terminal() {
  return TERMINAL.includes(document.getElementById("main").dataset.status) && Date.now() - actedAt > GRACE_MS;
}

/** Re-read the page and swap the sections that changed; stop or restart the stream as the run ends or continues. */
let generation = 0;
let inflight = false;
let again = false;

/** One refresh at a time: events that arrive meanwhile make one more afterwards (a big run's page takes a while to render). */
async function refresh() {
  pending = null;
  if (inflight) { again = true; return; }
  inflight = true;
  try { await apply(); } finally {
    inflight = false;
    if (again) { again = false; schedule(); }
  }
}

async function apply() {
  const mine = ++generation;
  const doc = await fetchPage(pageUrl());
  if (!doc || mine !== generation) return;  // a later refresh is on its way: never apply an older page over it
  const fresh = doc.getElementById("main");
  if (fresh) {
    main.dataset.status = fresh.dataset.status;
    main.dataset.task = fresh.dataset.task;
  }
  swapSections(doc);
  decorate();
  followLog();
  if (terminal()) disconnect(); else connect();
}

function schedule(delay = 200) {
  if (!pending) pending = setTimeout(refresh, delay);
}

function onEvent(e) {
  if (e.lastEventId) lastSeq = Number(e.lastEventId);
  schedule();
}

function connect() {
  if (source) return;
  source = new EventSource(`${base}/events?after=${lastSeq}`);
  for (const type of TYPES) source.addEventListener(type, onEvent);
  source.onmessage = onEvent;
  source.onerror = () => { if (terminal()) disconnect(); };
}

function disconnect() {
  if (source) source.close();
  source = null;
}

async function loadLog() {
  const pre = document.getElementById("log");
  if (!pre) return;
  const res = await fetch(`${base}/logs/${encodeURIComponent(pre.dataset.task)}?tail=2000`, { credentials: "same-origin" });
  if (!res.ok) return;
  const text = await res.text();
  const current = document.getElementById("log");
  if (!current || current.textContent === text) return;
  const atEnd = current.scrollTop + current.clientHeight >= current.scrollHeight - 8;
  current.textContent = text;
  if (atEnd) current.scrollTop = current.scrollHeight;
}

/** Load the chosen task's log; follow it every second while the task runs. */
function followLog() {
  const pre = document.getElementById("log");
  clearInterval(logTimer);
  logTimer = null;
  if (!pre) return;
  loadLog();
  if (pre.dataset.follow === "true") logTimer = setInterval(loadLog, 1000);
}

/** Graph nodes: focusable, named for screen readers, selectable with Enter or Space. */
function decorate() {
  const svg = document.querySelector("#graph svg.dag");
  if (svg) svg.setAttribute("role", "group");  // an "img" would hide its nodes from screen readers
  for (const node of document.querySelectorAll("#graph g.node")) {
    node.setAttribute("tabindex", "0");
    node.setAttribute("role", "button");
    node.setAttribute("aria-label", `task ${node.dataset.task}: ${node.dataset.status}`);
    node.classList.toggle("selected", node.dataset.task === task);
  }
}

function select(next) {
  task = next;
  history.pushState({ task }, "", pageUrl());
  refresh().then(() => {
    const detail = document.getElementById("detail");
    if (task && detail) detail.scrollIntoView({ block: "nearest" });
  });
}

document.addEventListener("click", (e) => {
  const link = e.target.closest("[data-task-link]");
  const node = e.target.closest("#graph g.node");
  if (link) { e.preventDefault(); select(link.dataset.taskLink); }
  else if (node) select(node.dataset.task);
});

document.addEventListener("keydown", (e) => {
  const node = e.target.closest && e.target.closest("#graph g.node");
  if (node && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); select(node.dataset.task); }
});

window.addEventListener("popstate", () => {
  task = new URLSearchParams(location.search).get("task") || "";
  refresh();
});

async function act(verb, body, message) {
  actedAt = Date.now();
  await api("POST", `${base}/${verb}`, body);
  notice(message);
  connect();
  schedule(50);
}

document.addEventListener("click", async (e) => {
  const button = e.target.closest("button[data-verb]");
  if (!button) return;
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
  button.disabled = true;
  try {
    await act(button.dataset.verb, button.dataset.body ? JSON.parse(button.dataset.body) : {}, `${button.textContent.trim()}: requested`);
  } catch (err) {
    notice(err.message, true);
    button.disabled = false;
  }
});

document.addEventListener("submit", async (e) => {
  const form = e.target;
  const retry = form.matches("form[data-retry]");
  if (!retry && !form.matches("form[data-rollback]")) return;
  e.preventDefault();
  const verb = retry ? "retry" : "rollback";
  const body = retry ? { tasks: [form.dataset.task], downstream: form.elements.downstream.checked }
    : { checkpoint: form.elements.checkpoint.value, resume: form.elements.resume.checked };
  if (!retry && !window.confirm(`Roll back to ${body.checkpoint}? Tasks completed after it are undone.`)) return;
  try {
    formError(form, "");
    await act(verb, body, retry ? `Retrying ${form.dataset.task}` : `Rolled back to ${body.checkpoint}`);
    delete form.dataset.dirty;
  } catch (err) {
    formError(form, err.message);
  }
});

wireGates(async () => { actedAt = Date.now(); connect(); await refresh(); });
decorate();
followLog();
if (!terminal()) connect();
setInterval(() => { if (!terminal() && !document.hidden) schedule(); }, 5000);  // a safety net besides the stream
