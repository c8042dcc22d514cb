// The user picker: inputs marked data-picker ("one" name, or "many" separated by commas)
// suggest usernames by the start of what is typed (GET /api/users/suggestions?prefix=),
// people you know first. An ARIA combobox: arrow keys move, Enter picks, Escape closes.
"use strict";

(function () {
  let count = 0;

  function attach(input) {
    const many = input.dataset.picker === "many";
    const listbox = document.createElement("ul");
    count += 1;
    listbox.id = `picker-${count}`;
    listbox.className = "picker";
    listbox.setAttribute("role", "listbox");
    listbox.setAttribute("aria-label", "Suggested people");
    listbox.hidden = true;
    input.after(listbox);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listbox.id);
    let active = -1;
    let timer = null;
    let asked = 0;

    function token() {
      return many ? input.value.split(",").pop().trim() : input.value.trim();
    }

    function close() {
      listbox.hidden = true;
      listbox.replaceChildren();
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      const options = listbox.querySelectorAll("[role=option]");
      if (!options.length) return;
      active = (index + options.length) % options.length;
      options.forEach((option, i) => option.setAttribute("aria-selected", String(i === active)));
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }

    function pick(username) {
      if (many) {
        const parts = input.value.split(",").slice(0, -1).map((p) => p.trim()).filter(Boolean);
        input.value = [...parts, username].join(", ") + ", ";
      } else {
        input.value = username;
      }
      close();
      input.focus();
    }

    async function suggest() {
      const prefix = token();
      if (!prefix) {
        close();
        return;
      }
      const ticket = (asked += 1);
      let users = [];
      try {
        const response = await fetch(`/api/users/suggestions?prefix=${encodeURIComponent(prefix)}`, { credentials: "same-origin" });
        if (response.ok) users = (await response.json()).users;
      } catch (err) {
        users = [];
      }
      if (ticket !== asked) return; // a later keystroke asked again
      if (document.activeElement !== input) return; // answered after the field was left
      listbox.replaceChildren();
      active = -1;
      users.forEach((user, i) => {
        const option = document.createElement("li");
        option.id = `${listbox.id}-${i}`;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.dataset.username = user.username;
        option.textContent = user.username;
        if (user.known) {
          const hint = document.createElement("span");
          hint.className = "hint";
          hint.textContent = " · in your chats";
          option.append(hint);
        }
        // mousedown, not click: the input keeps its focus.
        option.addEventListener("mousedown", (event) => {
          event.preventDefault();
          pick(user.username);
        });
        listbox.append(option);
      });
      listbox.hidden = !users.length;
      input.setAttribute("aria-expanded", String(users.length > 0));
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(suggest, 150);
    });
    input.addEventListener("keydown", (event) => {
      if (listbox.hidden) {
        if (event.key === "ArrowDown" && token()) suggest();
        return;
      }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        highlight(active + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        pick(listbox.querySelectorAll("[role=option]")[active].dataset.username);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    input.addEventListener("blur", () => {
      asked += 1; // an answer still on its way is not shown
      setTimeout(close, 100);
    });
  }

  for (const input of document.querySelectorAll("input[data-picker]")) attach(input);
})();
