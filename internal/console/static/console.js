// The console's only script: confirmations, the organization picker and
// the audit verification's progress. Loaded from /static (the CSP allows
// no inline script).
"use strict";

document.addEventListener("submit", (ev) => {
  const msg = ev.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) ev.preventDefault();
});

// The organization picker: a text input with data-pick="organization" and
// a datalist, filled from /organizations?name=… as the operator types.
document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("input[data-pick=organization]")) {
    const list = document.getElementById(input.getAttribute("list"));
    let timer = 0;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      const q = input.value.trim();
      if (q.length < 2 || q.startsWith("Organization/")) return;
      timer = setTimeout(async () => {
        const resp = await fetch("/organizations?name=" + encodeURIComponent(q), { headers: { Accept: "application/json" } });
        if (!resp.ok) return;
        const orgs = await resp.json();
        list.replaceChildren(...orgs.map((o) => {
          const opt = document.createElement("option");
          opt.value = o.reference;
          opt.textContent = o.name;
          return opt;
        }));
      }, 200);
    });
  }

  // A verification's progress: poll its status until it ends, then show
  // the page with the result.
  const box = document.getElementById("verify-progress");
  if (box) {
    const bar = box.querySelector("progress");
    const text = box.querySelector("[data-checked]");
    const poll = async () => {
      const resp = await fetch("/audit/verify/status", { headers: { Accept: "application/json" } });
      if (!resp.ok) return;
      const st = await resp.json();
      if (st.total > 0) { bar.max = st.total; bar.value = st.checked; }
      text.textContent = st.checked.toLocaleString();
      if (st.running) setTimeout(poll, 300);
      else window.location.reload();
    };
    setTimeout(poll, 300);
  }
});
