// Reactions on the chat page: a message's row of chips (one per emoji with its count; yours is
// pressed, and a click takes it back) and the React button's palette of quick reactions. What a
// click does is the message list's one listener's (room.js: data-act "reaction" and "emoji").
"use strict";

const ChatReactions = {
  QUICK: ["👍", "❤️", "😂", "😮", "😢", "🙏"],

  // A message's row of chips; `nameOf(userId)` names who reacted.
  row(reactions, userId, nameOf) {
    const row = document.createElement("div");
    row.className = "reactions";
    ChatReactions.render(row, reactions, userId, nameOf);
    return row;
  },

  render(row, reactions, userId, nameOf) {
    row.replaceChildren();
    for (const reaction of reactions) {
      const mine = reaction.userIds.includes(userId);
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "reaction";
      chip.setAttribute("aria-pressed", String(mine));
      chip.textContent = `${reaction.emoji} ${reaction.count}`;
      const names = reaction.userIds.map(nameOf);
      chip.title = names.join(", ");
      // The accessible name starts with the visible text ("👍 2").
      chip.setAttribute("aria-label", `${chip.textContent}: ${names.join(", ")}${mine ? "; click to take yours back" : "; click to add yours"}`);
      Object.assign(chip.dataset, { act: "reaction", emoji: reaction.emoji, on: String(!mine) });
      row.append(chip);
    }
    row.hidden = !reactions.length;
    for (const chip of row.children) chip.tabIndex = -1;
  },

  // Closing the palette gives the focus back to its button when the palette had it.
  closePalette(item) {
    const palette = item.querySelector(".palette");
    if (!palette) return;
    const opener = item.querySelector("button.react");
    const hadFocus = palette.contains(document.activeElement);
    palette.remove();
    opener.setAttribute("aria-expanded", "false");
    if (hadFocus) opener.focus();
  },

  togglePalette(item, opener) {
    const open = item.querySelector(".palette");
    if (open) {
      open.remove();
      opener.setAttribute("aria-expanded", "false");
      return;
    }
    const palette = document.createElement("div");
    palette.className = "palette";
    palette.setAttribute("role", "group");
    palette.setAttribute("aria-label", "Reactions");
    for (const emoji of ChatReactions.QUICK) {
      const choice = document.createElement("button");
      choice.type = "button";
      choice.textContent = emoji;
      choice.setAttribute("aria-label", `React with ${emoji}`);
      choice.tabIndex = -1;
      Object.assign(choice.dataset, { act: "emoji", emoji });
      palette.append(choice);
    }
    palette.addEventListener("keydown", (event) => {
      const choices = [...palette.querySelectorAll("button")];
      const at = choices.indexOf(document.activeElement);
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        ChatReactions.closePalette(item);
      } else if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
        event.preventDefault();
        event.stopPropagation();
        const step = event.key === "ArrowRight" ? 1 : -1;
        choices[(at + step + choices.length) % choices.length].focus();
      }
    });
    opener.parentElement.after(palette);
    opener.setAttribute("aria-expanded", "true");
    palette.querySelector("button").focus();
  },
};
