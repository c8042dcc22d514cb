// Unit tests of static/chat/receipts.js (Node's built-in runner: node --test tests/js/).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const ChatReceipts = require("../../static/chat/receipts.js");

const member = (userId, username, delivered = 0, read = 0) => ({ userId, username, delivered, read });

test("a direct chat's message is sent, then delivered, then read", () => {
  const receipts = new ChatReceipts([member("me", "alice"), member("you", "bob")], { userId: "me", chatType: "direct" });
  assert.deepEqual(receipts.of(3), { state: "sent", text: " ✓", title: "Sent" });
  assert.equal(receipts.move("you", "delivered", 3), true);
  assert.deepEqual(receipts.of(3), { state: "delivered", text: " ✓✓", title: "Delivered" });
  receipts.move("you", "read", 3);
  assert.deepEqual(receipts.of(3), { state: "read", text: " ✓✓", title: "Read" });
  assert.equal(receipts.of(4).state, "sent");
});

test("watermarks only move forward, and reading is receiving", () => {
  const receipts = new ChatReceipts([member("me", "alice"), member("you", "bob", 5, 5)], { userId: "me", chatType: "direct" });
  assert.equal(receipts.move("you", "read", 2), false);
  assert.equal(receipts.readBy("you"), 5);
  assert.equal(receipts.move("you", "read", 9), true);
  assert.deepEqual(receipts.members.get("you"), member("you", "bob", 9, 9));
  assert.equal(receipts.move("stranger", "read", 9), false);
});

test("a group's message says how many read it, and who", () => {
  const people = [member("me", "alice"), member("b", "bob"), member("c", "carol")];
  const receipts = new ChatReceipts(people, { userId: "me", chatType: "group" });
  receipts.move("b", "read", 7);
  assert.deepEqual(receipts.of(7), { state: "sent", text: " ✓✓ read by 1", title: "Read by bob" });
  receipts.move("c", "delivered", 7);
  assert.equal(receipts.of(7).state, "delivered");
  receipts.move("c", "read", 7);
  assert.deepEqual(receipts.of(7), { state: "read", text: " ✓✓ read by 2", title: "Read by bob, carol" });
});

test("alone in a chat, a message shows no receipt; unknown people are someone", () => {
  const receipts = new ChatReceipts([member("me", "alice")], { userId: "me", chatType: "group" });
  assert.equal(receipts.of(1), null);
  assert.equal(receipts.nameOf("me"), "alice");
  assert.equal(receipts.nameOf("gone"), "someone");
});

test("the page's own entries are copied, not changed", () => {
  const entries = [member("me", "alice"), member("you", "bob")];
  new ChatReceipts(entries, { userId: "me", chatType: "direct" }).move("you", "read", 4);
  assert.equal(entries[1].read, 0);
});
