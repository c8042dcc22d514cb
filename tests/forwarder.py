"""A loopback TCP forwarder that a test can cut, to put a server behind a failing network.

Modes:
- ``open``: bytes flow both ways.
- ``cut``: every open connection is dropped; new ones are accepted and then hear nothing
  (requests time out, as behind a dead link).
- ``lose_write_responses``: requests reach the server, but the response to a DynamoDB
  ``TransactWriteItems`` is thrown away and the client's connection closed: the write happened
  and the client cannot know it.
"""

import asyncio
import threading

from tests.servers import free_port


class Forwarder:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.port = free_port()
        self.mode = "open"
        self.lost_responses = 0
        self._loop = asyncio.new_event_loop()
        self._connections: set[asyncio.StreamWriter] = set()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Forwarder":
        self._thread.start()
        self._started.wait(10)
        return self

    def set_mode(self, mode: str) -> None:
        """Switch modes; switching to ``cut`` drops every open connection."""
        assert mode in {"open", "cut", "lose_write_responses"}
        done = threading.Event()

        def switch():
            self.mode = mode
            if mode == "cut":
                for writer in list(self._connections):
                    writer.transport.abort()
            done.set()

        self._loop.call_soon_threadsafe(switch)
        done.wait(5)

    def stop(self) -> None:
        """Close every connection it holds, then its loop (no task is left pending)."""

        async def shut_down():
            handlers = asyncio.all_tasks() - {asyncio.current_task()}
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(shut_down(), self._loop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.close()

    async def _handle(self, client_reader, client_writer):
        self._connections.add(client_writer)
        try:
            if self.mode == "cut":
                await client_reader.read()  # hold the connection open and answer nothing
                return
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.upstream_port
            )
            self._connections.add(upstream_writer)
            state = {"write_pending": False}
            await asyncio.gather(
                self._requests(client_reader, upstream_writer, state),
                self._responses(upstream_reader, client_writer, state),
                return_exceptions=True,
            )
        except OSError:
            pass
        finally:
            for writer in (client_writer,):
                writer.transport.abort()
            self._connections.discard(client_writer)

    async def _requests(self, reader, upstream_writer, state):
        try:
            while data := await reader.read(65536):
                if self.mode == "cut":
                    break
                if b"TransactWriteItems" in data:
                    state["write_pending"] = True
                upstream_writer.write(data)
                await upstream_writer.drain()
        finally:
            upstream_writer.transport.abort()
            self._connections.discard(upstream_writer)

    async def _responses(self, upstream_reader, client_writer, state):
        while data := await upstream_reader.read(65536):
            if self.mode == "cut":
                break
            if self.mode == "lose_write_responses" and state["write_pending"]:
                self.lost_responses += 1
                break
            state["write_pending"] = False
            client_writer.write(data)
            await client_writer.drain()
        client_writer.transport.abort()
