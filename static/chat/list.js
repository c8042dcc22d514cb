// The chat list: joins every listed chat and moves a chat to the top with its newest message;
// chats started with the user, groups they are added to and renames appear live, and a chat they
// are removed from goes; unread counts follow reads made in any tab and make the page's title;
// after a reconnect it catches up from the API.
"use strict";

(function () {
  const list = document.getElementById("chat-list");
  const chatIds = JSON.parse(document.getElementById("chat-ids").textContent);
  const myId = document.body.dataset.userId;
  // Beside a conversation, the list leaves that chat's unread count to it.
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
    last.append(who, ` ${ChatText.clip(ChatText.preview(message), 120)}`);
    item.dataset.lastSeq = String(message.seq);
  }

  function unreadOf(item) {
    return Number(item.querySelector(".unread").textContent || 0);
  }

  // The page's title counts every chat's unread messages (the open chat's are being read).
  function countAll() {
    let total = 0;
    for (const each of list.querySelectorAll("li[data-chat-id]")) {
      if (each.dataset.chatId !== openChatId) total += unreadOf(each);
    }
    ChatNotify.setUnread("list", total);
  }

  function setUnread(item, count) {
    const badge = item.querySelector(".unread");
    badge.textContent = String(count);
    badge.hidden = count <= 0;
    countAll();
  }

  function showEmptyState() {
    if (list.querySelector("li[data-chat-id]") || list.querySelector("li.empty")) return;
    const empty = document.createElement("li");
    empty.className = "empty";
    const button = document.createElement("strong");
    button.textContent = "New chat";
    empty.append("No chats yet. Press ", button, " and pick someone by their username to start talking.");
    list.append(empty);
  }

  // A chat the user was just put in: listed at once by its name, filled in from the API once
  // joined (so that nothing sent before the join is missed, and nothing after it).
  function addItem(frame) {
    const item = document.createElement("li");
    item.dataset.chatId = frame.chatId;
    item.dataset.chatType = frame.chatType || "group";
    item.dataset.lastSeq = "0";
    item.dataset.fresh = "true";
    const link = document.createElement("a");
    link.href = `/chats/${frame.chatId}/`;
    const avatar = document.createElement("span");
    avatar.className = "avatar";
    avatar.setAttribute("aria-hidden", "true");
    avatar.dataset.hue = String(ChatText.hue(frame.chatId));
    avatar.textContent = ChatText.initials(frame.chatName || "?");
    const title = document.createElement("span");
    title.className = "chat-name";
    title.textContent = frame.chatName || "New chat";
    const badge = document.createElement("span");
    badge.className = "unread";
    badge.setAttribute("aria-label", "unread messages");
    badge.hidden = true;
    badge.textContent = "0";
    const last = document.createElement("span");
    last.className = "last-message";
    last.textContent = "No messages yet";
    link.append(avatar, title, badge, last);
    item.append(link);
    const empty = list.querySelector("li.empty");
    if (empty) empty.remove();
    list.prepend(item);
    return item;
  }

  // What a live message that arrived before the API's answer adds: {seq, message} of others'.
  const early = new Map(); // chatId -> [message]

  // An answer refused for now (a busy server: 429, 5xx) or lost is asked for again after a pause
  // that grows, a few times; offline for longer, the reconnect's catch-up fills it in.
  async function fillIn(item, attempt = 1) {
    const chatId = item.dataset.chatId;
    let chat;
    try {
      const response = await fetch(`/api/chats/${chatId}`, { credentials: "same-origin" });
      if (response.status === 429 || response.status >= 500) throw new Error(`${response.status}`);
      if (!response.ok) return; // not (or no longer) theirs: its "removed" takes it off
      chat = await response.json();
    } catch (err) {
      if (attempt < 6) setTimeout(() => item.isConnected && fillIn(item, attempt + 1), 500 * 2 ** attempt);
      return;
    }
    if (!item.isConnected) return;
    const title = ChatText.title(chat, myId);
    item.querySelector(".chat-name").textContent = title;
    const avatar = item.querySelector(".avatar");
    avatar.textContent = ChatText.initials(title);
    avatar.dataset.hue = String(ChatText.hue(ChatText.avatarKey(chat, myId)));
    const other = chat.chatType === "direct" && chat.members.find((m) => m.userId !== myId);
    if (other) avatar.dataset.presenceUser = other.userId;
    const seen = chat.lastMessage ? chat.lastMessage.seq : 0;
    const later = (early.get(chatId) || []).filter((m) => m.seq > seen);
    early.delete(chatId);
    delete item.dataset.fresh;
    if (chat.lastMessage && Number(item.dataset.lastSeq) <= seen) renderLastMessage(item, chat.lastMessage);
    setUnread(item, chat.unreadCount + later.length);
    const newest = later.length ? later[later.length - 1] : chat.lastMessage;
    if (newest && newest.userId !== myId && chatId !== openChatId) {
      ChatNotify.message(title, newest, item.querySelector("a").getAttribute("href"));
    }
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

  // What may have happened while the socket was down: last messages, unread counts, and chats
  // started or left meanwhile.
  async function catchUp(socket) {
    let page;
    try {
      const most = document.querySelector("main").dataset.chatListMax; // the server's limit
      const response = await fetch(`/api/chats?limit=${most}`, { credentials: "same-origin" });
      if (!response.ok) return;
      page = await response.json();
    } catch (err) {
      return; // offline again: the next reconnect tries again
    }
    for (const chat of page.chats.slice().reverse()) {
      let item = itemOf(chat.chatId);
      if (!item) {
        // Started with the user while the socket was down: listed, and filled in once joined.
        addItem(chat);
        socket.send({ action: "joinChat", chatId: chat.chatId });
        continue;
      }
      if (chat.lastMessage && Number(item.dataset.lastSeq || 0) < chat.lastMessage.seq) {
        renderLastMessage(item, chat.lastMessage);
        list.prepend(item);
      }
      setUnread(item, chat.chatId === openChatId ? 0 : chat.unreadCount);
    }
  }

  function onMessage(item, frame, socket) {
    const message = frame.message;
    const fromOther = message.userId !== myId && frame.chatId !== openChatId;
    if (message.userId !== myId && frame.chatId !== openChatId) {
      scheduleDelivered(socket, frame.chatId, message.seq);
    }
    if (message.seq <= Number(item.dataset.lastSeq || 0)) return; // already counted (catch-up)
    renderLastMessage(item, message);
    list.prepend(item);
    if (item.dataset.fresh) {
      // Counted once the API's answer says what came before.
      if (fromOther) early.set(frame.chatId, [...(early.get(frame.chatId) || []), message]);
      return;
    }
    if (fromOther) {
      setUnread(item, unreadOf(item) + 1);
      ChatNotify.message(item.querySelector(".chat-name").textContent, message, item.querySelector("a").getAttribute("href"));
    }
  }

  function onFrame(frame, socket) {
    if (frame.type === "error" && frame.action === "joinChat" && frame.retryable) {
      retryJoin(socket, frame.chatId);
      return;
    }
    if (frame.type === "added") {
      if (!itemOf(frame.chatId)) addItem(frame);
      socket.send({ action: "joinChat", chatId: frame.chatId });
      return;
    }
    if (frame.type === "removed" || frame.type === "chatDeleted") {
      const gone = itemOf(frame.chatId);
      if (gone && frame.chatId !== openChatId) {
        gone.remove();
        countAll();
        showEmptyState();
      }
      return;
    }
    const item = frame.chatId ? itemOf(frame.chatId) : null;
    if (!item) return;
    switch (frame.type) {
      case "joined":
        refusals.delete(frame.chatId);
        if (item.dataset.fresh) fillIn(item);
        break;
      case "read":
        // Read here or in another tab.
        if (frame.userId === myId) setUnread(item, Math.max(0, Number(item.dataset.lastSeq || 0) - frame.seq));
        break;
      case "chatUpdated":
        if (frame.chatName && item.dataset.chatType === "group") {
          item.querySelector(".chat-name").textContent = frame.chatName;
          item.querySelector(".avatar").textContent = ChatText.initials(frame.chatName);
        }
        break;
      case "message":
        onMessage(item, frame, socket);
        break;
      default:
        break;
    }
  }

  for (const item of list.querySelectorAll("li[data-chat-id]")) {
    if (item.dataset.chatId === openChatId) setUnread(item, 0);
  }
  countAll();

  let connectedBefore = false;
  const socket = ChatSocket.join({
    onOpen() {
      refusals.clear();
      for (const chatId of chatIds) {
        if (chatId !== openChatId) this.send({ action: "joinChat", chatId });
      }
      if (connectedBefore) catchUp(this);
      connectedBefore = true;
    },
    onFrame: (frame) => onFrame(frame, socket),
  });
})();
