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
  let socket = null; // the page's socket (static/chat/socket.js), once the first page is shown
  // What the view holds and owes (seqs, pending sends, catch-up): static/chat/delivery.js.
  const delivery = new ChatDelivery({ chatId, send: (frame) => (socket ? socket.send(frame) : false) });
  const pending = delivery.pending; // clientMessageId -> {text, element, sentAt, ...}
  let nextCursor = null;
  let readTimer = null;
  let unseen = 0; // others' messages that reached the page while it was hidden
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
    avatar.dataset.hue = String(ChatText.hue(message.userId));
    avatar.textContent = (message.username || "?").slice(0, 2).toUpperCase();
    meta.append(avatar);
    const who = document.createElement("span");
    who.className = "author";
    who.textContent = message.username;
    const when = document.createElement("time");
    when.dateTime = message.createdAt || new Date(message.timestamp).toISOString();
    when.textContent = formatTime(message.timestamp);
    meta.append(who, " ", when);
    item.title = when.dateTime ? new Date(message.timestamp).toLocaleString() : "";
    const body = document.createElement("div");
    body.className = "body";
    setBody(body, message.message);
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
    item.tabIndex = -1;
    outOfTabOrder(item);
    return item;
  }

  // A message's text, its web links clickable (built as DOM nodes, never as HTML).
  function setBody(body, text) {
    body.replaceChildren(...ChatText.linkify(text || ""));
  }

  // -- Keyboard: the conversation is one stop in the Tab order (static/chat/keys.js).
  const keys = new ChatKeys({
    list,
    onEscape: () => input.focus(),
    onTop: () => {
      if (!olderButton.hidden) loadOlder();
    },
  });
  const outOfTabOrder = (item) => keys.outOfTabOrder(item);
  const keepTabStop = () => keys.keepTabStop();

  // A reply's quote of the message it answers; a click scrolls to that message.
  function buildQuote(quote) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "quote";
    button.dataset.quoteSeq = String(quote.seq);
    button.dataset.act = "quote";
    fillQuote(button, quote);
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

  // Reactions: one chip per emoji with its count (static/chat/reactions.js).
  const nameOf = (userId) => (receipts.get(userId) || { username: "someone" }).username;
  const buildReactions = (reactions) => ChatReactions.row(reactions, data.userId, nameOf);
  const renderReactions = (row, reactions) => ChatReactions.render(row, reactions, data.userId, nameOf);

  function react(item, emoji, on) {
    if (!item) return;
    act({ action: "react", chatId, messageId: item.dataset.messageId, emoji, on });
  }

  // -- Reactions, edits and deletes: sent now, or kept and sent again once the chat is joined
  // again, until the server says it happened (or refused it, which is shown on the message).
  const actions = new Map(); // "action:messageId[:emoji]" -> frame
  const editedFrom = new Map(); // messageId -> {text, edited}: what an unconfirmed edit replaced
  function actionKey(frame) {
    return [frame.action, frame.messageId, frame.emoji || ""].join(":");
  }

  function act(frame) {
    actions.set(actionKey(frame), frame);
    markWaiting(frame.messageId);
    if (delivery.joined && socket) socket.send(frame);
  }

  function settle(key) {
    const frame = actions.get(key);
    if (!frame) return;
    actions.delete(key);
    markWaiting(frame.messageId);
  }

  // A message with an action not yet confirmed says so while the connection is down.
  function markWaiting(messageId) {
    const item = shown.get(messageId);
    if (!item) return;
    const waiting = [...actions.values()].some((f) => f.messageId === messageId);
    item.classList.toggle("waiting", waiting && !delivery.joined);
  }

  // Unsent messages and unconfirmed actions keep a link clicked offline waiting once back.
  ChatSocket.hold(() => actions.size > 0 || [...pending.values()].some((entry) => !entry.uploading));

  function resendActions() {
    for (const frame of actions.values()) {
      markWaiting(frame.messageId);
      socket.send(frame);
    }
  }

  function setReactions(messageId, reactions) {
    for (const [key, frame] of actions) {
      if (frame.action !== "react" || frame.messageId !== messageId) continue;
      const chip = reactions.find((r) => r.emoji === frame.emoji);
      if (Boolean(chip && chip.userIds.includes(data.userId)) === frame.on) settle(key);
    }
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

  // A message's action button: its class (also what a click does: the list's one listener
  // below), text and accessible name.
  function actionButton(className, text, label) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = className;
    button.dataset.act = className;
    button.textContent = text;
    button.setAttribute("aria-label", label);
    return button;
  }

  // Reply and react on every message; edit and delete on your own.
  function messageActions(item, own) {
    const actions = document.createElement("div");
    actions.className = "actions";
    const reactButton = actionButton("react", "React", "React with an emoji");
    reactButton.setAttribute("aria-expanded", "false");
    actions.append(actionButton("reply", "Reply", "Reply to this message"), reactButton);
    if (own) {
      actions.append(
        actionButton("edit", "Edit", "Edit this message"),
        actionButton("delete", "Delete", "Delete this message"),
      );
    }
    return actions;
  }

  const closePalette = (item) => ChatReactions.closePalette(item);
  const togglePalette = (item, opener) => ChatReactions.togglePalette(item, opener);

  // The message the next send answers, shown above the composer until sent or cancelled.
  let replyingTo = null;
  const replyBar = document.getElementById("reply-bar");
  function startReply(item) {
    const body = item.querySelector(".body");
    replyingTo = {
      messageId: item.dataset.messageId,
      seq: Number(item.dataset.seq),
      username: item.querySelector(".author").textContent,
      message: body.textContent.slice(0, data.quoteLength),
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

  // One listener for every message's buttons, whichever message they are on (data-act says
  // what a button does).
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-act]");
    const item = button && button.closest(".message");
    if (!item || !list.contains(item)) return;
    switch (button.dataset.act) {
      case "reply":
        startReply(item);
        break;
      case "react":
        togglePalette(item, button);
        break;
      case "emoji": {
        const emoji = button.dataset.emoji;
        const chip = [...item.querySelectorAll(".reactions .reaction")].find((c) => c.dataset.emoji === emoji);
        react(item, emoji, !(chip && chip.getAttribute("aria-pressed") === "true"));
        closePalette(item);
        break;
      }
      case "reaction":
        react(item, button.dataset.emoji, button.dataset.on === "true");
        break;
      case "edit":
        startEdit(item);
        break;
      case "delete":
        if (!window.confirm("Delete this message for everyone?")) return;
        act({ action: "deleteMessage", chatId, messageId: item.dataset.messageId });
        input.focus();
        break;
      case "quote":
        jumpTo(Number(button.dataset.quoteSeq));
        break;
    }
  });

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
      input.focus();
    };
    editor.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        finish();
      } else if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        const text = editor.value;
        if (text.trim() && text !== body.textContent && text.length <= data.maxLength) {
          // Shown at once; the server's messageEdited confirms it, a refusal puts it back.
          if (!editedFrom.has(item.dataset.messageId)) {
            editedFrom.set(item.dataset.messageId, { text: body.textContent, edited: Boolean(item.querySelector(".edited")) });
          }
          act({ action: "editMessage", chatId, messageId: item.dataset.messageId, message: text });
          setBody(body, text);
          markEdited(item);
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

  // The header and the tab's title follow a rename; the members line, the group's changes.
  function renamed(name) {
    document.querySelector(".chat-title h1").textContent = name;
    document.querySelector(".chat-header .avatar").textContent = ChatText.initials(name);
    ChatNotify.rename(`${name} · Chat`);
  }

  async function refreshMembers() {
    try {
      const response = await fetch(`/api/chats/${chatId}`, { credentials: "same-origin" });
      if (!response.ok) return;
      const chat = await response.json();
      const line = document.querySelector(".chat-title .members");
      line.replaceChildren();
      chat.members.forEach((member, i) => {
        const name = document.createElement("span");
        name.className = "member";
        name.dataset.userId = member.userId;
        if (member.userId !== data.userId) name.dataset.presenceUser = member.userId;
        name.textContent = member.username;
        if (i) line.append(", ");
        line.append(name);
      });
    } catch (err) {
      // Offline: the next group change refreshes it.
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
  // Puts a message on the page; false if it was there already.
  function show(message) {
    const { added, settled } = delivery.add(message, data.userId);
    if (!added) return false;
    const stick = nearBottom();
    if (settled) settled.element.remove();
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
    if (stick) scroller.scrollTop = scroller.scrollHeight;
    keepTabStop();
    return true;
  }

  // Others' messages that reach a hidden page, by a live frame or by catch-up, count in its
  // title (once each) until it is seen; the newest is notified.
  function arrivedHidden(messages) {
    const others = messages.filter((message) => message.userId !== data.userId);
    if (!document.hidden || !others.length) return;
    unseen += others.length;
    ChatNotify.setUnread("room", unseen);
    const newest = others[others.length - 1];
    ChatNotify.message(document.querySelector(".chat-header h1").textContent, newest, null);
  }

  function requestSync() {
    delivery.requestSync();
  }

  function scheduleRead() {
    if (!socket || document.hidden || !delivery.readDue() || readTimer) return;
    readTimer = setTimeout(() => {
      readTimer = null;
      const seq = delivery.readDue();
      if (seq && socket.send({ action: "markRead", chatId, seq })) delivery.readMarked(seq);
    }, 800);
  }

  function sendPending(clientMessageId) {
    delivery.sendPending(clientMessageId);
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
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "dismiss";
    dismiss.textContent = "Dismiss";
    dismiss.setAttribute("aria-label", "Dismiss this message that was not sent");
    dismiss.addEventListener("click", () => {
      entry.element.remove();
      input.focus();
    });
    reason.append(" ", dismiss);
    entry.element.append(reason);
    pending.delete(clientMessageId);
    // Failed sends stay in the Tab order (they are not messages yet): their buttons are how
    // they are retried or dismissed.
  }

  // -- Files waiting in a tray above the message box (static/chat/tray.js); Send uploads them
  // and sends one message with them and the text as its caption.
  const fileTray = new ChatTray({
    tray: document.getElementById("tray"),
    limits: data,
    input,
    onChange: () => updateCount(),
  });

  // Upload the files, then send them in one message with `text`; shown at once as a pending
  // message with the files' names and a progress bar.
  function sendFiles(files, text) {
    const names = files.map((f) => f.name || "pasted image").join(", ");
    const clientMessageId = addPending(text, { uploading: true, fileName: names });
    const entry = pending.get(clientMessageId);
    const bar = document.createElement("progress");
    bar.className = "progress";
    bar.max = files.length;
    bar.value = 0;
    bar.setAttribute("aria-label", `Uploading ${names}`);
    entry.element.append(bar);
    const done = new Array(files.length).fill(0);
    Promise.all(
      files.map((file, i) => ChatFiles.upload(file, chatId, (fraction) => {
        done[i] = fraction;
        bar.value = done.reduce((a, b) => a + b, 0);
      })),
    ).then(
      (attachmentIds) => {
        bar.remove();
        entry.uploading = false;
        entry.attachments = attachmentIds;
        sendPending(clientMessageId);
      },
      (err) => fail(clientMessageId, err.message, () => sendFiles(files, text)),
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
        setReadOnly(Boolean(frame.readOnly), "This chat is read-only: a moderator locked it.");
        delivery.joinedAt(frame.lastSeq);
        resendActions();
        scheduleRead(); // what the page showed before the socket was up is read too
        break;
      case "history":
        arrivedHidden(frame.messages.filter(show));
        delivery.historyArrived(frame.hasMore);
        scheduleRead();
        break;
      case "message":
        stopTyping(frame.message.username);
        if (show(frame.message)) arrivedHidden([frame.message]);
        if (frame.message.kind === "system" && data.chatType === "group") refreshMembers();
        if (frame.message.userId !== data.userId) scheduleDelivered(frame.message.seq);
        delivery.behind(frame.message.seq);
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
        delivery.behind(frame.seq);
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
        if (frame.chatName) renamed(frame.chatName);
        break;
      case "messageEdited": {
        const item = shown.get(frame.messageId);
        const asked = actions.get(actionKey({ action: "editMessage", messageId: frame.messageId }));
        if (asked && asked.message === frame.message) {
          settle(actionKey(asked));
          editedFrom.delete(frame.messageId);
        }
        if (item) {
          setBody(item.querySelector(".body"), frame.message);
          markEdited(item);
          const quote = { seq: frame.seq, username: item.querySelector(".author").textContent, message: frame.message.slice(0, data.quoteLength) };
          updateQuotes(frame.seq, (button) => fillQuote(button, quote));
        }
        break;
      }
      case "messageDeleted": {
        settle(actionKey({ action: "deleteMessage", messageId: frame.messageId }));
        const item = shown.get(frame.messageId);
        if (item) markDeleted(item);
        updateQuotes(frame.seq, (button) => fillQuote(button, { seq: frame.seq, deleted: true }));
        if (replyingTo && replyingTo.seq === frame.seq) stopReply();
        break;
      }
      case "edited":
      case "deleted":
        // The server's answer to this page's edit or delete (its broadcast follows).
        if (frame.type === "deleted") settle(actionKey({ action: "deleteMessage", messageId: frame.messageId }));
        break;
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
          delivery.syncFailed();
          if (frame.retryable) later(requestSync);
        }
        if (["editMessage", "deleteMessage", "react"].includes(frame.action) && frame.messageId) {
          if (frame.retryable) {
            // Refused for now (rate, an outage): asked again shortly, and at the next join.
            later(() => {
              for (const asked of actions.values()) {
                if (asked.action === frame.action && asked.messageId === frame.messageId && delivery.joined) socket.send(asked);
              }
            });
            break;
          }
          for (const [key, asked] of actions) {
            if (asked.action === frame.action && asked.messageId === frame.messageId) settle(key);
          }
          const item = shown.get(frame.messageId);
          const before = frame.action === "editMessage" && editedFrom.get(frame.messageId);
          if (before && item) {
            // The edit was refused: the message shows what it says again.
            editedFrom.delete(frame.messageId);
            setBody(item.querySelector(".body"), before.text);
            if (!before.edited) item.querySelector(".edited")?.remove();
          }
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
    const params = new URLSearchParams({ limit: String(data.pageSize) });
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
      // The oldest page reached, the button goes: keep keyboard focus in the conversation, on
      // its first message.
      if (hadFocus && (olderButton.hidden || document.activeElement !== olderButton)) {
        (list.querySelector(".message") || list).focus();
      }
    }
  }

  // Bring a message into view (a quote's original, a search result), loading older pages as
  // needed (at most JUMP_PAGES of them), and highlight it.
  const JUMP_PAGES = 40;
  async function jumpTo(seq) {
    for (let pages = 0; !delivery.seqs.has(seq) && !olderButton.hidden && pages < JUMP_PAGES; pages += 1) {
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

  // -- The message box: a draft per chat kept in this browser (through reloads and switching
  // chats) until sent; a count of characters near the limit, and over it Send refuses.
  const draftKey = `chat-draft:${data.userId}:${chatId}`;
  function saveDraft() {
    try {
      if (input.value) localStorage.setItem(draftKey, input.value);
      else localStorage.removeItem(draftKey);
    } catch (err) {
      // Storage full or switched off: the draft lives as long as the page.
    }
  }

  // Another tab of this chat sent or changed the draft: this one follows, unless being typed in.
  window.addEventListener("storage", (event) => {
    if (event.key !== draftKey || document.activeElement === input) return;
    input.value = event.newValue || "";
    updateCount();
  });

  const charCount = document.getElementById("char-count");
  function updateCount() {
    const length = [...input.value].length; // code points, as the server counts

    const over = length - data.maxLength;
    charCount.hidden = length < data.maxLength * 0.9;
    charCount.classList.toggle("over", over > 0);
    charCount.textContent = over > 0
      ? `${over.toLocaleString()} characters too long (the limit is ${data.maxLength.toLocaleString()})`
      : `${length.toLocaleString()} / ${data.maxLength.toLocaleString()}`;
    input.setAttribute("aria-invalid", String(over > 0));
    document.getElementById("send").disabled = input.disabled || over > 0;
  }

  // (What was typed before this script ran is kept, and becomes the draft.)
  if (input.value) {
    saveDraft();
  } else {
    try {
      input.value = localStorage.getItem(draftKey) || "";
    } catch (err) {
      // Storage switched off: no draft to restore.
    }
  }
  updateCount();

  replyBar.querySelector(".cancel-reply").addEventListener("click", () => {
    stopReply();
    input.focus();
  });

  fileTray.listen({
    fileInput: document.getElementById("file-input"),
    attachButton: document.getElementById("attach"),
    dropZone: document.querySelector(".chat"),
  });

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    const files = fileTray.files();
    if (!text.trim() && !files.length) return;
    if ([...text].length > data.maxLength) {
      updateCount();
      return;
    }
    input.value = "";
    saveDraft();
    updateCount();
    if (files.length) {
      fileTray.clear();
      sendFiles(files, text.trim() ? text : "");
    } else {
      addPending(text);
    }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      composer.requestSubmit();
    } else if (event.key === "Escape" && replyingTo) {
      stopReply();
    } else if (event.key === "ArrowUp" && !input.value && list.querySelector(".message")) {
      // Up from an empty message box: into the conversation, at the newest message.
      event.preventDefault();
      keepTabStop();
      const messages = list.querySelectorAll(".message");
      if (messages.length) messages[messages.length - 1].focus();
    }
  });
  input.addEventListener("input", () => {
    saveDraft();
    updateCount();
    if (delivery.joined && socket && Date.now() - typingSentAt > 2000) {
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
    if (scroller.scrollTop === 0 && !olderButton.hidden && !olderButton.disabled) loadOlder();
  });
  document.addEventListener("visibilitychange", () => {
    // Messages that arrived while the page was hidden count in its title until it is seen.
    if (!document.hidden) {
      unseen = 0;
      ChatNotify.setUnread("room", 0);
    }
    scheduleRead();
  });
  // An unacked message is sent again (same clientMessageId) if its ack is slow to come.
  setInterval(() => {
    for (const clientMessageId of delivery.resendDue(Date.now(), 10000)) sendPending(clientMessageId);
  }, 2000);

  // The newest page sets where the live view starts; older pages come only by scrolling back,
  // and everything after it comes over the socket (live frames and sync).
  async function start() {
    for (let delay = 500; ; delay = Math.min(delay * 2, 10000)) {
      try {
        const page = await loadPage();
        if (page.messages.length) delivery.startAt(page.messages[page.messages.length - 1].seq);
        for (const message of page.messages) show(message);
        nextCursor = page.nextCursor;
        olderButton.hidden = !page.hasMore;
        // Opened where the unread part starts (its divider at the top), else at the newest;
        // older pages are loaded until the first unread message is in (at most JUMP_PAGES).
        const newest = Math.max(0, ...page.messages.map((m) => m.seq));
        const unreadBelow = () => readAtOpen > 0 && readAtOpen < newest && !delivery.seqs.has(readAtOpen + 1);
        for (let pages = 0; unreadBelow() && !olderButton.hidden && pages < JUMP_PAGES; pages += 1) {
          await loadOlder();
        }
        const divider = list.querySelector(".unread-divider");
        if (divider) divider.scrollIntoView({ block: "start" });
        else scroller.scrollTop = scroller.scrollHeight;
        if (!input.disabled) input.focus({ preventScroll: true });
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
        delivery.connecting();
        this.send({ action: "joinChat", chatId });
      },
      onFrame,
      onState(state) {
        if (state !== "connected") delivery.disconnected();
        for (const frame of actions.values()) markWaiting(frame.messageId);
      },
    });
    scheduleRead();
  }

  start();
})();
