// The chat page: history with scroll-back, live messages, pending sends until acked,
// catch-up after reconnects or seq gaps, typing and read state. All user text goes through
// textContent, never innerHTML.
"use strict";

(function () {
  const data = JSON.parse(document.getElementById("chat-data").textContent);
  const chatId = data.chatId;
  const list = document.getElementById("messages");
  const scroller = document.getElementById("scroller");
  const olderButton = document.getElementById("load-older");
  const typingLine = document.getElementById("typing");
  const composer = document.getElementById("composer");
  const input = document.getElementById("message-input");

  // How far each member has received and read the chat: userId -> {username, delivered, read}.
  const receipts = new Map(data.receipts.map((r) => [r.userId, r]));
  const shown = new Map(); // messageId -> element
  const seqs = new Set(); // seqs present in the view
  const pending = new Map(); // clientMessageId -> {text, element, sentAt}
  let contiguous = 0; // every seq <= contiguous is in the view
  let nextCursor = null;
  let joined = false;
  let syncing = false;
  let readSent = 0;
  let readTimer = null;
  let typingSentAt = 0;
  const typingTimers = new Map();

  function formatTime(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function buildMessage(message) {
    const item = document.createElement("li");
    item.className = "message" + (message.userId === data.userId ? " mine" : "");
    if (message.kind === "system") item.classList.add("system");
    item.dataset.seq = String(message.seq);
    item.dataset.messageId = message.messageId;
    item.dataset.userId = message.userId;
    item.dataset.ts = String(message.timestamp);
    const meta = document.createElement("div");
    meta.className = "meta";
    const avatar = document.createElement("span");
    avatar.className = "avatar small";
    avatar.setAttribute("aria-hidden", "true");
    avatar.dataset.hue = String([...String(message.userId)].reduce((sum, c) => sum + c.charCodeAt(0), 0) % 8);
    avatar.textContent = (message.username || "?").slice(0, 2).toUpperCase();
    meta.append(avatar);
    const who = document.createElement("span");
    who.className = "author";
    who.textContent = message.username;
    const when = document.createElement("time");
    when.dateTime = message.createdAt || new Date(message.timestamp).toISOString();
    when.textContent = formatTime(message.timestamp);
    meta.append(who, " ", when);
    const body = document.createElement("div");
    body.className = "body";
    body.textContent = message.message;
    item.append(meta);
    if (message.replyTo) item.append(buildQuote(message.replyTo));
    item.append(body);
    if (message.attachments && message.attachments.length) {
      item.append(ChatFiles.render(message.attachments));
    }
    if (message.edited) markEdited(item);
    if (message.deleted) {
      markDeleted(item);
    } else if (message.messageId && message.kind !== "system") {
      item.append(buildReactions(message.reactions || []), messageActions(item, message.userId === data.userId));
    }
    return item;
  }

  // A reply's quote of the message it answers; a click scrolls to that message.
  function buildQuote(quote) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "quote";
    button.dataset.quoteSeq = String(quote.seq);
    fillQuote(button, quote);
    button.addEventListener("click", () => jumpTo(quote.seq));
    return button;
  }

  function fillQuote(button, quote) {
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

  function updateQuotes(seq, change) {
    for (const button of list.querySelectorAll(`.quote[data-quote-seq="${seq}"]`)) change(button);
  }

  // Reactions: one chip per emoji with its count; yours is pressed, and a click takes it back.
  const QUICK_REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

  function buildReactions(reactions) {
    const row = document.createElement("div");
    row.className = "reactions";
    renderReactions(row, reactions);
    return row;
  }

  function renderReactions(row, reactions) {
    row.replaceChildren();
    const item = row.closest(".message");
    for (const reaction of reactions) {
      const mine = reaction.userIds.includes(data.userId);
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "reaction";
      chip.setAttribute("aria-pressed", String(mine));
      chip.textContent = `${reaction.emoji} ${reaction.count}`;
      const names = reaction.userIds.map((id) => (receipts.get(id) || { username: "someone" }).username);
      chip.title = names.join(", ");
      // The accessible name starts with the visible text ("👍 2").
      chip.setAttribute("aria-label", `${chip.textContent}: ${names.join(", ")}${mine ? "; click to take yours back" : "; click to add yours"}`);
      chip.addEventListener("click", () => react(row.closest(".message") || item, reaction.emoji, !mine));
      row.append(chip);
    }
    row.hidden = !reactions.length;
  }

  function react(item, emoji, on) {
    if (!socket || !item) return;
    socket.send({ action: "react", chatId, messageId: item.dataset.messageId, emoji, on });
  }

  function setReactions(messageId, reactions) {
    const item = shown.get(messageId);
    const row = item && item.querySelector(".reactions");
    if (row) renderReactions(row, reactions);
  }

  // Your message's state from the others' watermarks: sent ✓, delivered ✓✓, read (blue ✓✓);
  // in a group, "read by N" with their names on hover.
  function renderReceipt(item) {
    const seq = Number(item.dataset.seq);
    if (!seq || !item.classList.contains("mine") || item.classList.contains("deleted")) return;
    if (item.classList.contains("system")) return;
    const others = [...receipts.values()].filter((r) => r.userId !== data.userId);
    if (!others.length) return;
    let mark = item.querySelector(".receipt");
    if (!mark) {
      mark = document.createElement("span");
      mark.className = "receipt";
      item.querySelector(".meta").append(mark);
    }
    const readers = others.filter((r) => r.read >= seq);
    const delivered = others.every((r) => r.delivered >= seq || r.read >= seq);
    let state = delivered ? "delivered" : "sent";
    let text = delivered ? " ✓✓" : " ✓";
    if (readers.length === others.length) {
      state = "read";
    }
    if (data.chatType === "group" && readers.length) {
      text = ` ✓✓ read by ${readers.length}`;
      mark.title = `Read by ${readers.map((r) => r.username).join(", ")}`;
    } else {
      mark.title = { sent: "Sent", delivered: "Delivered", read: "Read" }[state];
    }
    mark.dataset.state = state;
    mark.textContent = text;
    mark.setAttribute("aria-label", mark.title);
  }

  function renderReceipts() {
    for (const item of list.querySelectorAll(".message.mine")) renderReceipt(item);
  }

  function moveWatermark(userId, field, seq) {
    const entry = receipts.get(userId);
    if (!entry) return;
    entry[field] = Math.max(entry[field], seq);
    if (field === "read") entry.delivered = Math.max(entry.delivered, seq);
    renderReceipts();
  }

  // A hidden page still tells senders that their messages arrived (once a second at most).
  let deliveredTimer = null;
  let deliveredSeq = 0;
  function scheduleDelivered(seq) {
    deliveredSeq = Math.max(deliveredSeq, seq);
    if (deliveredTimer || !socket) return;
    deliveredTimer = setTimeout(() => {
      deliveredTimer = null;
      socket.send({ action: "markDelivered", chatId, seq: deliveredSeq });
    }, 1000);
  }

  // Where the unread part started when the page opened: a "New messages" divider goes there.
  const readAtOpen = (receipts.get(data.userId) || { read: 0 }).read;

  function dayLabel(ms) {
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
  function decorate(item) {
    if (!item.dataset.ts) return;
    let previous = item.previousElementSibling;
    while (previous && !previous.dataset.ts) previous = previous.previousElementSibling;
    const day = dayLabel(Number(item.dataset.ts));
    const newDay = !previous || dayLabel(Number(previous.dataset.ts)) !== day;
    const firstUnread = readAtOpen > 0 && Number(item.dataset.seq) === readAtOpen + 1 &&
      item.dataset.userId !== data.userId;
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

  function markEdited(item) {
    const meta = item.querySelector(".meta");
    if (meta.querySelector(".edited")) return;
    const label = document.createElement("span");
    label.className = "edited";
    label.textContent = " · edited";
    meta.append(label);
  }

  // A message's action button: its class, text, accessible name and what a click does.
  function actionButton(className, text, label, onClick) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = className;
    button.textContent = text;
    button.setAttribute("aria-label", label);
    button.addEventListener("click", onClick);
    return button;
  }

  // Reply and react on every message; edit and delete on your own.
  function messageActions(item, own) {
    const actions = document.createElement("div");
    actions.className = "actions";
    const reply = actionButton("reply", "Reply", "Reply to this message", () => startReply(item));
    const reactButton = actionButton("react", "React", "React with an emoji", () =>
      togglePalette(item, reactButton),
    );
    reactButton.setAttribute("aria-expanded", "false");
    actions.append(reply, reactButton);
    if (own) actions.append(...ownButtons(item));
    return actions;
  }

  function togglePalette(item, opener) {
    const open = item.querySelector(".palette");
    if (open) {
      open.remove();
      opener.setAttribute("aria-expanded", "false");
      return;
    }
    const close = () => {
      palette.remove();
      opener.setAttribute("aria-expanded", "false");
      opener.focus();
    };
    const palette = document.createElement("div");
    palette.className = "palette";
    palette.setAttribute("role", "group");
    palette.setAttribute("aria-label", "Reactions");
    for (const emoji of QUICK_REACTIONS) {
      const choice = document.createElement("button");
      choice.type = "button";
      choice.textContent = emoji;
      choice.setAttribute("aria-label", `React with ${emoji}`);
      choice.addEventListener("click", () => {
        const row = item.querySelector(".reactions");
        const chip = [...row.querySelectorAll(".reaction")].find((c) => c.textContent.startsWith(`${emoji} `));
        react(item, emoji, !(chip && chip.getAttribute("aria-pressed") === "true"));
        close();
      });
      palette.append(choice);
    }
    palette.addEventListener("keydown", (event) => {
      if (event.key === "Escape") close();
    });
    opener.parentElement.after(palette);
    opener.setAttribute("aria-expanded", "true");
    palette.querySelector("button").focus();
  }

  // The message the next send answers, shown above the composer until sent or cancelled.
  let replyingTo = null;
  const replyBar = document.getElementById("reply-bar");
  function startReply(item) {
    const body = item.querySelector(".body");
    replyingTo = {
      messageId: item.dataset.messageId,
      seq: Number(item.dataset.seq),
      username: item.querySelector(".author").textContent,
      message: body.textContent.slice(0, 200),
    };
    replyBar.querySelector(".reply-text").replaceChildren(
      "Replying to ", Object.assign(document.createElement("b"), { textContent: replyingTo.username }),
      `: ${replyingTo.message}`,
    );
    replyBar.hidden = false;
    input.focus();
  }

  function stopReply() {
    replyingTo = null;
    replyBar.hidden = true;
  }

  function ownButtons(item) {
    const edit = actionButton("edit", "Edit", "Edit this message", () => startEdit(item));
    const remove = actionButton("delete", "Delete", "Delete this message", () => {
      if (!window.confirm("Delete this message for everyone?")) return;
      socket.send({ action: "deleteMessage", chatId, messageId: item.dataset.messageId });
    });
    return [edit, remove];
  }

  function startEdit(item) {
    if (item.querySelector(".editor")) return;
    const body = item.querySelector(".body");
    const editor = document.createElement("textarea");
    editor.className = "editor";
    editor.value = body.textContent;
    editor.maxLength = data.maxLength;
    editor.setAttribute("aria-label", "Edit the message; Enter saves, Escape cancels");
    body.hidden = true;
    body.after(editor);
    editor.focus();
    const finish = () => {
      editor.remove();
      body.hidden = false;
    };
    editor.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        finish();
      } else if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        const text = editor.value;
        if (text.trim() && text !== body.textContent) {
          socket.send({ action: "editMessage", chatId, messageId: item.dataset.messageId, message: text });
        }
        finish();
      }
    });
  }

  function markDeleted(item) {
    item.classList.add("deleted");
    item.querySelector(".body").textContent = "message deleted";
    for (const gone of item.querySelectorAll(".attachments, .actions, .editor, .edited, .reactions, .palette")) {
      gone.remove();
    }
  }

  // A moderator's change: read-only (locked, archived), or no longer ours (removed, deleted).
  const notice = document.getElementById("chat-notice");
  function setReadOnly(readOnly, why) {
    notice.hidden = !readOnly;
    notice.textContent = readOnly ? why : "";
    input.disabled = readOnly;
    document.getElementById("send").disabled = readOnly;
    document.getElementById("attach").disabled = readOnly;
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  // Put a stored message in its seq position, once.
  function show(message) {
    if (shown.has(message.messageId)) return;
    const stick = nearBottom();
    const pendingEntry = message.userId === data.userId ? pending.get(message.clientMessageId) : null;
    if (pendingEntry) {
      pendingEntry.element.remove();
      pending.delete(message.clientMessageId);
    }
    const element = buildMessage(message);
    let before = null;
    for (const child of list.children) {
      if (child.classList.contains("pending") || Number(child.dataset.seq) > message.seq) {
        before = child;
        break;
      }
    }
    // A later message's divider stays with it.
    if (before && before.previousElementSibling && before.previousElementSibling.classList.contains("divider")) {
      before = before.previousElementSibling;
    }
    list.insertBefore(element, before);
    shown.set(message.messageId, element);
    renderReceipt(element);
    decorate(element);
    let next = element.nextElementSibling;
    while (next && next.classList.contains("divider")) next = next.nextElementSibling;
    if (next) decorate(next);
    seqs.add(message.seq);
    while (seqs.has(contiguous + 1)) contiguous += 1;
    if (stick) scroller.scrollTop = scroller.scrollHeight;
  }

  function requestSync() {
    if (!joined || syncing || !socket) return;
    syncing = socket.send({ action: "sync", chatId, afterSeq: contiguous });
  }

  function scheduleRead() {
    if (!socket || document.hidden || contiguous <= readSent || readTimer) return;
    readTimer = setTimeout(() => {
      readTimer = null;
      if (contiguous > readSent && socket.send({ action: "markRead", chatId, seq: contiguous })) {
        readSent = contiguous;
      }
    }, 800);
  }

  function sendPending(clientMessageId) {
    const entry = pending.get(clientMessageId);
    if (!entry || entry.uploading || !joined || !socket) return;
    entry.sentAt = Date.now();
    const frame = { action: "sendMessage", chatId, message: entry.text, clientMessageId };
    if (entry.attachments.length) frame.attachments = entry.attachments;
    if (entry.replyTo) frame.replyTo = entry.replyTo.messageId;
    socket.send(frame);
  }

  function fail(clientMessageId, why, retry) {
    const entry = pending.get(clientMessageId);
    if (!entry) return;
    entry.element.classList.remove("pending");
    entry.element.classList.add("failed");
    for (const old of entry.element.querySelectorAll(".why, .progress")) old.remove();
    const reason = document.createElement("div");
    reason.className = "why";
    reason.textContent = why;
    if (retry) {
      const again = document.createElement("button");
      again.type = "button";
      again.className = "retry";
      again.textContent = "Retry";
      again.addEventListener("click", () => {
        entry.element.remove();
        pending.delete(clientMessageId);
        retry();
      });
      reason.append(" ", again);
    }
    entry.element.append(reason);
    pending.delete(clientMessageId);
  }

  // A file: shown at once as a pending message with a progress bar, uploaded, then sent.
  function addFile(file) {
    const clientMessageId = addPending("", { uploading: true, fileName: file.name || "pasted image" });
    const entry = pending.get(clientMessageId);
    const refused = ChatFiles.refusal(file, data);
    if (refused) {
      fail(clientMessageId, refused, null);
      return;
    }
    const bar = document.createElement("progress");
    bar.className = "progress";
    bar.max = 1;
    bar.value = 0;
    entry.element.append(bar);
    ChatFiles.upload(file, chatId, (fraction) => {
      bar.value = fraction;
    }).then(
      (attachmentId) => {
        bar.remove();
        entry.uploading = false;
        entry.attachments = [attachmentId];
        sendPending(clientMessageId);
      },
      (err) => fail(clientMessageId, err.message, () => addFile(file)),
    );
  }

  function addPending(text, { uploading = false, fileName = "" } = {}) {
    const clientMessageId = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
    const element = buildMessage({
      userId: data.userId,
      username: data.username,
      message: text,
      timestamp: Date.now(),
      seq: "",
      messageId: "",
      replyTo: replyingTo,
    });
    element.classList.add("pending");
    element.dataset.clientMessageId = clientMessageId;
    if (fileName) {
      const name = document.createElement("div");
      name.className = "file-name";
      name.textContent = fileName;
      element.append(name);
    }
    list.append(element);
    scroller.scrollTop = scroller.scrollHeight;
    pending.set(clientMessageId, { text, element, sentAt: 0, uploading, attachments: [], replyTo: replyingTo });
    stopReply();
    sendPending(clientMessageId);
    return clientMessageId;
  }

  function onFrame(frame) {
    // The page's socket also carries the chat list's chats.
    if (frame.chatId && frame.chatId !== chatId) return;
    switch (frame.type) {
      case "joined":
        joined = true;
        setReadOnly(Boolean(frame.readOnly), "This chat is read-only: a moderator locked it.");
        if (frame.lastSeq > contiguous) requestSync();
        for (const clientMessageId of pending.keys()) sendPending(clientMessageId);
        scheduleRead(); // what the page showed before the socket was up is read too
        break;
      case "history":
        syncing = false;
        for (const message of frame.messages) show(message);
        if (frame.hasMore) requestSync();
        scheduleRead();
        break;
      case "message":
        stopTyping(frame.message.username);
        show(frame.message);
        if (frame.message.userId !== data.userId) {
          scheduleDelivered(frame.message.seq);
          if (document.hidden) {
            unseen += 1;
            ChatNotify.setUnread(unseen);
            ChatNotify.message(document.querySelector(".chat-header h1").textContent, frame.message, null);
          }
        }
        if (frame.message.seq > contiguous) requestSync();
        scheduleRead();
        break;
      case "ack": {
        const entry = pending.get(frame.clientMessageId);
        // A message with files is shown from its message frame (or sync), which has them.
        if (entry && !entry.attachments.length) {
          show({
            chatId,
            seq: frame.seq,
            messageId: frame.messageId,
            clientMessageId: frame.clientMessageId,
            userId: data.userId,
            username: data.username,
            message: entry.text,
            timestamp: frame.timestamp,
            replyTo: entry.replyTo,
          });
        }
        if (frame.seq > contiguous) requestSync();
        scheduleRead();
        break;
      }
      case "typing":
        if (frame.userId !== data.userId) showTyping(frame.username);
        break;
      case "read":
        moveWatermark(frame.userId, "read", frame.seq);
        break;
      case "delivered":
        moveWatermark(frame.userId, "delivered", frame.seq);
        break;
      case "chatUpdated":
        setReadOnly(frame.readOnly, "This chat is read-only: a moderator locked it.");
        if (frame.chatName) document.querySelector(".chat-title h1").textContent = frame.chatName;
        break;
      case "messageEdited": {
        const item = shown.get(frame.messageId);
        if (item) {
          item.querySelector(".body").textContent = frame.message;
          markEdited(item);
          const quote = { seq: frame.seq, username: item.querySelector(".author").textContent, message: frame.message.slice(0, 200) };
          updateQuotes(frame.seq, (button) => fillQuote(button, quote));
        }
        break;
      }
      case "messageDeleted": {
        const item = shown.get(frame.messageId);
        if (item) markDeleted(item);
        updateQuotes(frame.seq, (button) => fillQuote(button, { seq: frame.seq, deleted: true }));
        if (replyingTo && replyingTo.seq === frame.seq) stopReply();
        break;
      }
      case "reactions":
      case "reacted":
        setReactions(frame.messageId, frame.reactions);
        break;
      case "removed":
        setReadOnly(true, "You were removed from this chat.");
        break;
      case "chatDeleted":
        setReadOnly(true, "This chat was deleted.");
        break;
      case "error": {
        const later = (retry) => setTimeout(retry, 1000 + Math.random() * 1000);
        if (frame.action === "sync") {
          syncing = false;
          if (frame.retryable) later(requestSync);
        }
        if ((frame.action === "editMessage" || frame.action === "deleteMessage") && frame.messageId) {
          const item = shown.get(frame.messageId);
          if (item) {
            const why = document.createElement("div");
            why.className = "why";
            why.textContent = frame.detail;
            item.append(why);
            setTimeout(() => why.remove(), 6000);
          }
        }
        if (frame.action === "joinChat" && frame.retryable) {
          later(() => socket.send({ action: "joinChat", chatId }));
        }
        const entry = frame.clientMessageId && pending.get(frame.clientMessageId);
        if (entry && frame.retryable) {
          later(() => sendPending(frame.clientMessageId));
        } else if (entry) {
          // Refused for good (not retryable): say why on the message, and do not resend it.
          fail(frame.clientMessageId, frame.detail, null);
        }
        break;
      }
      default:
        break;
    }
  }

  function showTyping(username) {
    clearTimeout(typingTimers.get(username));
    typingTimers.set(username, setTimeout(() => {
      typingTimers.delete(username);
      renderTyping();
    }, 3000));
    renderTyping();
  }

  // Their message arrived: they are no longer typing it.
  function stopTyping(username) {
    if (!typingTimers.has(username)) return;
    clearTimeout(typingTimers.get(username));
    typingTimers.delete(username);
    renderTyping();
  }

  function renderTyping() {
    const names = [...typingTimers.keys()];
    typingLine.textContent = names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "";
  }

  // Fetch a page of history: the newest page first, then older pages by cursor.
  async function loadPage() {
    const params = new URLSearchParams({ limit: "50" });
    if (nextCursor) params.set("cursor", nextCursor);
    const response = await fetch(`/api/chats/${chatId}/messages?${params}`, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`history request failed: ${response.status}`);
    return response.json();
  }

  async function loadOlder() {
    const hadFocus = document.activeElement === olderButton;
    olderButton.disabled = true;
    try {
      const page = await loadPage();
      const height = scroller.scrollHeight;
      for (const message of page.messages) show(message);
      nextCursor = page.nextCursor;
      olderButton.hidden = !page.hasMore;
      scroller.scrollTop += scroller.scrollHeight - height;
    } catch (err) {
      // Offline: the button stays, and the next click tries again.
    } finally {
      olderButton.disabled = false;
      // The oldest page reached, the button goes: keep keyboard focus in the conversation.
      if (hadFocus && (olderButton.hidden || document.activeElement !== olderButton)) list.focus();
    }
  }

  // Bring a message into view (a quote's original, a search result), loading older pages as
  // needed (at most JUMP_PAGES of them), and highlight it.
  const JUMP_PAGES = 40;
  async function jumpTo(seq) {
    for (let pages = 0; !seqs.has(seq) && !olderButton.hidden && pages < JUMP_PAGES; pages += 1) {
      await loadOlder();
    }
    const item = list.querySelector(`.message[data-seq="${seq}"]`);
    if (!item) return false;
    item.scrollIntoView({ block: "center" });
    item.classList.add("highlight");
    setTimeout(() => item.classList.remove("highlight"), 2500);
    item.tabIndex = -1;
    item.focus({ preventScroll: true });
    return true;
  }

  replyBar.querySelector(".cancel-reply").addEventListener("click", () => {
    stopReply();
    input.focus();
  });

  const fileInput = document.getElementById("file-input");
  document.getElementById("attach").addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => {
    for (const file of fileInput.files) addFile(file);
    fileInput.value = "";
  });
  const dropZone = document.querySelector(".chat");
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
    for (const file of event.dataTransfer.files) addFile(file);
  });
  input.addEventListener("paste", (event) => {
    const files = event.clipboardData ? [...event.clipboardData.files] : [];
    if (!files.length) return;
    event.preventDefault();
    for (const file of files) addFile(file);
  });

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    if (text.length > data.maxLength) return;
    input.value = "";
    addPending(text);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      composer.requestSubmit();
    } else if (event.key === "Escape" && replyingTo) {
      stopReply();
    }
  });
  input.addEventListener("input", () => {
    if (joined && socket && Date.now() - typingSentAt > 2000) {
      typingSentAt = Date.now();
      socket.send({ action: "typing", chatId });
    }
  });
  olderButton.addEventListener("click", loadOlder);
  const jumpButton = document.getElementById("jump-latest");
  jumpButton.addEventListener("click", () => {
    scroller.scrollTop = scroller.scrollHeight;
    list.focus();
  });
  scroller.addEventListener("scroll", () => {
    jumpButton.hidden = nearBottom();
  });
  scroller.addEventListener("scroll", () => {
    if (scroller.scrollTop === 0 && !olderButton.hidden && !olderButton.disabled) loadOlder();
  });
  document.addEventListener("visibilitychange", scheduleRead);
  // Messages that arrived while the page was hidden count in its title until it is seen.
  let unseen = 0;
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      unseen = 0;
      ChatNotify.setUnread(0);
    }
  });
  // An unacked message is sent again (same clientMessageId) if its ack is slow to come.
  setInterval(() => {
    for (const [clientMessageId, entry] of pending) {
      if (Date.now() - entry.sentAt > 10000) sendPending(clientMessageId);
    }
  }, 2000);

  // The newest page sets where the live view starts; older pages come only by scrolling back,
  // and everything after it comes over the socket (live frames and sync).
  async function start() {
    for (let delay = 500; ; delay = Math.min(delay * 2, 10000)) {
      try {
        const page = await loadPage();
        if (page.messages.length) contiguous = page.messages[page.messages.length - 1].seq - 1;
        for (const message of page.messages) show(message);
        nextCursor = page.nextCursor;
        olderButton.hidden = !page.hasMore;
        scroller.scrollTop = scroller.scrollHeight;
        // Opened at a message (a search result): show it in its context.
        const wanted = Number(new URLSearchParams(window.location.search).get("seq"));
        if (wanted > 0) jumpTo(wanted);
        break;
      } catch (err) {
        showConnectionState("reconnecting");
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    socket = ChatSocket.join({
      onOpen() {
        joined = false;
        syncing = false;
        this.send({ action: "joinChat", chatId });
      },
      onFrame,
      onState(state) {
        if (state !== "connected") joined = false;
      },
    });
    scheduleRead();
  }

  let socket = null;
  start();
})();
