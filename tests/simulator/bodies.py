"""Request bodies in the documented wire format (docs/partners.md)."""

from __future__ import annotations

from typing import Any

ADDRESS = {
    "name": "Ana Ruiz",
    "line1": "350 5th Ave",
    "city": "New York",
    "state": "NY",
    "zip": "10118",
}
RENO = {"name": "Reno FC", "city": "Reno", "state": "NV", "zip": "89502"}


def fulfilment(shipment_id: str, node: str = "wh-reno") -> dict[str, Any]:
    return {
        "shipment_id": shipment_id,
        "order_id": shipment_id.split(":")[0],
        "node": node,
        "service": "ground",
        "lines": [{"line_id": "1", "sku": "FLEECE-M", "qty": 2}],
        "ship_to": ADDRESS,
    }


def money(amount: str, currency: str = "USD") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def authorize(order_id: str, amount: str, token: str = "tok_visa") -> dict[str, Any]:
    return {
        "order_id": order_id,
        "amount": money(amount),
        "customer_id": "C-1",
        "payment_method": token,
    }


def capture(auth_id: str, shipment_id: str, amount: str) -> dict[str, Any]:
    return {
        "authorization_id": auth_id,
        "order_id": shipment_id.split(":")[0],
        "shipment_id": shipment_id,
        "amount": money(amount),
    }


def label(shipment_id: str, *, is_return: bool = False, carrier: str = "UPS-SIM") -> dict[str, Any]:
    return {
        "shipment_id": shipment_id,
        "order_id": shipment_id.split(":")[0],
        "carrier": carrier,
        "service": "ground",
        "ship_from": ADDRESS if is_return else RENO,
        "ship_to": RENO if is_return else ADDRESS,
        "parcel": {"weight_lb": "2.5"},
        "return": is_return,
    }
