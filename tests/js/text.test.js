// Unit tests of static/chat/text.js (Node's built-in runner: node --test tests/js/).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const ChatText = require("../../static/chat/text.js");

test("hue matches the server's: the sum of the key's UTF-8 bytes, modulo 8", () => {
  assert.equal(ChatText.hue("12"), (49 + 50) % 8);
  assert.equal(ChatText.hue("é"), (0xc3 + 0xa9) % 8);
  assert.equal(ChatText.hue(7), ChatText.hue("7"));
});

test("initials: two letters from one or two words, else ?", () => {
  assert.equal(ChatText.initials("alice"), "AL");
  assert.equal(ChatText.initials("Summit trip"), "ST");
  assert.equal(ChatText.initials("bob, carol"), "BC");
  assert.equal(ChatText.initials("!!!"), "?");
  assert.equal(ChatText.initials("😀 Ünïcode"), "ÜN");
});

test("title: the chat's name, else the other members", () => {
  const members = [{ userId: "1", username: "alice" }, { userId: "2", username: "bob" }];
  assert.equal(ChatText.title({ chatName: "Trip", members }, "1"), "Trip");
  assert.equal(ChatText.title({ chatName: "", members }, "1"), "bob");
  assert.equal(ChatText.title({ chatName: "", members: [members[0]] }, "1"), "Just you");
  assert.equal(ChatText.avatarKey({ chatType: "direct", chatId: "c", members }, "1"), "2");
  assert.equal(ChatText.avatarKey({ chatType: "group", chatId: "c", members }, "1"), "c");
});

test("preview: text, else what the files are", () => {
  const photo = { name: "a.png", contentType: "image/png" };
  const doc = { name: "plan.pdf", contentType: "application/pdf" };
  assert.equal(ChatText.preview({ message: "hi" }), "hi");
  assert.equal(ChatText.preview({ message: "hi", deleted: true }), "message deleted");
  assert.equal(ChatText.preview({ message: "", attachments: [photo] }), "📷 Photo");
  assert.equal(ChatText.preview({ message: "", attachments: [photo, photo] }), "📷 2 photos");
  assert.equal(ChatText.preview({ message: "", attachments: [doc] }), "📎 plan.pdf");
  assert.equal(ChatText.preview({ message: "", attachments: [doc, photo] }), "📎 plan.pdf and 1 more");
  assert.equal(ChatText.preview({ message: "" }), "");
});

test("clip cuts whole code points", () => {
  assert.equal(ChatText.clip("😀😀😀", 2), "😀…");
  assert.equal(ChatText.clip("short", 10), "short");
});

test("links: http and https only, sentence punctuation left out", () => {
  const hrefs = (text) => ChatText.links(text).map((l) => l.href);
  assert.deepEqual(hrefs("see https://example.com/docs."), ["https://example.com/docs"]);
  assert.deepEqual(hrefs("(at http://example.org/a_(b))"), ["http://example.org/a_(b)"]);
  assert.deepEqual(hrefs("a, https://x.example/?q=1&r=2, b"), ["https://x.example/?q=1&r=2"]);
  assert.deepEqual(hrefs("javascript:alert(1) data:text/html,x ftp://h.example mailto:a@b"), []);
  assert.deepEqual(hrefs("JAVASCRIPT://example.com/%0aalert(1)"), []);
  assert.deepEqual(hrefs("https://"), []);
  assert.deepEqual(hrefs('<a href="https://evil.example">x</a>'), ["https://evil.example/"]);
  const [link] = ChatText.links("go to https://example.com now");
  assert.deepEqual([link.start, link.end], [6, 25]);
});

test("linkify builds nodes, never markup", () => {
  // A minimal document: enough of the DOM for linkify.
  const doc = {
    createTextNode: (text) => ({ text }),
    createElement: (tag) => ({ tag }),
  };
  const nodes = ChatText.linkify("a <b>https://example.com/x</b> c", doc);
  assert.deepEqual(nodes[0], { text: "a <b>" });
  assert.equal(nodes[1].tag, "a");
  assert.equal(nodes[1].href, "https://example.com/x");
  assert.equal(nodes[1].textContent, "https://example.com/x");
  assert.equal(nodes[1].rel, "noopener noreferrer");
  assert.equal(nodes[1].target, "_blank");
  assert.deepEqual(nodes[2], { text: "</b> c" });
});
