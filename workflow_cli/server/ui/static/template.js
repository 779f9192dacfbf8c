// The template page's run form: POST /api/v1/instances with the typed parameters, then open the new run.
import { api, collectFields, formError } from "./common.js";

const form = document.getElementById("run-form");
if (form) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button[type=submit]");
    try {
      formError(form, "");
      const body = { template: form.dataset.template, params: collectFields(form), queue: form.querySelector("[data-queue]").checked };
      const name = form.querySelector("[data-name]").value.trim();
      if (name) body.name = name;
      button.disabled = true;
      const created = await api("POST", "/api/v1/instances", body);
      location.assign(`/instances/${encodeURIComponent(created.id)}`);
    } catch (err) {
      formError(form, err.message);
      button.disabled = false;
    }
  });
}
