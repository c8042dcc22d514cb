"""A reference client of the chat's socket protocol, for bots, scripts and tests.

It keeps the promises of docs/delivery.md on the client side: every outgoing message is pending
until acked and is resent with the same ``clientMessageId`` after a reconnect or a retryable
error; a reconnect or a gap in ``seq`` triggers ``sync`` until ``hasMore`` is false; the view is
deduplicated by ``messageId``. Needs ``websockets`` and ``httpx``.

    client = ChatClient("http://127.0.0.1:8000", token="chat_…")  # a token from Settings
    await client.start(["<chatId>"])
    ack = await client.send("<chatId>", "hello")
    print(client.view("<chatId>"))
    await client.close()
"""

from chat_client.client import ChatClient, ChatClientError, SendFailed, SignedOut

__all__ = ["ChatClient", "ChatClientError", "SendFailed", "SignedOut"]
