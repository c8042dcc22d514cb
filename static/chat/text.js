// What the pages show of people, chats and messages, the same everywhere: avatar colours and
// letters, a message's one-line preview, and message text with its web links made clickable.
// No page state here (unit-tested with `node --test`, tests/js/).
"use strict";

const ChatText = {
  // One of eight avatar colours for a person (their user id) or a group (its chat id): the sum of
  // the key's UTF-8 bytes, as chat/views.py's hue() computes it for the server-drawn parts.
  hue(key) {
    let sum = 0;
    for (const byte of new TextEncoder().encode(String(key))) sum += byte;
    return sum % 8;
  },

  // One or two letters for an avatar (chat/views.py's initials()).
  initials(title) {
    const words = String(title).replace(/,/g, " ").split(/\s+/).filter((w) => /^[\p{L}\p{N}]/u.test(w));
    if (!words.length) return "?";
    const letters = [...words[0]][0] + (words.length > 1 ? [...words[1]][0] : [...words[0]].slice(1, 2).join(""));
    return letters.toUpperCase();
  },

  // What a member sees as a chat's name: its name, else the other members' usernames.
  title(chat, viewerId) {
    if (chat.chatName) return chat.chatName;
    const others = (chat.members || []).filter((m) => m.userId !== viewerId).map((m) => m.username);
    return others.join(", ") || "Just you";
  },

  // The key of a chat's avatar colour: the other person in a direct chat, else the chat.
  avatarKey(chat, viewerId) {
    if (chat.chatType === "direct") {
      const other = (chat.members || []).find((m) => m.userId !== viewerId);
      if (other) return other.userId;
    }
    return chat.chatId;
  },

  // A message in one line: its text, else what it carries ("Photo", a file's name).
  preview(message) {
    if (message.deleted) return "message deleted";
    if (message.message) return message.message;
    const files = message.attachments || [];
    if (!files.length) return "";
    const pictures = files.filter((f) => String(f.contentType || "").startsWith("image/")).length;
    if (pictures === files.length) return pictures > 1 ? `📷 ${pictures} photos` : "📷 Photo";
    return files.length > 1 ? `📎 ${files[0].name} and ${files.length - 1} more` : `📎 ${files[0].name}`;
  },

  // Cut to `limit` characters (whole code points), with an ellipsis when cut.
  clip(text, limit) {
    const points = [...text];
    return points.length > limit ? `${points.slice(0, limit - 1).join("")}…` : text;
  },

  // Where http(s) links are in `text`: [{start, end, href}]. A link ends at white space or
  // angle brackets; closing punctuation that ends a sentence (".", ",", ")" without an opening
  // one in the link, ...) is left out. Only http: and https: ever become links.
  links(text) {
    const found = [];
    const pattern = /\bhttps?:\/\/[^\s<>"]+/gi;
    for (const match of text.matchAll(pattern)) {
      let url = match[0];
      for (;;) {
        const last = url.slice(-1);
        if (/[.,;:!?'*]/.test(last)) url = url.slice(0, -1);
        else if (last === ")" && (url.match(/\(/g) || []).length < (url.match(/\)/g) || []).length) url = url.slice(0, -1);
        else break;
      }
      let href;
      try {
        href = new URL(url).href;
      } catch (err) {
        continue;
      }
      if (!/^https?:$/.test(new URL(href).protocol) || url.length <= "https://".length) continue;
      found.push({ start: match.index, end: match.index + url.length, href });
    }
    return found;
  },

  // `text` as DOM nodes: text nodes, and <a> elements for its web links (new tab, no opener,
  // no referrer). Never parsed as HTML.
  linkify(text, doc = document) {
    const nodes = [];
    let at = 0;
    for (const link of ChatText.links(text)) {
      if (link.start > at) nodes.push(doc.createTextNode(text.slice(at, link.start)));
      const anchor = doc.createElement("a");
      anchor.href = link.href;
      anchor.target = "_blank";
      anchor.rel = "noopener noreferrer";
      anchor.textContent = text.slice(link.start, link.end);
      nodes.push(anchor);
      at = link.end;
    }
    if (at < text.length) nodes.push(doc.createTextNode(text.slice(at)));
    return nodes;
  },
};

if (typeof module !== "undefined") module.exports = ChatText;
