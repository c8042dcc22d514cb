// The message box: a draft per chat kept in this browser (through reloads and switching chats)
// until sent, followed by the chat's other tabs; a count of characters near the limit, and
// over it Send refuses; the reply bar (the message the next send answers); Enter sends,
// Shift+Enter starts a line, Escape drops the reply, ↑ from an empty box goes up into the
// conversation; "typing" goes out at most every 2 s.
"use strict";

class ChatComposer {
  // `send(text, files)`: what Send does with them (the box is emptied first); `typing()`: tell
  // the chat (true if it could); `up()`: focus the conversation (true if it did).
  constructor({ data, fileTray, send, typing, up }) {
    Object.assign(this, { data, fileTray, send, typing, up });
    this.form = document.getElementById("composer");
    this.input = document.getElementById("message-input");
    this.sendButton = document.getElementById("send");
    this.charCount = document.getElementById("char-count");
    this.replyBar = document.getElementById("reply-bar");
    this.replyingTo = null;
    this.typingSentAt = 0;
    this.draftKey = `chat-draft:${data.userId}:${data.chatId}`;
    // (What was typed before this script ran is kept, and becomes the draft.)
    if (this.input.value) {
      this.saveDraft();
    } else {
      try {
        this.input.value = localStorage.getItem(this.draftKey) || "";
      } catch (err) {
        // Storage switched off: no draft to restore.
      }
    }
    this.updateCount();
    this.listen();
  }

  listen() {
    const input = this.input;
    // Another tab of this chat sent or changed the draft: this one follows, unless typed in.
    window.addEventListener("storage", (event) => {
      if (event.key !== this.draftKey || document.activeElement === input) return;
      input.value = event.newValue || "";
      this.updateCount();
    });
    this.replyBar.querySelector(".cancel-reply").addEventListener("click", () => {
      this.stopReply();
      input.focus();
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value;
      const files = this.fileTray.files();
      if (!text.trim() && !files.length) return;
      if ([...text].length > this.data.maxLength) {
        this.updateCount();
        return;
      }
      input.value = "";
      this.saveDraft();
      this.updateCount();
      if (files.length) this.fileTray.clear();
      this.send(files.length && !text.trim() ? "" : text, files);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        this.form.requestSubmit();
      } else if (event.key === "Escape" && this.replyingTo) {
        this.stopReply();
      } else if (event.key === "ArrowUp" && !input.value && this.up()) {
        event.preventDefault();
      }
    });
    input.addEventListener("input", () => {
      this.saveDraft();
      this.updateCount();
      if (Date.now() - this.typingSentAt > 2000 && this.typing()) this.typingSentAt = Date.now();
    });
  }

  saveDraft() {
    try {
      if (this.input.value) localStorage.setItem(this.draftKey, this.input.value);
      else localStorage.removeItem(this.draftKey);
    } catch (err) {
      // Storage full or switched off: the draft lives as long as the page.
    }
  }

  updateCount() {
    const input = this.input;
    const limit = this.data.maxLength;
    const length = [...input.value].length; // code points, as the server counts
    const over = length - limit;
    this.charCount.hidden = length < limit * 0.9;
    this.charCount.classList.toggle("over", over > 0);
    this.charCount.textContent = over > 0
      ? `${over.toLocaleString()} characters too long (the limit is ${limit.toLocaleString()})`
      : `${length.toLocaleString()} / ${limit.toLocaleString()}`;
    input.setAttribute("aria-invalid", String(over > 0));
    this.sendButton.disabled = input.disabled || over > 0;
  }

  // The message the next send answers, shown above the box until sent or cancelled.
  startReply(item) {
    const reply = {
      messageId: item.dataset.messageId,
      seq: Number(item.dataset.seq),
      username: item.querySelector(".author").textContent,
      message: item.querySelector(".body").textContent.slice(0, this.data.quoteLength),
    };
    this.replyingTo = reply;
    this.replyBar.querySelector(".reply-text").replaceChildren(
      "Replying to ", Object.assign(document.createElement("b"), { textContent: reply.username }),
      `: ${reply.message}`,
    );
    this.replyBar.hidden = false;
    this.input.focus();
  }

  stopReply() {
    this.replyingTo = null;
    this.replyBar.hidden = true;
  }

  // Locked, archived, removed: nothing can be sent.
  setDisabled(disabled) {
    this.input.disabled = disabled;
    this.sendButton.disabled = disabled;
    document.getElementById("attach").disabled = disabled;
  }
}

// Who else is typing, under the conversation, for 3 s after each of their typing frames.
class ChatTyping {
  constructor(line) {
    this.line = line;
    this.timers = new Map(); // username -> timeout
  }

  show(username) {
    clearTimeout(this.timers.get(username));
    this.timers.set(username, setTimeout(() => {
      this.timers.delete(username);
      this.render();
    }, 3000));
    this.render();
  }

  // Their message arrived: they are no longer typing it.
  stop(username) {
    if (!this.timers.has(username)) return;
    clearTimeout(this.timers.get(username));
    this.timers.delete(username);
    this.render();
  }

  render() {
    const names = [...this.timers.keys()];
    this.line.textContent = names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "";
  }
}
