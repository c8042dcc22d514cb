// The chat list: joins every listed chat and moves a chat to the top with its newest message.
"use strict";

(function () {
  const list = document.getElementById("chat-list");
  const chatIds = JSON.parse(document.getElementById("chat-ids").textContent);
  const myId = document.body.dataset.userId;

  function renderLastMessage(item, message) {
    const last = item.querySelector(".last-message");
    last.textContent = "";
    const who = document.createElement("b");
    who.textContent = `${message.username}:`;
    if (message.deleted) message = { ...message, message: "message deleted" };
    const text = message.message.length > 120 ? `${message.message.slice(0, 119)}…` : message.message;
    last.append(who, ` ${text}`);
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

  function onFrame(frame, socket) {
    if (frame.type === "error" && frame.action === "joinChat" && frame.retryable) {
      retryJoin(socket, frame.chatId);
      return;
    }
    if (frame.type === "joined") refusals.delete(frame.chatId);
    if (frame.type === "removed" || frame.type === "chatDeleted") {
      const gone = list.querySelector(`li[data-chat-id="${CSS.escape(frame.chatId)}"]`);
      if (gone) gone.remove();
      return;
    }
    if (frame.type !== "message") return;
    const item = list.querySelector(`li[data-chat-id="${CSS.escape(frame.chatId)}"]`);
    if (!item) return;
    renderLastMessage(item, frame.message);
    if (frame.message.userId !== myId) {
      const badge = item.querySelector(".unread");
      badge.textContent = String(Number(badge.textContent || 0) + 1);
      badge.hidden = false;
    }
    list.prepend(item);
  }

  const socket = new ChatSocket({
    onOpen() {
      refusals.clear();
      for (const chatId of chatIds) this.send({ action: "joinChat", chatId });
    },
    onFrame: (frame) => onFrame(frame, socket),
    onState: showConnectionState,
  });
})();
