// Sessions list page: select-all checkbox for bulk delete, and confirmation of destructive forms.
// (No inline script: the dashboard's CSP only allows script-src 'self'.)

const SELECT_ALL = "#select-all, input[data-select-all]";
const SESSION_BOXES = 'input[name="session_ids"], input[name="session_ids[]"]';

function isSessionBox(node) {
  return !!node && (node.name === "session_ids" || node.name === "session_ids[]");
}

/** The bulk-delete bar shows "<n> selected" and hides while nothing is selected. */
export function updateBulkBar(doc) {
  const form = typeof doc.getElementById === "function" ? doc.getElementById("bulk-delete-form")
    : null;
  if (!form) return;
  const n = Array.from(doc.querySelectorAll(SESSION_BOXES)).filter((b) => b.checked).length;
  form.hidden = n === 0;
  const count = form.querySelector("[data-bulk-count]");
  if (count) count.textContent = n + " selected";
  form.setAttribute("data-confirm", n === 1 ? "Delete the selected session?"
    : "Delete the " + n + " selected sessions?");
}

export function initSelectAll(doc) {
  const all = doc.querySelector(SELECT_ALL);
  if (!all) return;
  const boxes = () => Array.from(doc.querySelectorAll(SESSION_BOXES));
  updateBulkBar(doc);
  all.addEventListener("change", () => {
    for (const box of boxes()) box.checked = all.checked;
    all.indeterminate = false;
    updateBulkBar(doc);
  });
  doc.addEventListener("change", (event) => {
    const target = event.target;
    if (!isSessionBox(target)) return;
    const list = boxes();
    const checked = list.filter((box) => box.checked).length;
    all.checked = list.length > 0 && checked === list.length;
    all.indeterminate = checked > 0 && checked < list.length;
    updateBulkBar(doc);
  });
}

/** `<form data-confirm="Delete this session?">` asks before submitting. */
export function initConfirmForms(doc, win) {
  doc.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (!form || typeof form.getAttribute !== "function") return;
      const message = form.getAttribute("data-confirm");
      if (message == null) return;
      if (!win.confirm(message)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true,
  );
}

export function initSessionsList(doc, win) {
  initSelectAll(doc);
  initConfirmForms(doc, win);
}
