// Telling people about new messages when they are not looking: the unread count in the page
// title, and (once they switch them on, by a click) desktop notifications with a short sound.
"use strict";

const ChatNotify = {
  baseTitle: document.title,

  // "(3) Title" while there are unread messages, the plain title otherwise.
  setUnread(count) {
    document.title = count > 0 ? `(${count}) ${ChatNotify.baseTitle}` : ChatNotify.baseTitle;
  },

  enabled() {
    return "Notification" in window && Notification.permission === "granted" &&
      localStorage.getItem("chat-notify") === "on";
  },

  // A desktop notification (and a chime) for a message, if switched on; a click opens its chat.
  message(title, message, url) {
    if (!ChatNotify.enabled()) return;
    const body = message.deleted ? "message deleted" : message.message || "sent a file";
    const note = new Notification(title, { body: `${message.username}: ${body}`.slice(0, 200), tag: message.chatId });
    note.onclick = () => {
      window.focus();
      if (url && window.location.pathname !== url) window.location.href = url;
    };
    ChatNotify.chime();
  },

  chime() {
    try {
      const audio = new AudioContext();
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.08, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.25);
    } catch (err) {
      // No sound available: the notification is enough.
    }
  },

  // The top bar's switch: asks for permission only when clicked, never on load.
  setUpToggle() {
    const toggle = document.getElementById("notify-toggle");
    if (!toggle) return;
    if (!("Notification" in window)) {
      toggle.hidden = true;
      return;
    }
    const render = () => {
      const on = ChatNotify.enabled();
      toggle.textContent = on ? "Notifications on" : "Notify me";
      toggle.setAttribute("aria-pressed", String(on));
    };
    toggle.hidden = false;
    toggle.addEventListener("click", async () => {
      if (ChatNotify.enabled()) {
        localStorage.setItem("chat-notify", "off");
      } else if ((await Notification.requestPermission()) === "granted") {
        localStorage.setItem("chat-notify", "on");
      }
      render();
    });
    render();
  },
};

ChatNotify.setUpToggle();
