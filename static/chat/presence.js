// Who is online: a dot on the people the page shows (their data-presence-user) and, in a
// direct chat's header, "online" or "last seen …". Refreshed every few seconds while the page
// is visible, and as soon as it is shown again.
"use strict";

(function () {
  const limits = document.querySelector("main").dataset; // the server's (base.html)
  const every = Number(limits.presencePoll) * 1000;
  const most = Number(limits.presenceMax);

  function lastSeen(iso) {
    const when = new Date(iso);
    const today = new Date();
    const time = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (when.toDateString() === today.toDateString()) return `last seen today at ${time}`;
    return `last seen ${when.toLocaleDateString([], { day: "numeric", month: "short" })} at ${time}`;
  }

  async function refresh() {
    if (document.hidden) return;
    const marked = [...document.querySelectorAll("[data-presence-user]")];
    const ids = [...new Set(marked.map((element) => element.dataset.presenceUser))];
    if (!ids.length) return;
    let users = [];
    try {
      const response = await fetch(`/api/presence?userIds=${ids.slice(0, most).join(",")}`, { credentials: "same-origin" });
      if (!response.ok) return;
      users = (await response.json()).users;
    } catch (err) {
      return; // offline: the next round tries again
    }
    const byId = new Map(users.map((user) => [user.userId, user]));
    for (const element of marked) {
      const user = byId.get(element.dataset.presenceUser);
      if (!user) continue;
      element.dataset.online = String(user.online);
      const words = user.online ? "online" : user.lastSeen ? lastSeen(user.lastSeen) : "offline";
      if (element.classList.contains("presence-line")) element.textContent = words;
      element.title = words;
    }
  }

  refresh();
  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
