// How a message looks on the chat page: built from its wire shape as DOM nodes (never as
// HTML): author, time, the quote of the message it answers, its text with links, files,
// reactions and its buttons (whose clicks room.js's one listener handles, by data-act), and
// what changes it later: an edit, a delete, its receipt, date dividers and grouping, a send
// that failed, the inline editor.
"use strict";

class ChatMessages {
  // `userId`, `chatType`, `quoteLength`, `maxLength`: the page's data; `receipts`: a
  // ChatReceipts; `readAtOpen`: where the unread part started; `outOfTabOrder(item)`: the
  // keyboard's (static/chat/keys.js).
  constructor({ userId, chatType, quoteLength, maxLength, receipts, readAtOpen, outOfTabOrder }) {
    Object.assign(this, { userId, chatType, quoteLength, maxLength, receipts, readAtOpen, outOfTabOrder });
  }

  static time(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  build(message) {
    const item = document.createElement("li");
    const own = message.userId === this.userId;
    item.className = "message" + (own ? " mine" : "");
    if (message.kind === "system") item.classList.add("system");
    Object.assign(item.dataset, {
      seq: String(message.seq), messageId: message.messageId, userId: message.userId, ts: String(message.timestamp),
    });
    const meta = document.createElement("div");
    meta.className = "meta";
    const avatar = document.createElement("span");
    avatar.className = "avatar small";
    avatar.setAttribute("aria-hidden", "true");
    avatar.dataset.hue = String(ChatText.hue(message.userId));
    avatar.textContent = (message.username || "?").slice(0, 2).toUpperCase();
    const who = document.createElement("span");
    who.className = "author";
    who.textContent = message.username;
    const when = document.createElement("time");
    when.dateTime = message.createdAt || new Date(message.timestamp).toISOString();
    when.textContent = ChatMessages.time(message.timestamp);
    meta.append(avatar, who, " ", when);
    item.title = when.dateTime ? new Date(message.timestamp).toLocaleString() : "";
    const body = document.createElement("div");
    body.className = "body";
    this.setBody(body, message.message);
    item.append(meta);
    if (message.replyTo) item.append(this.quote(message.replyTo));
    item.append(body);
    if (message.attachments && message.attachments.length) item.append(ChatFiles.render(message.attachments));
    if (message.edited) this.markEdited(item);
    if (message.deleted) {
      this.markDeleted(item);
    } else if (message.messageId && message.kind !== "system") {
      const nameOf = (id) => this.receipts.nameOf(id);
      item.append(ChatReactions.row(message.reactions || [], this.userId, nameOf), this.buttons(own));
    }
    item.tabIndex = -1;
    this.outOfTabOrder(item);
    return item;
  }

  // A message's text, its web links clickable.
  setBody(body, text) {
    body.replaceChildren(...ChatText.linkify(text || ""));
  }

  // A reply's quote of the message it answers; a click scrolls to that message.
  quote(quote) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "quote";
    button.dataset.quoteSeq = String(quote.seq);
    button.dataset.act = "quote";
    this.fillQuote(button, quote);
    return button;
  }

  fillQuote(button, quote) {
    button.replaceChildren();
    if (quote.deleted) {
      button.classList.add("gone");
      button.textContent = "message deleted";
      button.setAttribute("aria-label", "Reply to a deleted message");
      return;
    }
    const who = document.createElement("b");
    who.textContent = quote.username;
    const text = quote.message || (quote.attachments ? "(file)" : "");
    button.append(who, " ", text);
    button.setAttribute("aria-label", `Reply to ${quote.username}: ${text}. Show that message`);
  }

  // The quotes of the message at `seq` follow its edit or delete.
  requote(list, seq, quote) {
    for (const button of list.querySelectorAll(`.quote[data-quote-seq="${seq}"]`)) this.fillQuote(button, quote);
  }

  edited(list, item, seq, text) {
    this.setBody(item.querySelector(".body"), text);
    this.markEdited(item);
    const username = item.querySelector(".author").textContent;
    this.requote(list, seq, { seq, username, message: text.slice(0, this.quoteLength) });
  }

