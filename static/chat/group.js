// Managing a group from its page: rename it, add people by username, remove members (if you
// created it) or leave. Changes go through the REST API; everyone's pages update from the
// socket (system messages, chatUpdated).
"use strict";

(function () {
  const panel = document.getElementById("group-panel");
  if (!panel) return;
  const data = JSON.parse(document.getElementById("chat-data").textContent);
  const status = document.getElementById("group-status");
  const base = `/api/chats/${data.chatId}`;

  async function call(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": ChatFiles.csrfToken() },
      body: body ? JSON.stringify(body) : undefined,
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.detail || `Refused (${response.status}).`);
    return answer;
  }

  function say(text) {
    status.textContent = text;
  }

  function renderMembers(members) {
    const list = document.getElementById("group-members");
    list.textContent = "";
    for (const member of members) {
      const item = document.createElement("li");
      item.textContent = member.username;
      if (data.createdBy === data.userId && member.userId !== data.userId) {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "small";
        remove.textContent = "Remove";
        remove.setAttribute("aria-label", `Remove ${member.username}`);
        remove.addEventListener("click", async () => {
          try {
            renderMembers((await call("DELETE", `${base}/members/${member.userId}`)).members);
            say(`${member.username} was removed.`);
          } catch (err) {
            say(err.message);
          }
        });
        item.append(" ", remove);
      }
      list.append(item);
    }
  }

  document.getElementById("group-rename").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = document.getElementById("group-name").value;
    try {
      await call("PATCH", base, { chatName: name });
      say("Renamed.");
    } catch (err) {
      say(err.message);
    }
  });

  document.getElementById("group-add").addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = document.getElementById("group-username");
    const username = field.value.trim();
    if (!username) return;
    try {
      const found = await fetch(`/api/users?username=${encodeURIComponent(username)}`, { credentials: "same-origin" });
      const users = found.ok ? (await found.json()).users : [];
      if (!users.length) throw new Error(`Nobody is called ${username}.`);
      renderMembers((await call("POST", `${base}/members`, { participants: [users[0].userId] })).members);
      field.value = "";
      say(`${username} was added.`);
    } catch (err) {
      say(err.message);
    }
  });

  document.getElementById("group-leave").addEventListener("click", async () => {
    if (!window.confirm("Leave this group? You will no longer see its messages.")) return;
    try {
      await call("DELETE", `${base}/members/${data.userId}`);
      window.location.href = "/";
    } catch (err) {
      say(err.message);
    }
  });

  renderMembers(data.members);
})();
