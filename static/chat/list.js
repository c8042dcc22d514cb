// The chat list: joins every listed chat and moves a chat to the top with its newest message;
// unread counts follow reads made in any tab; after a reconnect it catches up from the API.
"use strict";

(function () {
  const list = document.getElementById("chat-list");
  const chatIds = JSON.parse(document.getElementById("chat-ids").textContent);
  const myId = document.body.dataset.userId;
  // Beside a conversation, the list leaves that chat and the page title to it.
  const chatData = document.getElementById("chat-data");
  const openChatId = chatData ? JSON.parse(chatData.textContent).chatId : null;

  function itemOf(chatId) {
    return list.querySelector(`li[data-chat-id="${CSS.escape(chatId)}"]`);
  }

  function renderLastMessage(item, message) {
    const last = item.querySelector(".last-message");
    last.textContent = "";
    const who = document.createElement("b");
    who.textContent = message.userId === myId ? "You:" : `${message.username}:`;
    const body = message.deleted ? "message deleted" : message.message || "(file)";
    const text = body.length > 120 ? `${body.slice(0, 119)}…` : body;
    last.append(who, ` ${text}`);
    item.dataset.lastSeq = String(message.seq);
  }

  function setUnread(item, count) {
    const badge = item.querySelector(".unread");
    badge.textContent = String(count);
    badge.hidden = count <= 0;
    if (openChatId) return;
    let total = 0;
    for (const each of list.querySelectorAll(".unread:not([hidden])")) total += Number(each.textContent || 0);
    ChatNotify.setUnread(total);
  }

  // A join the server refused for now (the user's frame budget spent by a long list, live
  // delivery briefly down) is sent again after a pause that grows with each refusal.
  const refusals = new Map();
  function retryJoin(socket, chatId) {
    const attempt = (refusals.get(chatId) || 0) + 1;
    refusals.set(chatId, attempt);
    const delay = Math.min(10000, 1000 * attempt) * (0.5 + Math.random());
    setTimeout(() => socket.send({ action: "joinChat", chatId }), delay);
  }

  // Senders see their messages as delivered once this page has them (once a second per chat).
  const delivered = new Map(); // chatId -> {seq, timer}
  function scheduleDelivered(socket, chatId, seq) {
    const entry = delivered.get(chatId) || { seq: 0, timer: null };
    entry.seq = Math.max(entry.seq, seq);
    delivered.set(chatId, entry);
    if (entry.timer) return;
    entry.timer = setTimeout(() => {
      entry.timer = null;
      socket.send({ action: "markDelivered", chatId, seq: entry.seq });
    }, 1000);
  }

  // What may have happened while the socket was down: last messages and unread counts.
  async function catchUp() {
    try {
      const response = await fetch("/api/chats?limit=200", { credentials: "same-origin" });
      if (!response.ok) return;
      const page = await response.json();
      for (const chat of page.chats.slice().reverse()) {
        const item = itemOf(chat.chatId);
        if (!item) continue;
        if (chat.lastMessage && Number(item.dataset.lastSeq || 0) < chat.lastMessage.seq) {
          renderLastMessage(item, chat.lastMessage);
          list.prepend(item);
        }
        setUnread(item, chat.unreadCount);
      }
    } catch (err) {
      // Offline again: the next reconnect tries again.
    }
  }

  function onFrame(frame, socket) {
    if (frame.type === "error" && frame.action === "joinChat" && frame.retryable) {
      retryJoin(socket, frame.chatId);
      return;
    }
    if (frame.type === "joined") refusals.delete(frame.chatId);
    if (frame.type === "added" && !itemOf(frame.chatId)) {
      // Someone added us to a group: it joins the list, live.
      const item = document.createElement("li");
      item.dataset.chatId = frame.chatId;
      item.dataset.lastSeq = "0";
      const link = document.createElement("a");
      link.href = `/chats/${frame.chatId}/`;
      const title = document.createElement("span");
      title.className = "chat-name";
      title.textContent = frame.chatName || "New group";
      const badge = document.createElement("span");
      badge.className = "unread";
      badge.hidden = true;
      const last = document.createElement("span");
      last.className = "last-message";
      last.textContent = "You were added";
      link.append(title, badge, last);
      item.append(link);
      const empty = list.querySelector("li.empty");
      if (empty) empty.remove();
      list.prepend(item);
      socket.send({ action: "joinChat", chatId: frame.chatId });
      return;
    }
    if (frame.type === "removed" || frame.type === "chatDeleted") {
      const gone = itemOf(frame.chatId);
      if (gone) gone.remove();
      return;
    }
    const item = frame.chatId ? itemOf(frame.chatId) : null;
    if (!item) return;
    if (frame.type === "read" && frame.userId === myId) {
      // Read here or in another tab.
      setUnread(item, Math.max(0, Number(item.dataset.lastSeq || 0) - frame.seq));
      return;
    }
    if (frame.type !== "message") return;
    if (frame.message.userId !== myId && frame.chatId !== openChatId) {
      scheduleDelivered(socket, frame.chatId, frame.message.seq);
    }
    renderLastMessage(item, frame.message);
    if (frame.message.userId !== myId && frame.chatId !== openChatId) {
      setUnread(item, Number(item.querySelector(".unread").textContent || 0) + 1);
      const link = item.querySelector("a");
      ChatNotify.message(item.querySelector(".chat-name").textContent, frame.message, link.getAttribute("href"));
    }
    list.prepend(item);
  }

  // The title counts what is unread from the start; the open chat is being read.
  for (const item of list.querySelectorAll("li[data-chat-id]")) {
    const open = item.dataset.chatId === openChatId;
    setUnread(item, open ? 0 : Number(item.querySelector(".unread").textContent || 0));
  }

  let connectedBefore = false;
  const socket = ChatSocket.join({
    onOpen() {
      refusals.clear();
      for (const chatId of chatIds) {
        if (chatId !== openChatId) this.send({ action: "joinChat", chatId });
      }
      if (connectedBefore) catchUp();
      connectedBefore = true;
    },
    onFrame: (frame) => onFrame(frame, socket),
  });
})();
