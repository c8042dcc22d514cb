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
    const text = message.message.length > 120 ? `${message.message.slice(0, 119)}…` : message.message;
    last.append(who, ` ${text}`);
  }

  function onFrame(frame) {
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

  new ChatSocket({
    onOpen() {
      for (const chatId of chatIds) this.send({ action: "joinChat", chatId });
    },
    onFrame,
    onState: showConnectionState,
  });
})();
