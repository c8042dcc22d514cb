// A WebSocket to /ws/ that reconnects by itself with capped exponential backoff and jitter,
// and keeps the connection alive with pings. One per page, shared by the chat list and the
// conversation: each joins it with its own handlers (ChatSocket.join).
"use strict";

class ChatSocket {
  // Parts of the page with work not yet sent (a queue) say so here: `busy()` is true while any
  // of them is; a link clicked offline waits for it once the connection is back.
  static hold(isBusy) {
    ChatSocket.holds.push(isBusy);
  }

  static busy() {
    return ChatSocket.holds.some((isBusy) => isBusy());
  }

  // Add a part of the page's handlers to the page's one socket (opened on first use).
  static join(listener) {
    if (!ChatSocket.page) ChatSocket.page = new ChatSocket();
    ChatSocket.page.listeners.push(listener);
    if (ChatSocket.page.isOpen && listener.onOpen) listener.onOpen.call(ChatSocket.page);
    return ChatSocket.page;
  }

  constructor() {
    this.listeners = [];
    this.attempt = 0;
    this.ws = null;
    this.pingTimer = null;
    this.retryTimer = null;
    // Opened once the page's scripts have all joined.
    setTimeout(() => this.connect(), 0);
    // The browser knows before any ping that the network is gone: the socket is closed (and
    // reconnects as after any loss), and when the network is back it tries at once.
    window.addEventListener("offline", () => {
      // Gone now: its close handshake cannot finish without a network, so it is not awaited.
      const ws = this.ws;
      if (!ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      ws.close();
      this.lost();
    });
    window.addEventListener("online", () => {
      if (this.ws || !this.retryTimer) return;
      clearTimeout(this.retryTimer);
      this.attempt = 0;
      this.connect();
    });
  }

  onOpen() {
    for (const listener of this.listeners) if (listener.onOpen) listener.onOpen.call(this);
  }

  onFrame(frame) {
    for (const listener of this.listeners) if (listener.onFrame) listener.onFrame.call(this, frame);
  }

  onState(state) {
    for (const listener of this.listeners) if (listener.onState) listener.onState.call(this, state);
  }

  get url() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${window.location.host}/ws/`;
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    this.retryTimer = null;
    this.onState("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.onState("connected");
      this.pingTimer = setInterval(() => this.send({ action: "ping" }), 25000);
      this.onOpen();
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = (event) => {
      clearInterval(this.pingTimer);
      if (this.ws !== ws) return;
      this.ws = null;
      // 4401: the session ended (logged out, password changed); 4403: the account was
      // deactivated. Reconnecting with the same cookie cannot succeed.
      if (event.code === 4401 || event.code === 4403) {
        this.onState(event.code === 4401 ? "signed-out" : "deactivated");
        return;
      }
      this.lost();
    };
  }

  // The connection is gone: say so, and try again after a pause that grows each time.
  lost() {
    this.onState("reconnecting");
    const delay = Math.min(10000, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  // Send a frame now; false when the socket is not open (the caller keeps what it must resend).
  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}

ChatSocket.holds = [];

function showConnectionState(state) {
  const banner = document.getElementById("connection-banner");
  if (banner) {
    banner.hidden = state === "connected" || state === "connecting";
    banner.textContent = {
      reconnecting: "Connection lost. Reconnecting… (messages you write are sent when it is back)",
      "signed-out": "You were signed out. Log in again to keep chatting.",
      deactivated: "This account was deactivated.",
    }[state] || "";
  }
  const badge = document.getElementById("connection-state");
  if (!badge) return;
  badge.dataset.state = state;
  badge.textContent = {
    connecting: "connecting…",
    connected: "live",
    reconnecting: "reconnecting…",
    "signed-out": "signed out: log in again",
    deactivated: "account deactivated",
  }[state];
}

// The page's connection state, in the badge and (while not connected) the banner.
ChatSocket.join({ onState: showConnectionState });

// Offline, a click on a link to another of the app's pages (a chat, the list, search) waits in
// this page and follows the link once the connection is back, instead of leaving for the
// browser's "site can't be reached" page; the banner says so through every reconnect attempt.
(function () {
  let offline = false;
  let waitingFor = null;

  // Back online, what the page queued is sent first (at most 10 s), then the link is followed.
  function leaveWhenSent(href, waited = 0) {
    if (!offline && ChatSocket.busy() && waited < 10000) {
      setTimeout(() => leaveWhenSent(href, waited + 200), 200);
      return;
    }
    if (!offline) window.location.href = href;
  }

  function sayWaiting() {
    const banner = document.getElementById("connection-banner");
    if (!banner || !waitingFor) return;
    banner.hidden = false;
    banner.textContent = `You are offline: ${waitingFor.what} opens as soon as the connection is back.`;
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!offline || !link || event.defaultPrevented || event.button !== 0) return;
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    const url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin || link.target || link.hasAttribute("download")) return;
    if (url.pathname.startsWith("/media/") || url.pathname === window.location.pathname) return;
    event.preventDefault();
    const name = link.querySelector(".chat-name");
    waitingFor = { href: url.href, what: name ? `“${name.textContent}”` : "that page" };
    sayWaiting();
  });

  ChatSocket.join({
    onState(state) {
      // Down from the first lost connection until the next one is up.
      if (state === "reconnecting") offline = true;
      if (state === "connected") offline = false;
      if (state === "connected" && waitingFor) leaveWhenSent(waitingFor.href);
      else sayWaiting();
    },
  });
})();

// Logging out forgets this user's drafts in this browser (a shared computer keeps nothing).
(function () {
  const form = document.querySelector('form[action$="/logout/"]');
  const userId = document.body.dataset.userId;
  if (!form || !userId) return;
  form.addEventListener("submit", () => {
    try {
      const prefix = `chat-draft:${userId}:`;
      for (const key of Object.keys(localStorage)) if (key.startsWith(prefix)) localStorage.removeItem(key);
    } catch (err) {
      // Storage switched off: there are no drafts.
    }
  });
})();
