"""Rollout scopes: where a node, a rule or a whole policy is active.

A scope's conditions must all hold (a list means "any of"); an empty scope holds for every
order. The percentage picks orders by a stable hash of the order id (sha256, never Python's
salted hash()), so an order lands on the same side on every worker, retry and replay."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

# Percentages resolve to basis points: 12.34% is 1234 of 10,000 buckets.
BUCKETS = 10_000
# An order attribute the order model has no field for: a channel tags the order `brand:acme`.
BRAND_TAG = "brand:"


def bucket(order_id: str, salt: str = "") -> int:
    """The order's bucket in [0, BUCKETS): the same for the same id and salt, everywhere."""
    digest = hashlib.sha256(f"{salt}|{order_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass(frozen=True)
class ScopeSubject:
    """What a scope looks at in an order."""

    order_id: str
    state: str | None = None
    zip: str | None = None
    channel: str = "web"
    brands: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        order_id: str,
        *,
        state: str | None,
        zip_code: str | None,
        channel: str,
        tags: list[str],
    ) -> ScopeSubject:
        return cls(
            order_id=order_id,
            state=state.upper() if state else None,
            zip=zip_code,
            channel=channel,
            brands=frozenset(t[len(BRAND_TAG) :] for t in tags if t.startswith(BRAND_TAG)),
        )


class Scope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    states: list[str] | None = Field(default=None, min_length=1, examples=[["TX", "OK"]])
    zip_prefixes: list[str] | None = Field(default=None, min_length=1, examples=[["750", "752"]])
    channels: list[str] | None = Field(default=None, min_length=1, examples=[["web"]])
    brands: list[str] | None = Field(default=None, min_length=1, examples=[["acme"]])
    percent: float | None = Field(default=None, ge=0, le=100, examples=[10])
    # Rollouts with different salts pick independent samples of orders.
    salt: str = Field(default="", max_length=64)

    def matches(self, s: ScopeSubject) -> bool:
        if self.states is not None and (s.state or "") not in {x.upper() for x in self.states}:
            return False
        if self.zip_prefixes is not None and not any(
            (s.zip or "").startswith(p) for p in self.zip_prefixes
        ):
            return False
        if self.channels is not None and s.channel not in self.channels:
            return False
        if self.brands is not None and not s.brands.intersection(self.brands):
            return False
        if self.percent is not None:
            return bucket(s.order_id, self.salt) < round(self.percent * BUCKETS / 100)
        return True

    def describe(self) -> str:
        parts = [
            f"{name}={','.join(v)}"
            for name, v in (
                ("states", self.states),
                ("zip", self.zip_prefixes),
                ("channels", self.channels),
                ("brands", self.brands),
            )
            if v is not None
        ]
        if self.percent is not None:
            parts.append(f"{self.percent:g}%" + (f" (salt {self.salt})" if self.salt else ""))
        return " ".join(parts) or "everyone"
