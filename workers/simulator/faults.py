"""Fault injection: which calls fail, and how."""

from __future__ import annotations

import random
from enum import StrEnum

from workers.simulator.config import SimConfig


class Fault(StrEnum):
    NONE = "none"
    FAIL_BEFORE = "fail_before"  # 500, nothing happened
    FAIL_AFTER = "fail_after"  # the effect happened, then 500: the client cannot tell
    SLOW = "slow"  # the effect happened, the answer comes after the client gave up


class Faults:
    def __init__(self, config: SimConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng

    def draw(self) -> Fault:
        roll = self.rng.random()
        if roll < self.config.fail_rate:
            return Fault.FAIL_AFTER if self.rng.random() < 0.5 else Fault.FAIL_BEFORE
        if roll < self.config.fail_rate + self.config.timeout_rate:
            return Fault.SLOW
        return Fault.NONE
