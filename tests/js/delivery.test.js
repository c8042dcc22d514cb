// Unit tests of static/chat/delivery.js (Node's built-in runner: node --test tests/js/).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const ChatDelivery = require("../../static/chat/delivery.js");

function chat({ connected = true } = {}) {
  const sent = [];
  const delivery = new ChatDelivery({
    chatId: "c1",
    send: (frame) => {
      if (!connected) return false;
      sent.push(frame);
      return true;
    },
  });
  return { delivery, sent };
}

const message = (seq, extra = {}) => ({ messageId: `m${seq}`, seq, userId: "other", ...extra });

test("contiguous grows over the seqs held, and stops at a gap", () => {
  const { delivery } = chat();
  for (const seq of [1, 2, 4, 5]) delivery.add(message(seq), "me");
  assert.equal(delivery.contiguous, 2);
  delivery.add(message(3), "me");
  assert.equal(delivery.contiguous, 5);
});

test("a message is held once, by its messageId, however often it comes", () => {
  const { delivery } = chat();
  assert.equal(delivery.add(message(1), "me").added, true);
  assert.equal(delivery.add(message(1), "me").added, false);
  assert.equal(delivery.has("m1"), true);
});

test("the first page starts the view at its oldest message", () => {
  const { delivery } = chat();
  delivery.startAt(41);
  delivery.add(message(41), "me");
  assert.equal(delivery.contiguous, 41);
});

test("joining behind the chat's last message asks for what follows the contiguous part", () => {
  const { delivery, sent } = chat();
  delivery.add(message(1), "me");
  delivery.connecting();
  delivery.joinedAt(3);
  assert.deepEqual(sent, [{ action: "sync", chatId: "c1", afterSeq: 1 }]);
});

test("no catch-up before joining, and one at a time until its page arrives", () => {
  const { delivery, sent } = chat();
  delivery.behind(5);
  assert.deepEqual(sent, []);
  delivery.joinedAt(0);
  delivery.behind(5);
  delivery.behind(6);
  assert.equal(sent.length, 1);
  delivery.historyArrived(true); // more to come: asked again from where the view is
  assert.equal(sent.length, 2);
  delivery.historyArrived(false);
  assert.equal(sent.length, 2);
});

test("a gap in live frames asks for a catch-up; a frame in order does not", () => {
  const { delivery, sent } = chat();
  delivery.joinedAt(0);
  delivery.add(message(1), "me");
  delivery.behind(1);
  assert.deepEqual(sent, []);
  delivery.add(message(3), "me");
  delivery.behind(3);
  assert.deepEqual(sent, [{ action: "sync", chatId: "c1", afterSeq: 1 }]);
});

test("a catch-up the server could not answer may be asked again", () => {
  const { delivery, sent } = chat();
  delivery.joinedAt(4);
  delivery.syncFailed();
  delivery.requestSync();
  assert.equal(sent.length, 2);
});

test("a catch-up that could not be sent (no socket) is not counted as asked", () => {
  const state = chat({ connected: false });
  state.delivery.joinedAt(4);
  assert.equal(state.delivery.syncing, false);
});

test("pending messages are sent once joined, again on every join, with the same id", () => {
  const { delivery, sent } = chat();
  delivery.addPending("k1", { text: "hi", attachments: [], replyTo: { messageId: "m9" } });
  assert.equal(delivery.sendPending("k1"), false); // not joined yet
  delivery.joinedAt(0);
  delivery.connecting();
  delivery.joinedAt(0);
  const sends = sent.filter((f) => f.action === "sendMessage");
  assert.equal(sends.length, 2);
  for (const frame of sends) {
    assert.deepEqual(frame, { action: "sendMessage", chatId: "c1", message: "hi", clientMessageId: "k1", replyTo: "m9" });
  }
});

test("a pending message waits while its files upload, then goes with them", () => {
  const { delivery, sent } = chat();
  const entry = { text: "", attachments: [], uploading: true };
  delivery.addPending("k2", entry);
  delivery.joinedAt(0);
  assert.deepEqual(sent, []);
  entry.uploading = false;
  entry.attachments = ["a1"];
  delivery.sendPending("k2");
  assert.deepEqual(sent, [{ action: "sendMessage", chatId: "c1", message: "", clientMessageId: "k2", attachments: ["a1"] }]);
});

test("one's own stored message settles its pending entry; another's with the same id does not", () => {
  const { delivery } = chat();
  const entry = { text: "hi", attachments: [] };
  delivery.addPending("k3", entry);
  assert.equal(delivery.add(message(1, { userId: "other", clientMessageId: "k3" }), "me").settled, null);
  const { settled } = delivery.add(message(2, { userId: "me", clientMessageId: "k3" }), "me");
  assert.equal(settled, entry);
  assert.equal(delivery.pending.size, 0);
});

test("unacked sends are due again after a while", () => {
  const { delivery } = chat();
  delivery.addPending("old", { text: "a", attachments: [], sentAt: 1000 });
  delivery.addPending("new", { text: "b", attachments: [], sentAt: 9000 });
  assert.deepEqual(delivery.resendDue(12000, 5000), ["old"]);
});

test("read is marked up to the contiguous part, once", () => {
  const { delivery } = chat();
  for (const seq of [1, 2, 4]) delivery.add(message(seq), "me");
  assert.equal(delivery.readDue(), 2);
  delivery.readMarked(2);
  assert.equal(delivery.readDue(), 0);
  delivery.add(message(3), "me");
  assert.equal(delivery.readDue(), 4);
});
