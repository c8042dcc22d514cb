// The conversation's keyboard: it is one stop in the Tab order. Arrow keys move between
// messages (roving focus), Home and End to the first and last; Enter or → reaches a message's
// buttons and links, ← and → move among them; Escape goes back to the message, then to the
// message box.
"use strict";

class ChatKeys {
  // `list`: the messages' list; `onEscape()`: leave the conversation (to the message box);
  // `onTop()`: ↑ reached the first message shown (older ones may be loaded).
  constructor({ list, onEscape, onTop }) {
    this.list = list;
    this.onEscape = onEscape;
    this.onTop = onTop;
    this.current = null; // the message that is the conversation's Tab stop
    list.addEventListener("focusin", (event) => {
      const item = event.target.closest(".message");
      if (item && !item.classList.contains("pending")) this.makeCurrent(item);
    });
    list.addEventListener("keydown", (event) => this.keydown(event));
  }

  // A new message's buttons and links are reached with the arrows, not Tab.
  outOfTabOrder(item) {
    for (const control of item.querySelectorAll("button, a[href]")) control.tabIndex = -1;
  }

  makeCurrent(item) {
    if (this.current === item) return;
    if (this.current) this.current.tabIndex = -1;
    this.current = item;
    if (item) item.tabIndex = 0;
  }

  // After messages come or go, the Tab stop is still a message shown (else the newest).
  keepTabStop() {
    if (this.current && this.current.isConnected) return;
    const messages = this.list.querySelectorAll(".message:not(.pending)");
    this.makeCurrent(messages.length ? messages[messages.length - 1] : null);
  }

  controlsOf(item) {
    return [...item.querySelectorAll("button, a[href]")].filter((c) => c.getClientRects().length && !c.closest("[hidden]"));
  }

  keydown(event) {
    if (event.target.closest(".editor")) return;
    const item = event.target.closest(".message");
    if (!item) return;
    const onItem = event.target === item;
    const messages = [...this.list.querySelectorAll(".message")];
    const at = messages.indexOf(item);
    let next = null;
    if (event.key === "ArrowDown") next = messages[at + 1];
    else if (event.key === "ArrowUp") next = messages[at - 1];
    else if (event.key === "Home" && onItem) next = messages[0];
    else if (event.key === "End" && onItem) next = messages[messages.length - 1];
    if (next) {
      event.preventDefault();
      next.focus();
      next.scrollIntoView({ block: "nearest" });
      if (event.key === "ArrowUp" && at - 1 === 0) this.onTop();
      return;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      if (onItem) this.onEscape();
      else item.focus();
      return;
    }
    const controls = this.controlsOf(item);
    if (!controls.length) return;
    const index = controls.indexOf(event.target);
    if (onItem && (event.key === "Enter" || event.key === "ArrowRight")) {
      event.preventDefault();
      controls[0].focus();
    } else if (!onItem && (event.key === "ArrowRight" || event.key === "ArrowLeft")) {
      event.preventDefault();
      const step = event.key === "ArrowRight" ? 1 : -1;
      if (index + step < 0) item.focus();
      else controls[Math.min(controls.length - 1, index + step)].focus();
    }
  }
}
