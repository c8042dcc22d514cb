// A chat's delivery state on the page, without the page: which messages it holds (by seq and
// messageId, each once), how far it holds every message (`contiguous`), the messages it sent
// and waits to see acked (`pending`, resent with the same clientMessageId after a reconnect),
// and when to ask the server to catch up (`sync` after the last contiguous seq: on joining
// behind, on a gap, while a catch-up says there is more). room.js draws; this decides.
// Unit-tested with `node --test` (tests/js/delivery.test.js).
"use strict";

class ChatDelivery {
  // `send(frame)` hands a frame to the socket: true if sent, false if there is none now.
  constructor({ chatId, send }) {
    this.chatId = chatId;
    this.send = send;
    this.seqs = new Set(); // seqs the view holds
    this.messageIds = new Set();
    this.contiguous = 0; // every seq <= contiguous is held
    this.pending = new Map(); // clientMessageId -> entry ({text, attachments, replyTo, ...})
    this.joined = false;
    this.syncing = false;
    this.readSent = 0;
  }

  // The first page shown starts the view at its oldest message: nothing before it is owed.
  startAt(oldestSeq) {
    this.contiguous = oldestSeq - 1;
  }

  has(messageId) {
    return this.messageIds.has(messageId);
  }

  // A stored message reached the view (page, live frame, catch-up or ack). Returns false if it
  // was held already; else true, and the pending entry it settles (one's own, by its
  // clientMessageId), which is no longer pending.
  add(message, ownUserId) {
    if (this.messageIds.has(message.messageId)) return { added: false, settled: null };
    let settled = null;
    if (message.userId === ownUserId && this.pending.has(message.clientMessageId)) {
      settled = this.pending.get(message.clientMessageId);
      this.pending.delete(message.clientMessageId);
    }
    this.messageIds.add(message.messageId);
    this.seqs.add(message.seq);
    while (this.seqs.has(this.contiguous + 1)) this.contiguous += 1;
    return { added: true, settled };
  }

  // A seq the server says exists (a frame, an ack, the chat's last on joining) that the view
  // does not hold contiguously: catch up.
  behind(seq) {
    if (seq > this.contiguous) this.requestSync();
  }

  requestSync() {
    if (!this.joined || this.syncing) return;
    this.syncing = Boolean(this.send({ action: "sync", chatId: this.chatId, afterSeq: this.contiguous }));
  }

  // The server could not answer a catch-up: it may be asked again.
  syncFailed() {
    this.syncing = false;
  }

  // The socket opened (or reopened): not joined until the server says so.
  connecting() {
    this.joined = false;
    this.syncing = false;
  }

  disconnected() {
    this.joined = false;
  }

  // The server joined the socket to the chat, whose last message is `lastSeq`: catch up, and
  // send again whatever is still pending (the server stores each clientMessageId once).
  joinedAt(lastSeq) {
    this.joined = true;
    this.behind(lastSeq);
    for (const clientMessageId of this.pending.keys()) this.sendPending(clientMessageId);
  }

  // A catch-up page arrived; more follow while the server says there are.
  historyArrived(hasMore) {
    this.syncing = false;
    if (hasMore) this.requestSync();
  }

  addPending(clientMessageId, entry) {
    this.pending.set(clientMessageId, entry);
  }

  dropPending(clientMessageId) {
    const entry = this.pending.get(clientMessageId);
    this.pending.delete(clientMessageId);
    return entry || null;
  }

  // Send (or send again) a pending message, once joined and not still uploading its files.
  sendPending(clientMessageId) {
    const entry = this.pending.get(clientMessageId);
    if (!entry || entry.uploading || !this.joined) return false;
    const frame = { action: "sendMessage", chatId: this.chatId, message: entry.text, clientMessageId };
    if (entry.attachments && entry.attachments.length) frame.attachments = entry.attachments;
    if (entry.replyTo) frame.replyTo = entry.replyTo.messageId;
    entry.sentAt = Date.now(); // (tried again after a while if no ack comes: resendDue)
    return Boolean(this.send(frame));
  }

  // Pending messages sent more than `afterMs` ago and still not acked.
  resendDue(now, afterMs) {
    return [...this.pending.entries()]
      .filter(([, entry]) => now - (entry.sentAt || 0) > afterMs)
      .map(([clientMessageId]) => clientMessageId);
  }

  // The seq to mark read now (everything held contiguously, once), or 0.
  readDue() {
    return this.contiguous > this.readSent ? this.contiguous : 0;
  }

  readMarked(seq) {
    this.readSent = Math.max(this.readSent, seq);
  }
}

if (typeof module !== "undefined") module.exports = ChatDelivery;
