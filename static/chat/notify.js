// Telling people about new messages when they are not looking: the unread count in the page
// title, and (once they switch them on, by a click) desktop notifications with a short sound.
"use strict";

const ChatNotify = {
  baseTitle: document.title,
  counts: new Map(),

  // The page's own title changed (a group renamed): kept with its count.
  rename(title) {
    ChatNotify.baseTitle = title;
    ChatNotify.setUnread("list", ChatNotify.counts.get("list") || 0);
  },

  // "(3) Title" while there are unread messages, the plain title otherwise. Each part of the
  // page reports its own count ("list": the other chats; "room": the open chat while hidden).
  setUnread(source, count) {
    ChatNotify.counts.set(source, count);
    let total = 0;
    for (const each of ChatNotify.counts.values()) total += each;
    document.title = total > 0 ? `(${total}) ${ChatNotify.baseTitle}` : ChatNotify.baseTitle;
  },

  enabled() {
    return "Notification" in window && Notification.permission === "granted" &&
      localStorage.getItem("chat-notify") === "on";
  },

  // A desktop notification (and a chime) for a message, if switched on; a click opens its chat.
  message(title, message, url) {
    if (!ChatNotify.enabled()) return;
    const body = ChatText.preview(message);
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
      const blocked = Notification.permission === "denied";
      toggle.textContent = on ? "Notifications on" : blocked ? "Notifications blocked" : "Notify me";
      toggle.title = blocked
        ? "This browser blocks notifications from this site: allow them in the site's settings (the icon left of the address), then click here."
        : on ? "Click to stop desktop notifications" : "Click to get a desktop notification for each new message";
      toggle.setAttribute("aria-pressed", String(on));
    };
    // Said where it is seen and read out by screen readers: why nothing was switched on.
    const say = (text) => {
      let status = document.getElementById("notify-status");
      if (!status) {
        status = document.createElement("span");
        status.id = "notify-status";
        status.className = "notify-status";
        status.setAttribute("role", "status");
        toggle.after(status);
      }
      status.textContent = text;
      clearTimeout(say.timer);
      say.timer = setTimeout(() => { status.textContent = ""; }, 8000);
    };
    toggle.hidden = false;
    toggle.addEventListener("click", async () => {
      if (ChatNotify.enabled()) {
        localStorage.setItem("chat-notify", "off");
      } else if ((await Notification.requestPermission()) === "granted") {
        localStorage.setItem("chat-notify", "on");
      } else {
        say("Notifications are blocked by the browser: allow them for this site in its settings, then click again.");
      }
      render();
    });
    render();
  },
};

ChatNotify.setUpToggle();
