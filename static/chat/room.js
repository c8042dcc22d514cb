// The chat page: history with scroll-back, live messages, pending sends until acked,
// catch-up after reconnects or seq gaps, typing and read state. What the view holds and owes
// is static/chat/delivery.js's, receipts receipts.js's, asked actions actions.js's (all three
// DOM-free and unit-tested); how a message looks is messages.js's, the message box
// composer.js's. All user text goes through textContent, never innerHTML.
"use strict";

(function () {
  const data = JSON.parse(document.getElementById("chat-data").textContent);
  const chatId = data.chatId;
  const list = document.getElementById("messages");
  const scroller = document.getElementById("scroller");
  const input = document.getElementById("message-input");

  const receipts = new ChatReceipts(data.receipts, data);
  // Where the unread part started when the page opened: a "New messages" divider goes there.
  const readAtOpen = receipts.readBy(data.userId);
  const shown = new Map(); // messageId -> element
  let socket = null; // the page's socket (static/chat/socket.js), once the first page is shown
  const delivery = new ChatDelivery({ chatId, send: (frame) => (socket ? socket.send(frame) : false) });
  const pending = delivery.pending; // clientMessageId -> {text, element, sentAt, ...}
  // What a failed send's Retry does, by its element (the message buttons' listener calls it).
  const retries = new WeakMap();
  const actions = new ChatActions();
  const typing = new ChatTyping(document.getElementById("typing"));
  let readTimer = null;
  let unseen = 0; // others' messages that reached the page while it was hidden

  // -- Keyboard: the conversation is one stop in the Tab order (static/chat/keys.js).
  const keys = new ChatKeys({
    list,
    onEscape: () => input.focus(),
    onTop: () => {
      if (pages.more) pages.loadOlder();
    },
  });
  const pages = new ChatHistory({
    chatId, pageSize: data.pageSize, show, has: (seq) => delivery.seqs.has(seq),
  });
  const view = new ChatMessages({
    ...data, receipts, readAtOpen, outOfTabOrder: (item) => keys.outOfTabOrder(item),
  });

  // -- Reactions, edits and deletes: sent now, or kept and sent again once the chat is joined
  // again, until the server says it happened (or refused it, which is shown on the message).
  function act(frame) {
    actions.ask(frame);
    markWaiting(frame.messageId);
    if (delivery.joined && socket) socket.send(frame);
  }

  function settled(frame) {
    if (frame) markWaiting(frame.messageId);
  }

  // A message with an action not yet confirmed says so while the connection is down.
  function markWaiting(messageId) {
    const item = shown.get(messageId);
    if (item) item.classList.toggle("waiting", actions.waitingOn(messageId) && !delivery.joined);
  }

  // Unsent messages and unconfirmed actions keep a link clicked offline waiting once back.
  ChatSocket.hold(() => actions.size > 0 || [...pending.values()].some((entry) => !entry.uploading));

  function react(item, emoji, on) {
    act({ action: "react", chatId, messageId: item.dataset.messageId, emoji, on });
  }

  function setReactions(messageId, reactions) {
    actions.reactionsArrived(messageId, reactions, data.userId).forEach(settled);
    const row = shown.get(messageId)?.querySelector(".reactions");
    if (row) ChatReactions.render(row, reactions, data.userId, (id) => receipts.nameOf(id));
  }

  function moveWatermark(userId, field, seq) {
    if (!receipts.move(userId, field, seq)) return;
    for (const item of list.querySelectorAll(".message.mine")) view.renderReceipt(item);
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

  // One listener for every message's buttons, whichever message they are on (data-act says
  // what a button does).
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-act]");
    const item = button && button.closest(".message");
    if (!item || !list.contains(item)) return;
    switch (button.dataset.act) {
      case "reply":
        composer.startReply(item);
        break;
      case "react":
        ChatReactions.togglePalette(item, button);
        break;
      case "emoji": {
        const emoji = button.dataset.emoji;
        const chip = [...item.querySelectorAll(".reactions .reaction")].find((c) => c.dataset.emoji === emoji);
        react(item, emoji, !(chip && chip.getAttribute("aria-pressed") === "true"));
        ChatReactions.closePalette(item);
        break;
      }
      case "reaction":
        react(item, button.dataset.emoji, button.dataset.on === "true");
        break;
      case "edit":
        view.edit(item, (text, before) => {
          actions.rememberEdit(item.dataset.messageId, before);
          act({ action: "editMessage", chatId, messageId: item.dataset.messageId, message: text });
        }, () => input.focus());
        break;
      case "delete":
        if (!window.confirm("Delete this message for everyone?")) return;
        act({ action: "deleteMessage", chatId, messageId: item.dataset.messageId });
        input.focus();
        break;
      case "quote":
        pages.jumpTo(Number(button.dataset.quoteSeq));
        break;
      case "retry": // a send that failed
        retries.get(item)?.();
        break;
      case "dismiss":
        item.remove();
        input.focus();
        break;
    }
  });

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
    composer.setDisabled(readOnly);
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  // Puts a stored message in its seq position, once; false if it was there already.
  function show(message) {
    const { added, settled: sent } = delivery.add(message, data.userId);
    if (!added) return false;
    const stick = nearBottom();
    if (sent) sent.element.remove();
    const element = view.build(message);
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
    view.renderReceipt(element);
    view.decorate(element);
    let next = element.nextElementSibling;
    while (next && next.classList.contains("divider")) next = next.nextElementSibling;
    if (next) view.decorate(next);
    if (stick) scroller.scrollTop = scroller.scrollHeight;
    keys.keepTabStop();
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

  function scheduleRead() {
    if (!socket || document.hidden || !delivery.readDue() || readTimer) return;
    readTimer = setTimeout(() => {
      readTimer = null;
      const seq = delivery.readDue();
      if (seq && socket.send({ action: "markRead", chatId, seq })) delivery.readMarked(seq);
    }, 800);
  }

  function fail(clientMessageId, why, retry) {
    const entry = pending.get(clientMessageId);
    if (!entry) return;
    if (retry) {
      retries.set(entry.element, () => {
        entry.element.remove();
        pending.delete(clientMessageId);
        retry();
      });
    }
    view.markFailed(entry.element, why, { retry: Boolean(retry) });
    pending.delete(clientMessageId);
  }

  // -- Files waiting in a tray above the message box (static/chat/tray.js); Send uploads them
  // and sends one message with them and the text as its caption.
  const fileTray = new ChatTray({
    tray: document.getElementById("tray"),
    limits: data,
    input,
    onChange: () => composer.updateCount(),
  });
  const composer = new ChatComposer({
    data,
    fileTray,
    send: (text, files) => (files.length ? sendFiles(files, text) : addPending(text)),
    typing: () => Boolean(delivery.joined && socket && (socket.send({ action: "typing", chatId }), true)),
    up: () => {
      // Up from an empty message box: into the conversation, at the newest message.
      const messages = list.querySelectorAll(".message");
      if (!messages.length) return false;
      keys.keepTabStop();
      messages[messages.length - 1].focus();
      return true;
    },
  });

  // Upload the files, then send them in one message with `text`; shown at once as a pending
  // message with the files' names and a progress bar.
  function sendFiles(files, text) {
    const names = files.map((f) => f.name || "pasted image").join(", ");
    const clientMessageId = addPending(text, { uploading: true, fileName: names });
    const entry = pending.get(clientMessageId);
    const bar = Object.assign(document.createElement("progress"), { className: "progress", max: files.length, value: 0 });
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
        delivery.sendPending(clientMessageId);
      },
      (err) => fail(clientMessageId, err.message, () => sendFiles(files, text)),
    );
  }

  function addPending(text, { uploading = false, fileName = "" } = {}) {
    const clientMessageId = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
    const replyTo = composer.replyingTo;
    const element = view.build({
      userId: data.userId, username: data.username, message: text, timestamp: Date.now(), seq: "",
      messageId: "", replyTo,
    });
    element.classList.add("pending");
    element.dataset.clientMessageId = clientMessageId;
    if (fileName) {
      element.append(Object.assign(document.createElement("div"), { className: "file-name", textContent: fileName }));
    }
    list.append(element);
    scroller.scrollTop = scroller.scrollHeight;
    pending.set(clientMessageId, { text, element, sentAt: 0, uploading, attachments: [], replyTo });
    composer.stopReply();
    delivery.sendPending(clientMessageId);
    return clientMessageId;
  }

  // What each frame from the server does to the page.
  const later = (retry) => setTimeout(retry, 1000 + Math.random() * 1000);
  const onFrame = {
    joined(frame) {
      setReadOnly(Boolean(frame.readOnly), "This chat is read-only: a moderator locked it.");
      delivery.joinedAt(frame.lastSeq);
      for (const asked of actions.frames()) {
        markWaiting(asked.messageId);
        socket.send(asked);
      }
      scheduleRead(); // what the page showed before the socket was up is read too
    },
    history(frame) {
      arrivedHidden(frame.messages.filter(show));
      delivery.historyArrived(frame.hasMore);
      scheduleRead();
    },
    message(frame) {
      typing.stop(frame.message.username);
      if (show(frame.message)) arrivedHidden([frame.message]);
      if (frame.message.kind === "system" && data.chatType === "group") refreshMembers();
      if (frame.message.userId !== data.userId) scheduleDelivered(frame.message.seq);
      delivery.behind(frame.message.seq);
      scheduleRead();
    },
    ack(frame) {
      const entry = pending.get(frame.clientMessageId);
      // A message with files is shown from its message frame (or sync), which has them.
      if (entry && !entry.attachments.length) {
        show({
          chatId, seq: frame.seq, messageId: frame.messageId, clientMessageId: frame.clientMessageId,
          userId: data.userId, username: data.username, message: entry.text, timestamp: frame.timestamp,
          replyTo: entry.replyTo,
        });
      }
      delivery.behind(frame.seq);
      scheduleRead();
    },
    typing(frame) {
      if (frame.userId !== data.userId) typing.show(frame.username);
    },
    read: (frame) => moveWatermark(frame.userId, "read", frame.seq),
    delivered: (frame) => moveWatermark(frame.userId, "delivered", frame.seq),
    chatUpdated(frame) {
      setReadOnly(frame.readOnly, "This chat is read-only: a moderator locked it.");
      if (frame.chatName) renamed(frame.chatName);
    },
    messageEdited(frame) {
      settled(actions.editArrived(frame.messageId, frame.message));
      const item = shown.get(frame.messageId);
      if (item) view.edited(list, item, frame.seq, frame.message);
    },
    messageDeleted(frame) {
      settled(actions.settle({ action: "deleteMessage", messageId: frame.messageId }));
      const item = shown.get(frame.messageId);
      if (item) view.markDeleted(item);
      view.requote(list, frame.seq, { seq: frame.seq, deleted: true });
      if (composer.replyingTo && composer.replyingTo.seq === frame.seq) composer.stopReply();
    },
    // The server's answer to this page's delete (its broadcast follows).
    deleted: (frame) => settled(actions.settle({ action: "deleteMessage", messageId: frame.messageId })),
    reactions: (frame) => setReactions(frame.messageId, frame.reactions),
    reacted: (frame) => setReactions(frame.messageId, frame.reactions),
    removed: () => setReadOnly(true, "You were removed from this chat."),
    chatDeleted: () => setReadOnly(true, "This chat was deleted."),
    error(frame) {
      if (frame.action === "sync") {
        delivery.syncFailed();
        if (frame.retryable) later(() => delivery.requestSync());
      }
      if (["editMessage", "deleteMessage", "react"].includes(frame.action) && frame.messageId) {
        actionRefused(frame);
        if (frame.retryable) return;
      }
      if (frame.action === "joinChat" && frame.retryable) {
        later(() => socket.send({ action: "joinChat", chatId }));
      }
      const entry = frame.clientMessageId && pending.get(frame.clientMessageId);
      if (entry && frame.retryable) {
        later(() => delivery.sendPending(frame.clientMessageId));
      } else if (entry) {
        // Refused for good (not retryable): say why on the message, and do not resend it.
        fail(frame.clientMessageId, frame.detail, null);
      }
    },
  };

  function actionRefused(frame) {
    if (frame.retryable) {
      // Refused for now (rate, an outage): asked again shortly, and at the next join.
      later(() => {
        if (!delivery.joined) return;
        for (const asked of actions.matching(frame.action, frame.messageId)) socket.send(asked);
      });
      return;
    }
    const before = actions.refused(frame.action, frame.messageId);
    markWaiting(frame.messageId);
    const item = shown.get(frame.messageId);
    if (!item) return;
    if (before) {
      // The edit was refused: the message shows what it says again.
      view.setBody(item.querySelector(".body"), before.text);
      if (!before.edited) item.querySelector(".edited")?.remove();
    }
    ChatMessages.say(item, frame.detail);
  }

  fileTray.listen({
    fileInput: document.getElementById("file-input"),
    attachButton: document.getElementById("attach"),
    dropZone: document.querySelector(".chat"),
  });
  const jumpButton = document.getElementById("jump-latest");
  jumpButton.addEventListener("click", () => {
    scroller.scrollTop = scroller.scrollHeight;
    list.focus();
  });
  scroller.addEventListener("scroll", () => {
    jumpButton.hidden = nearBottom();
    if (scroller.scrollTop === 0) pages.scrolledToTop();
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
    for (const clientMessageId of delivery.resendDue(Date.now(), 10000)) delivery.sendPending(clientMessageId);
  }, 2000);

  // The newest page sets where the live view starts; older pages come only by scrolling back,
  // and everything after it comes over the socket (live frames and sync).
  async function start() {
    for (let delay = 500; ; delay = Math.min(delay * 2, 10000)) {
      try {
        const page = await pages.first((newest) => {
          if (newest.messages.length) delivery.startAt(newest.messages[newest.messages.length - 1].seq);
        });
        // Opened where the unread part starts (its divider at the top), else at the newest;
        // older pages are loaded until the first unread message is in.
        const newest = Math.max(0, ...page.messages.map((m) => m.seq));
        await pages.loadOlderWhile(() => readAtOpen > 0 && readAtOpen < newest && !delivery.seqs.has(readAtOpen + 1));
        const divider = list.querySelector(".unread-divider");
        if (divider) divider.scrollIntoView({ block: "start" });
        else scroller.scrollTop = scroller.scrollHeight;
        if (!input.disabled) input.focus({ preventScroll: true });
        // Opened at a message (a search result): show it in its context.
        const wanted = Number(new URLSearchParams(window.location.search).get("seq"));
        if (wanted > 0) pages.jumpTo(wanted);
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
      onFrame(frame) {
        // The page's socket also carries the chat list's chats.
        if (frame.chatId && frame.chatId !== chatId) return;
        if (Object.hasOwn(onFrame, frame.type)) onFrame[frame.type](frame);
      },
      onState(state) {
        if (state !== "connected") delivery.disconnected();
        for (const asked of actions.frames()) markWaiting(asked.messageId);
      },
    });
    scheduleRead();
  }

  start();
})();
