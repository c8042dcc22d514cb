// Unit tests of static/chat/actions.js (Node's built-in runner: node --test tests/js/).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const ChatActions = require("../../static/chat/actions.js");

const react = (messageId, emoji, on) => ({ action: "react", chatId: "c", messageId, emoji, on });
const edit = (messageId, message) => ({ action: "editMessage", chatId: "c", messageId, message });

test("one asked action per kind, message and emoji; the last asked wins", () => {
  const actions = new ChatActions();
  actions.ask(react("m1", "👍", true));
  actions.ask(react("m1", "👍", false));
  actions.ask(react("m1", "❤️", true));
  actions.ask({ action: "deleteMessage", chatId: "c", messageId: "m2" });
  assert.equal(actions.size, 3);
  assert.equal(actions.matching("react", "m1").find((f) => f.emoji === "👍").on, false);
  assert.equal(actions.waitingOn("m1"), true);
  assert.equal(actions.waitingOn("m3"), false);
});

test("a reaction is settled when the server's reactions show it done, not before", () => {
  const actions = new ChatActions();
  actions.ask(react("m1", "👍", true));
  actions.ask(react("m1", "😂", false));
  // Someone else's 👍 does not settle mine; my 😂 still there does not settle taking it back.
  let settled = actions.reactionsArrived("m1", [
    { emoji: "👍", count: 1, userIds: ["other"] },
    { emoji: "😂", count: 1, userIds: ["me"] },
  ], "me");
  assert.deepEqual(settled, []);
  settled = actions.reactionsArrived("m1", [{ emoji: "👍", count: 2, userIds: ["other", "me"] }], "me");
  assert.deepEqual(settled.map((f) => f.emoji).sort(), ["👍", "😂"]);
  assert.equal(actions.size, 0);
});

test("an edit is settled by its own text only, and forgets what it replaced", () => {
  const actions = new ChatActions();
  actions.rememberEdit("m1", { text: "first", edited: false });
  actions.ask(edit("m1", "second"));
  actions.rememberEdit("m1", { text: "second", edited: true }); // a second edit keeps the first
  actions.ask(edit("m1", "third"));
  assert.equal(actions.editArrived("m1", "second"), null); // an older edit's broadcast
  assert.equal(actions.editArrived("m1", "third").message, "third");
  assert.equal(actions.size, 0);
  assert.equal(actions.refused("editMessage", "m1"), null);
});

test("a refused edit gives back what the message said; other refusals give nothing", () => {
  const actions = new ChatActions();
  actions.rememberEdit("m1", { text: "original", edited: false });
  actions.ask(edit("m1", "rude"));
  actions.ask(react("m2", "👍", true));
  assert.deepEqual(actions.refused("editMessage", "m1"), { text: "original", edited: false });
  assert.equal(actions.refused("react", "m2"), null);
  assert.equal(actions.size, 0);
});

test("settling what was never asked changes nothing", () => {
  const actions = new ChatActions();
  actions.ask({ action: "deleteMessage", chatId: "c", messageId: "m1" });
  assert.equal(actions.settle({ action: "deleteMessage", messageId: "m2" }), null);
  assert.equal(actions.settle({ action: "deleteMessage", messageId: "m1" }).messageId, "m1");
  assert.equal(actions.size, 0);
});
