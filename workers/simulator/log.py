"""Every request the simulator received, the idempotency store, and the effects ledger.

The effects ledger is the proof that retries are safe: each effect is recorded under the
idempotency key that caused it and under its business subject (`capture:<shipment>`,
`label:<shipment>:outbound`, ...). Any count above one is a duplicate side effect, whether the
client reused a key wrongly or minted a new key for a retry.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class LogEntry:
    at: float
    method: str
    path: str
    idempotency_key: str | None
    status: int
    new_effect: bool
    replayed: bool
    fault: str


@dataclass(frozen=True)
class StoredResponse:
    fingerprint: str
    status: int
    body: Any


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


class RequestLog:
    def __init__(self) -> None:
        self.entries: list[LogEntry] = []
        self.responses: dict[str, StoredResponse] = {}
        self.by_key: Counter[str] = Counter()
        self.by_subject: Counter[str] = Counter()

    def record(self, entry: LogEntry) -> None:
        self.entries.append(entry)

    def entry(
        self,
        method: str,
        path: str,
        key: str | None,
        status: int,
        *,
        new_effect: bool = False,
        replayed: bool = False,
        fault: str = "none",
    ) -> None:
        self.record(LogEntry(time.time(), method, path, key, status, new_effect, replayed, fault))

    def effect(self, scoped_key: str, subject: str) -> None:
        self.by_key[scoped_key] += 1
        self.by_subject[subject] += 1

    def effects(self) -> dict[str, Any]:
        duplicates = [k for k, n in self.by_key.items() if n > 1]
        duplicates += [s for s, n in self.by_subject.items() if n > 1]
        return {
            "by_key": dict(self.by_key),
            "by_subject": dict(self.by_subject),
            "duplicates": duplicates,
        }

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(e) for e in self.entries]

    def reset(self) -> None:
        self.entries.clear()
        self.responses.clear()
        self.by_key.clear()
        self.by_subject.clear()
