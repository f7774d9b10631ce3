"""The one polling helper: wait, bounded, until a probe's value satisfies a check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def until(
    probe: Callable[[], Awaitable[T]],
    check: Callable[[T], object] = bool,
    what: str = "the condition",
    *,
    within: float = 10.0,
    interval: float = 0.05,
    describe: Callable[[T], str] = repr,
) -> T:
    """Call `probe` until `check(value)` is truthy and return that value; after `within`
    seconds fail with an AssertionError naming `what` and showing the last value."""
    deadline = time.monotonic() + within
    value = await probe()
    while not check(value):
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {within:g}s waiting for {what}: {describe(value)}"
            )
        await asyncio.sleep(interval)
        value = await probe()
    return value
