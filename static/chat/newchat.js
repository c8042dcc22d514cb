// The "New chat" dialog: opened by its button (or at once when the server sent the form back
// with errors), people picked with the user picker, a name asked for only once the chat is a
// group. Escape or Cancel closes it and gives focus back to the button.
"use strict";

(function () {
  const dialog = document.getElementById("new-chat-dialog");
  const opener = document.getElementById("new-chat-open");
  if (!dialog || !opener) return;
  const form = document.getElementById("new-chat");
  const people = form.querySelector("input[data-picker]");
  const nameField = form.querySelector('[data-field="name"]');
  const nameInput = nameField.querySelector("input");

  function names() {
    return people.value.split(",").map((n) => n.trim()).filter(Boolean);
  }

  // A group's name field shows once a second person is typed (or a name was given).
  function showName() {
    const group = names().length > 1 || people.value.split(",").length > 2 || nameInput.value.trim() !== "";
    nameField.hidden = !group;
    nameInput.required = names().length > 1;
  }

  function open() {
    showName();
    dialog.showModal();
    people.focus();
  }

  opener.addEventListener("click", open);
  document.getElementById("new-chat-cancel").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => opener.focus());
  // A click on the backdrop (outside the form) closes it too.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
  people.addEventListener("input", showName);

  // Chats start only with people one knows. A name typed or picked is first looked up by its
  // exact spelling (GET /api/users, as the group page's "Add" does), which makes that person
  // known; then the form is sent.
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await Promise.all(
      names().map((name) => fetch(`/api/users?username=${encodeURIComponent(name)}`, { credentials: "same-origin" }).catch(() => null)),
    );
    form.submit();
  });

  if (dialog.hasAttribute("data-open-on-load")) open();
})();
