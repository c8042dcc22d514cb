// The chat page's tray of files waiting to be sent: chosen, dropped or pasted files, each with
// a preview (pictures) and a remove button; a file that cannot be sent (its type, its size,
// one too many) says why in the tray, dismissibly. room.js sends what it holds.
"use strict";

class ChatTray {
  // `tray`: the tray element (its `.tray-files` list); `limits`: the page's data (upload
  // types, sizes, files per message); `input`: the message box (focused after a change);
  // `onChange()`: called whenever the tray changes.
  constructor({ tray, limits, input, onChange }) {
    this.tray = tray;
    this.list = tray.querySelector(".tray-files");
    this.limits = limits;
    this.input = input;
    this.onChange = onChange;
    this.staged = []; // {file, url, element}
  }

  // The files to send, in the order they were added.
  files() {
    return this.staged.map((entry) => entry.file);
  }

  render() {
    this.tray.hidden = !this.list.children.length;
    this.onChange();
  }

  row(file, refused) {
    const row = document.createElement("li");
    row.className = refused ? "tray-file refused" : "tray-file";
    const name = file.name || "pasted image";
    let url = null;
    if (!refused && file.type.startsWith("image/")) {
      url = URL.createObjectURL(file);
      const picture = document.createElement("img");
      picture.src = url;
      picture.alt = "";
      row.append(picture);
    }
    const label = document.createElement("span");
    label.className = "tray-name";
    label.textContent = refused ? `${name}: ${refused}` : `${name} (${ChatFiles.formatSize(file.size)})`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "tray-remove";
    remove.textContent = "×";
    remove.setAttribute("aria-label", refused ? `Dismiss: ${name}` : `Remove ${name}`);
    row.append(label, remove);
    return { row, url, remove };
  }

  stage(file) {
    const max = this.limits.maxAttachments;
    const refused = ChatFiles.refusal(file, this.limits) ||
      (this.staged.length >= max ? `At most ${max} files go in one message.` : null);
    const { row, url, remove } = this.row(file, refused);
    const entry = { file, url, element: row };
    if (!refused) this.staged.push(entry);
    remove.addEventListener("click", () => {
      this.unstage(entry);
      this.input.focus();
    });
    this.list.append(row);
    this.render();
  }

  unstage(entry) {
    const at = this.staged.indexOf(entry);
    if (at >= 0) this.staged.splice(at, 1);
    if (entry.url) URL.revokeObjectURL(entry.url);
    entry.element.remove();
    this.render();
  }

  clear() {
    for (const entry of [...this.staged]) this.unstage(entry);
    this.list.replaceChildren();
    this.render();
  }

  // Files come from the Attach button's file picker, a drop on the conversation, or a paste
  // in the message box (not while the chat is read-only).
  listen({ fileInput, attachButton, dropZone }) {
    const input = this.input;
    attachButton.addEventListener("click", () => fileInput.click());
    fileInput.addEventListener("change", () => {
      for (const file of fileInput.files) this.stage(file);
      fileInput.value = "";
      input.focus();
    });
    dropZone.addEventListener("dragover", (event) => {
      if (input.disabled || !event.dataTransfer.types.includes("Files")) return;
      event.preventDefault();
      dropZone.classList.add("dropping");
    });
    dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dropping"));
    dropZone.addEventListener("drop", (event) => {
      dropZone.classList.remove("dropping");
      if (input.disabled || !event.dataTransfer.files.length) return;
      event.preventDefault();
      for (const file of event.dataTransfer.files) this.stage(file);
      input.focus();
    });
    input.addEventListener("paste", (event) => {
      const files = event.clipboardData ? [...event.clipboardData.files] : [];
      if (!files.length) return;
      event.preventDefault();
      for (const file of files) this.stage(file);
    });
  }
}
