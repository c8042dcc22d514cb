// A chat's history on its page: the newest page first, then older pages by cursor (the "Load
// older" button, or scrolling to the top), and bringing one message into view (a quote's
// original, a search result) with older pages loaded as needed.
"use strict";

class ChatHistory {
  // At most this many older pages are loaded to reach one message.
  static JUMP_PAGES = 40;

  // `show(message)` puts a message on the page; `has(seq)`: whether the page holds it.
  constructor({ chatId, pageSize, show, has }) {
    Object.assign(this, { chatId, pageSize, show, has });
    this.list = document.getElementById("messages");
    this.scroller = document.getElementById("scroller");
    this.olderButton = document.getElementById("load-older");
    this.nextCursor = null;
    this.olderButton.addEventListener("click", () => this.loadOlder());
  }

  get more() {
    return !this.olderButton.hidden;
  }

  async page() {
    const params = new URLSearchParams({ limit: String(this.pageSize) });
    if (this.nextCursor) params.set("cursor", this.nextCursor);
    const response = await fetch(`/api/chats/${this.chatId}/messages?${params}`, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`history request failed: ${response.status}`);
    return response.json();
  }

  // The newest page, shown; `before(page)` runs first (it sets where the live view starts).
  async first(before) {
    const page = await this.page();
    before(page);
    for (const message of page.messages) this.show(message);
    this.nextCursor = page.nextCursor;
    this.olderButton.hidden = !page.hasMore;
    return page;
  }

  async loadOlder() {
    const { olderButton, scroller } = this;
    const hadFocus = document.activeElement === olderButton;
    olderButton.disabled = true;
    try {
      const page = await this.page();
      const height = scroller.scrollHeight;
      for (const message of page.messages) this.show(message);
      this.nextCursor = page.nextCursor;
      olderButton.hidden = !page.hasMore;
      scroller.scrollTop += scroller.scrollHeight - height;
    } catch (err) {
      // Offline: the button stays, and the next click tries again.
    } finally {
      olderButton.disabled = false;
      // The oldest page reached, the button goes: keep keyboard focus in the conversation, on
      // its first message.
      if (hadFocus && (olderButton.hidden || document.activeElement !== olderButton)) {
        (this.list.querySelector(".message") || this.list).focus();
      }
    }
  }

  // Older pages until `wanted()` is false (at most JUMP_PAGES).
  async loadOlderWhile(wanted) {
    for (let pages = 0; wanted() && this.more && pages < ChatHistory.JUMP_PAGES; pages += 1) {
      await this.loadOlder();
    }
  }

  // Scrolled to the top: the next older page.
  scrolledToTop() {
    if (this.more && !this.olderButton.disabled) this.loadOlder();
  }

  // Bring the message at `seq` into view and highlight it; false if it could not be reached.
  async jumpTo(seq) {
    await this.loadOlderWhile(() => !this.has(seq));
    const item = this.list.querySelector(`.message[data-seq="${seq}"]`);
    if (!item) return false;
    item.scrollIntoView({ block: "center" });
    item.classList.add("highlight");
    setTimeout(() => item.classList.remove("highlight"), 2500);
    item.tabIndex = -1;
    item.focus({ preventScroll: true });
    return true;
  }
}
