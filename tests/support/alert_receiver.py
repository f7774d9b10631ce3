"""A local HTTP receiver for alert webhooks (like tests/adapters/local_http.py, plus headers):
it checks each request's signature, can refuse the first N requests (a receiver that is down)
and keeps what it accepted by Idempotency-Key, as a real receiver would dedupe."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from dom_workflows.partners import signing


@dataclass
class Receiver:
    secret: str
    fail_first: int = 0
    url: str = ""
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # by Idempotency-Key
    bad_signatures: int = 0

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        self.requests.append((headers, body))
        try:
            signing.verify(
                self.secret,
                headers.get("x-dom-timestamp"),
                headers.get("x-dom-signature"),
                body,
                time.time(),
            )
        except signing.BadSignature:
            self.bad_signatures += 1
            return 401
        if len(self.requests) <= self.fail_first:
            return 503
        self.accepted.setdefault(headers["idempotency-key"], json.loads(body))
        return 200


async def _serve(r: asyncio.StreamReader, w: asyncio.StreamWriter, rx: Receiver) -> None:
    with contextlib.suppress(Exception):
        while True:
            head = await r.readuntil(b"\r\n\r\n")
            headers: dict[str, str] = {}
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name:
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            body = await r.readexactly(length) if length else b""
            status = rx.answer(headers, body)
            w.write(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\n{{}}".encode())
            await w.drain()
    w.close()


@contextlib.asynccontextmanager
async def alert_receiver(secret: str, fail_first: int = 0) -> AsyncIterator[Receiver]:
    rx = Receiver(secret=secret, fail_first=fail_first)
    server = await asyncio.start_server(lambda r, w: _serve(r, w, rx), "127.0.0.1", 0)
    rx.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/alerts"
    try:
        yield rx
    finally:
        server.close()
