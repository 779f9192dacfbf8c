// Approve or reject a waiting gate through the API (POST .../tasks/{task}/approve|reject), as the logged-in token.
import { api, collectFields, formError, notice } from "./common.js";

/** Handle the submit of every gate form of the page; ``after`` runs once a decision was accepted. */
export function wireGates(after) {
  document.addEventListener("submit", async (e) => {
    const form = e.target;
    if (!form.matches("form[data-gate]")) return;
    e.preventDefault();
    const decision = e.submitter && e.submitter.dataset.decision ? e.submitter.dataset.decision : "approve";
    const body = { comment: form.querySelector("[data-comment]").value || null };
    try {
      if (decision === "approve") {
        const data = collectFields(form);
        const empty = data !== null && typeof data === "object" && !Array.isArray(data) && Object.keys(data).length === 0;
        if (!empty) body.data = data;
      }
      formError(form, "");
      for (const b of form.querySelectorAll("button")) b.disabled = true;
      const { instance, task } = form.dataset;
      await api("POST", `/api/v1/instances/${encodeURIComponent(instance)}/tasks/${encodeURIComponent(task)}/${decision}`, body);
      delete form.dataset.dirty;
      notice(`${decision === "approve" ? "Approved" : "Rejected"} ${task}`);
      await after(form);
    } catch (err) {
      formError(form, err.message);
      for (const b of form.querySelectorAll("button")) b.disabled = false;
    }
  });
}