  // A message's action button: its class (also what a click does), text and accessible name.
  static button(className, text, label) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = className;
    button.dataset.act = className;
    button.textContent = text;
    button.setAttribute("aria-label", label);
    return button;
  }

  // Reply and react on every message; edit and delete on your own.
  buttons(own) {
    const actions = document.createElement("div");
    actions.className = "actions";
    const reactButton = ChatMessages.button("react", "React", "React with an emoji");
    reactButton.setAttribute("aria-expanded", "false");
    actions.append(ChatMessages.button("reply", "Reply", "Reply to this message"), reactButton);
    if (own) {
      actions.append(
        ChatMessages.button("edit", "Edit", "Edit this message"),
        ChatMessages.button("delete", "Delete", "Delete this message"),
      );
    }
    return actions;
  }

  markEdited(item) {
    const meta = item.querySelector(".meta");
    if (meta.querySelector(".edited")) return;
    const label = document.createElement("span");
    label.className = "edited";
    label.textContent = " · edited";
    meta.append(label);
  }

  markDeleted(item) {
    item.classList.add("deleted");
    item.querySelector(".body").textContent = "message deleted";
    for (const gone of item.querySelectorAll(".attachments, .actions, .editor, .edited, .reactions, .palette")) {
      gone.remove();
    }
  }

  // Your message's receipt (static/chat/receipts.js), from the others' watermarks.
  renderReceipt(item) {
    const seq = Number(item.dataset.seq);
    if (!seq || !item.classList.contains("mine") || item.classList.contains("deleted")) return;
    if (item.classList.contains("system")) return;
    const receipt = this.receipts.of(seq);
    if (!receipt) return;
    let mark = item.querySelector(".receipt");
    if (!mark) {
      mark = document.createElement("span");
      mark.className = "receipt";
      item.querySelector(".meta").append(mark);
    }
    mark.title = receipt.title;
    mark.dataset.state = receipt.state;
    mark.textContent = receipt.text;
    mark.setAttribute("aria-label", receipt.title);
  }

  static dayLabel(ms) {
    const day = new Date(ms);
    const today = new Date();
    const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (day.toDateString() === today.toDateString()) return "Today";
    if (day.toDateString() === yesterday.toDateString()) return "Yesterday";
    const options = { weekday: "short", day: "numeric", month: "short" };
    if (day.getFullYear() !== today.getFullYear()) options.year = "numeric";
    return day.toLocaleDateString([], options);
  }

  // Date separators, a sender's consecutive messages grouped, the "new messages" divider.
  decorate(item) {
    if (!item.dataset.ts) return;
    let previous = item.previousElementSibling;
    while (previous && !previous.dataset.ts) previous = previous.previousElementSibling;
    const day = ChatMessages.dayLabel(Number(item.dataset.ts));
    const newDay = !previous || ChatMessages.dayLabel(Number(previous.dataset.ts)) !== day;
    const firstUnread = this.readAtOpen > 0 && Number(item.dataset.seq) === this.readAtOpen + 1 &&
      item.dataset.userId !== this.userId;
    const text = [newDay ? day : "", firstUnread ? "New messages" : ""].filter(Boolean).join(" · ");
    let divider = item.previousElementSibling;
    if (!divider || !divider.classList.contains("divider")) divider = null;
    if (text && !divider) {
      divider = document.createElement("li");
      divider.className = "divider";
      item.before(divider);
    }
    if (divider && !text) divider.remove();
    if (divider && text) {
      divider.textContent = text;
      divider.classList.toggle("unread-divider", firstUnread);
    }
    const continued = !newDay && !firstUnread && previous.dataset.userId === item.dataset.userId &&
      Number(item.dataset.ts) - Number(previous.dataset.ts) < 5 * 60 * 1000;
    item.classList.toggle("continued", continued);
  }

  // A send that failed: why, and its Retry (if `retry`) and Dismiss buttons (their clicks go to
  // the page's one listener for message buttons, as data-act "retry" and "dismiss"). Failed
  // sends stay in the Tab order (they are not messages yet): their buttons are how they are
  // handled.
  markFailed(element, why, { retry }) {
    element.classList.remove("pending");
    element.classList.add("failed");
    for (const old of element.querySelectorAll(".why, .progress")) old.remove();
    const reason = document.createElement("div");
    reason.className = "why";
    reason.textContent = why;
    if (retry) {
      const again = Object.assign(document.createElement("button"), { type: "button", className: "retry", textContent: "Retry" });
      again.dataset.act = "retry";
      reason.append(" ", again);
    }
    const gone = Object.assign(document.createElement("button"), { type: "button", className: "dismiss", textContent: "Dismiss" });
    gone.setAttribute("aria-label", "Dismiss this message that was not sent");
    gone.dataset.act = "dismiss";
    reason.append(" ", gone);
    element.append(reason);
  }

  // A refusal said on the message for a few seconds.
  static say(item, detail) {
    const why = document.createElement("div");
    why.className = "why";
    why.textContent = detail;
    item.append(why);
    setTimeout(() => why.remove(), 6000);
  }

  // The inline editor of your message: Enter saves (`save(text, before)`, only a real change
  // within the limit), Escape cancels; `done()` after either.
  edit(item, save, done) {
    if (item.querySelector(".editor")) return;
    const body = item.querySelector(".body");
    const editor = document.createElement("textarea");
    editor.className = "editor";
    editor.value = body.textContent;
    editor.maxLength = this.maxLength;
    editor.setAttribute("aria-label", "Edit the message; Enter saves, Escape cancels");
    body.hidden = true;
    body.after(editor);
    editor.focus();
    const finish = () => {
      editor.remove();
      body.hidden = false;
      done();
    };
    editor.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        finish();
      } else if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        const text = editor.value;
        if (text.trim() && text !== body.textContent && text.length <= this.maxLength) {
          // Shown at once; the server's messageEdited confirms it, a refusal puts it back.
          save(text, { text: body.textContent, edited: Boolean(item.querySelector(".edited")) });
          this.setBody(body, text);
          this.markEdited(item);
        }
        finish();
      }
    });
  }
}
