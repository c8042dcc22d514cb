// Reactions, edits and deletes asked of the server, without the page: each is kept until the
// server says it happened (or refused it) and sent again when the chat is joined again; an
// edit not yet confirmed remembers what it replaced, so that a refusal puts it back.
// Unit-tested with `node --test` (tests/js/actions.test.js).
"use strict";

class ChatActions {
  constructor() {
    this.asked = new Map(); // "action:messageId[:emoji]" -> frame
    this.editedFrom = new Map(); // messageId -> {text, edited}: what an unconfirmed edit replaced
  }

  static key(frame) {
    return [frame.action, frame.messageId, frame.emoji || ""].join(":");
  }

  get size() {
    return this.asked.size;
  }

  frames() {
    return [...this.asked.values()];
  }

  // Ask (again) for `frame`: it replaces what was asked of the same kind on the same message.
  ask(frame) {
    this.asked.set(ChatActions.key(frame), frame);
  }

  // Before the first unconfirmed edit of a message: what it said, and whether it was edited.
  rememberEdit(messageId, before) {
    if (!this.editedFrom.has(messageId)) this.editedFrom.set(messageId, before);
  }

  waitingOn(messageId) {
    return this.frames().some((frame) => frame.messageId === messageId);
  }

  // What is asked of this kind on this message (sent again after a refusal for now).
  matching(action, messageId) {
    return this.frames().filter((frame) => frame.action === action && frame.messageId === messageId);
  }

  // The server says it happened: the frame asked, or null if none was.
  settle(like) {
    const key = ChatActions.key(like);
    const frame = this.asked.get(key);
    if (!frame) return null;
    this.asked.delete(key);
    return frame;
  }

  // A message's reactions as the server now has them: the asked reactions they show done are
  // settled (returned).
  reactionsArrived(messageId, reactions, userId) {
    const settled = [];
    for (const frame of this.matching("react", messageId)) {
      const chip = reactions.find((reaction) => reaction.emoji === frame.emoji);
      if (Boolean(chip && chip.userIds.includes(userId)) === frame.on) settled.push(this.settle(frame));
    }
    return settled;
  }

  // A message's new text as the server has it: the edit asked is settled if it said that.
  editArrived(messageId, text) {
    const asked = this.asked.get(ChatActions.key({ action: "editMessage", messageId }));
    if (!asked || asked.message !== text) return null;
    this.editedFrom.delete(messageId);
    return this.settle(asked);
  }

  // Refused for good: what was asked of this kind on the message is dropped; for an edit, what
  // the message said before it (to show again), else null.
  refused(action, messageId) {
    for (const frame of this.matching(action, messageId)) this.settle(frame);
    if (action !== "editMessage") return null;
    const before = this.editedFrom.get(messageId) || null;
    this.editedFrom.delete(messageId);
    return before;
  }
}

if (typeof module !== "undefined") module.exports = ChatActions;
