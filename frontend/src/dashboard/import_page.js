// The import page: a replay file (rrweb's event array or a `sentiero export`) from the file
// picker, a paste or a drop, read and replayed in this browser. Nothing is sent anywhere.

import { MAX_IMPORT_BYTES, parseReplayFile } from "./import_format.js";
import { switchableReplay } from "./share_page.js";

export function initImportPage(win, doc, Replayer) {
  const form = doc.getElementById("import-form");
  if (!form) return;
  const fileInput = doc.getElementById("import-file");
  const textarea = doc.getElementById("import-text");
  const drop = doc.getElementById("import-drop");
  const status = doc.getElementById("import-status");
  const stage = doc.getElementById("import-replay");
  let current = null;

  const say = (text, isError) => {
    status.textContent = text;
    status.classList.toggle("banner-error", !!isError);
    status.hidden = !text;
  };

  const replay = (text) => {
    let parsed;
    try {
      parsed = parseReplayFile(text);
    } catch (err) {
      say(err.message, true);
      return;
    }
    const count = parsed.windows.reduce((n, w) => n + w.events.length, 0);
    say("Replaying " + count + " events" + (parsed.windows.length > 1
      ? " in " + parsed.windows.length + " tabs" : "") + " (" +
      (parsed.format === "rrweb" ? "rrweb event array" : "sentiero export") +
      "). Nothing was uploaded.", false);
    stage.hidden = false;
    if (current && current()) current().destroy();
    current = switchableReplay(win, doc, Replayer, parsed.windows.map((w) => ({ ...w, items: [] })),
      doc.getElementById("share-tabs"), parsed.windows[0].id);
  };

  const readFile = (file) => {
    if (!file) return;
    if (file.size > MAX_IMPORT_BYTES) {
      say("That file is larger than 25 MiB; import a single window instead.", true);
      return;
    }
    file.text().then(replay, (err) => say("Could not read the file: " + err.message, true));
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (fileInput.files && fileInput.files[0] && !textarea.value.trim()) readFile(fileInput.files[0]);
    else replay(textarea.value);
  });
  fileInput.addEventListener("change", () => readFile(fileInput.files && fileInput.files[0]));
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => {
      event.preventDefault();
      drop.classList.add("is-over");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, () => drop.classList.remove("is-over"));
  }
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer && event.dataTransfer.files && event.dataTransfer.files[0];
    readFile(file);
  });
}
