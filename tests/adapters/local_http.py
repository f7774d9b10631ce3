"""A real HTTP/1.1 server on a local port, in the test's own event loop: answers at once
(keep-alive, or closing each connection after its answer, as servers behind some proxies do),
remembers every request body. Small enough that nothing but the client is under test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class LocalHttp:
    url: str
    bodies: list[bytes] = field(default_factory=list)


async def _serve(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    seen: LocalHttp,
    status: int,
    close: bool,
) -> None:
    with contextlib.suppress(Exception):
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            seen.bodies.append(body)
            answer = (
                f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                + ("Connection: close\r\n" if close else "")
                + "Content-Length: 2\r\n\r\n{}"
            )
            writer.write(answer.encode())
            await writer.drain()
            if close:
                break
    writer.close()


@contextlib.asynccontextmanager
async def local_http(status: int = 200, *, close: bool = False) -> AsyncIterator[LocalHttp]:
    seen = LocalHttp(url="")
    server = await asyncio.start_server(
        lambda r, w: _serve(r, w, seen, status, close), "127.0.0.1", 0
    )
    seen.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield seen
    finally:
        server.close()
