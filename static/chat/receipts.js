// Read receipts without the page: how far each member has received and read the chat (their
// watermarks, which only move forward; reading implies receiving), and what one of your
// messages shows from them: sent ✓, delivered ✓✓, read (blue ✓✓); in a group, "read by N"
// with their names. Unit-tested with `node --test` (tests/js/receipts.test.js).
"use strict";

class ChatReceipts {
  // `entries`: the page's [{userId, username, delivered, read}]; `userId`: who is reading the
  // page; `chatType`: "direct" or "group".
  constructor(entries, { userId, chatType }) {
    this.userId = userId;
    this.chatType = chatType;
    this.members = new Map(entries.map((entry) => [entry.userId, { ...entry }]));
  }

  nameOf(userId) {
    const member = this.members.get(userId);
    return member ? member.username : "someone";
  }

  // How far this page's user had read the chat (where "New messages" starts).
  readBy(userId) {
    const member = this.members.get(userId);
    return member ? member.read : 0;
  }

  // A member's client received (`field` "delivered") or they read ("read") the chat up to
  // `seq`; true if a watermark moved.
  move(userId, field, seq) {
    const member = this.members.get(userId);
    if (!member) return false;
    const before = `${member.delivered}:${member.read}`;
    member[field] = Math.max(member[field], seq);
    if (field === "read") member.delivered = Math.max(member.delivered, seq);
    return `${member.delivered}:${member.read}` !== before;
  }

  // What your message at `seq` shows: {state, text, title}; null when there is no one else.
  of(seq) {
    const others = [...this.members.values()].filter((member) => member.userId !== this.userId);
    if (!others.length) return null;
    const readers = others.filter((member) => member.read >= seq);
    const delivered = others.every((member) => member.delivered >= seq || member.read >= seq);
    let state = delivered ? "delivered" : "sent";
    if (readers.length === others.length) state = "read";
    if (this.chatType === "group" && readers.length) {
      const names = readers.map((member) => member.username).join(", ");
      return { state, text: ` ✓✓ read by ${readers.length}`, title: `Read by ${names}` };
    }
    const title = { sent: "Sent", delivered: "Delivered", read: "Read" }[state];
    return { state, text: delivered ? " ✓✓" : " ✓", title };
  }
}

if (typeof module !== "undefined") module.exports = ChatReceipts;
