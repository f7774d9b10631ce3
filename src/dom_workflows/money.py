"""Money is a Decimal amount with an ISO 4217 currency code; never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

CENTS = Decimal("0.01")

# Serialised as a string so that JSON round-trips never pass through float.
Amount = Annotated[Decimal, PlainSerializer(lambda d: str(d), return_type=str, when_used="json")]


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: Amount
    currency: str = Field(default="USD", min_length=3, max_length=3)

    @field_validator("amount", mode="before")
    @classmethod
    def _no_float(cls, v: object) -> object:
        if isinstance(v, float):
            # A float has already lost cents; make the caller say what they mean.
            raise ValueError("money amounts must be strings or decimals, not floats")
        return v

    @field_validator("currency")
    @classmethod
    def _upper(cls, v: str) -> str:
        if not v.isalpha():
            raise ValueError(f"currency {v!r} is not an ISO 4217 code")
        return v.upper()

    @classmethod
    def zero(cls, currency: str = "USD") -> Money:
        return cls(amount=Decimal("0.00"), currency=currency)

    def _check(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def times(self, qty: int) -> Money:
        return Money(
            amount=(self.amount * qty).quantize(CENTS, ROUND_HALF_EVEN), currency=self.currency
        )

    def __str__(self) -> str:
        return f"{self.amount.quantize(CENTS)} {self.currency}"
