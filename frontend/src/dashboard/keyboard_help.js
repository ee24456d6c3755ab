// The keyboard help overlay (`?`): a modal list of the replay page's shortcuts. Escape or the
// close button closes it and gives focus back to where it was.

import { el } from "./dom.js";
import { isTypingTarget } from "./time.js";

export const SHORTCUTS = [
  ["Space", "Play / pause"],
  ["← / →", "Back / forward 5 seconds"],
  ["↑ / ↓", "Faster / slower"],
  ["n / p", "Next / previous activity entry"],
  ["c", "Show or hide the click overlay"],
  ["/", "Search the activity list"],
  ["?", "Show or hide this help"],
  ["Esc", "Close this help or a marker list"],
];

export class KeyboardHelp {
  constructor(doc, win) {
    this.doc = doc;
    this.win = win;
    this.backdrop = el(doc, "div", { className: "keyboard-help", hidden: true });
    this.dialog = el(doc, "div", { className: "keyboard-help__dialog card", role: "dialog",
      "aria-modal": "true", "aria-labelledby": "keyboard-help-title", tabindex: "-1" });
    const head = el(doc, "div", { className: "keyboard-help__head" });
    head.appendChild(el(doc, "h2", { id: "keyboard-help-title" }, "Keyboard shortcuts"));
    this.closeButton = el(doc, "button", { type: "button", className: "btn btn-small" }, "Close");
    head.appendChild(this.closeButton);
    const list = el(doc, "dl", { className: "keyboard-help__list" });
    for (const [key, what] of SHORTCUTS) {
      const dt = el(doc, "dt");
      dt.appendChild(el(doc, "kbd", {}, key));
      list.append(dt, el(doc, "dd", {}, what));
    }
    this.dialog.append(head, list);
    this.backdrop.appendChild(this.dialog);
    doc.body.appendChild(this.backdrop);
    this.closeButton.addEventListener("click", () => this.close());
    this.backdrop.addEventListener("click", (event) => {
      if (event.target === this.backdrop) this.close();
    });
  }

  get isOpen() {
    return !this.backdrop.hidden;
  }

  open() {
    this.returnTo = this.doc.activeElement;
    this.backdrop.hidden = false;
    this.closeButton.focus();
  }

  close() {
    if (!this.isOpen) return;
    this.backdrop.hidden = true;
    if (this.returnTo && typeof this.returnTo.focus === "function") this.returnTo.focus();
  }

  toggle() {
    if (this.isOpen) this.close();
    else this.open();
  }
}

/** `?`, `n`, `p`, `c`, `/` and Escape on the replay page (Space and arrows are the player's). */
export function bindPageKeys(doc, actions) {
  doc.addEventListener("keydown", (event) => {
    if (actions.help.isOpen) {
      // the dialog is modal: no shortcut reaches the player behind it
      event.stopPropagation();
      if (event.key === "Escape" || event.key === "?") {
        event.preventDefault();
        actions.help.close();
      } else if (event.key === "Tab") { // one focusable control: focus stays in the dialog
        event.preventDefault();
        actions.help.closeButton.focus();
      }
      return;
    }
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTypingTarget(event.target)) {
      if (event.key === "Escape" && event.target.blur) event.target.blur();
      return;
    }
    const handler = { "?": actions.toggleHelp, n: actions.next, p: actions.previous,
      c: actions.toggleClicks, "/": actions.search }[event.key];
    if (!handler) return;
    event.preventDefault();
    handler();
  }, true);
}
