"""Retrying an adapter call as Temporal's activity retry policy would."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio.exceptions import ApplicationError

T = TypeVar("T")


async def like_temporal(call: Callable[[], Awaitable[T]], attempts: int = 20) -> T:
    """Retry a retryable ApplicationError as the activity retry policy would (minus backoff)."""
    for _ in range(attempts - 1):
        try:
            return await call()
        except ApplicationError as e:
            if e.non_retryable:
                raise
    return await call()
