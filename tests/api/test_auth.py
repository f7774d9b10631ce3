"""API keys and scopes: every operation of the served OpenAPI document refuses an anonymous or
bad key with 401 and changes nothing; scopes and channel bindings are 403 / 404; keys are
stored hashed; `dom apikey` creates, lists and revokes; partner and shop secrets rotate."""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter
from typer.testing import CliRunner

from activities.inventory import schema
from dom_workflows.channels import shopify
from dom_workflows.partners import signing
from tests.support.api import Api, assert_problem, order_body
from tests.support.auth import new_key
from workers.api import apikeys
from workers.api.app import create_app
from workers.api.auth import api_routes, undeclared_routes
from workers.api.security import PartnerSecrets
from workers.client import OrderNotFound

ANON_ORDER = "AUTH-ANON-1"
ANONYMOUS_OK = {("get", "/healthz")}
BAD_KEYS = [
    None,
    "garbage",
    "dom_0123456789abcdef_not-the-secret",
    "dom_nothex_x",
]


def operations(api: Api) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document the app serves."""
    doc = create_app(api.deps).openapi()
    return sorted(
        (method, path)
        for path, item in doc["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    )


def concrete(path: str) -> str:
    """A real-looking URL for a templated path: a configured partner, a known SKU, an order."""
    subs = {"partner_id": "wh-reno", "partner": "wh-reno", "sku": "BOOT-HIKE-9"}
    return re.sub(r"\{(\w+)\}", lambda m: subs.get(m.group(1), ANON_ORDER), path)


async def call(http: httpx.AsyncClient, method: str, path: str, key: str | None) -> httpx.Response:
    """`method path` with `key` (None: no Authorization header), a valid order as the body."""
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    kw: dict[str, Any] = {"headers": headers}
    if method != "get":
        kw["json"] = order_body(order_id=ANON_ORDER)
    return await http.request(method.upper(), concrete(path), **kw)


async def counts(api: Api) -> dict[str, int]:
    out = {}
    async with api.engine.connect() as conn:
        for t in (schema.applied_keys, schema.movements, schema.reservations):
            out[t.name] = (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar()
    return out


async def test_every_operation_refuses_anonymous_and_bad_keys_and_changes_nothing(
    api: Api,
) -> None:
    revoked = await new_key(api.engine, name="revoked")
    await apikeys.revoke_key(api.engine, "revoked")
    ops = operations(api)
    assert len(ops) >= 12, ops  # the walk really covers the app
    before = await counts(api)
    app = create_app(api.deps)  # a client without the fixture's key
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://dom.test") as http:
        for method, path in ops:
            if (method, path) in ANONYMOUS_OK:
                continue
            for key in [*BAD_KEYS, revoked]:
                r = await call(http, method, path, key)
                assert r.status_code == 401, (method, path, key, r.text)
                assert_problem(r, 401)
        assert (await call(http, "get", "/healthz", None)).status_code == 200
    assert app.state.unexpected_errors == 0
    assert await counts(api) == before
    with pytest.raises(OrderNotFound):
        await api.deps.dom.status(ANON_ORDER)


async def test_every_route_declares_its_access(api: Api) -> None:
    app = create_app(api.deps)
    assert len(api_routes(app)) >= 12
    undeclared = undeclared_routes(app)
    assert undeclared == [], f"declare a scope on these routes (docs/api.md): {undeclared}"


async def test_a_route_that_declares_nothing_is_refused(api: Api) -> None:
    app = create_app(api.deps)
    router = APIRouter()

    @router.get("/v1/forgotten")
    async def forgotten() -> dict[str, str]:
        return {"oops": "open"}

    app.include_router(router)

    @app.post("/v1/forgotten-too")
    async def forgotten_too() -> dict[str, str]:
        return {"oops": "open"}

    key = await new_key(api.engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dom.test") as http:
        for method, path in (("GET", "/v1/forgotten"), ("POST", "/v1/forgotten-too")):
            assert_problem(await http.request(method, path), 401)
            r = await http.request(method, path, headers={"Authorization": f"Bearer {key}"})
            assert_problem(r, 403, "declares no scope")


async def test_wrong_scope_is_403_and_changes_nothing(api: Api) -> None:
    reader = await new_key(api.engine, scopes=["orders:read"], name="reader")
    writer = await new_key(api.engine, scopes=["orders:write"], name="writer")
    as_reader = {"Authorization": f"Bearer {reader}"}
    as_writer = {"Authorization": f"Bearer {writer}"}

    body = order_body(order_id="AUTH-SCOPE-1")
    r = await api.http.post("/v1/orders", json=body, headers=as_reader)
    assert_problem(r, 403, "orders:write")
    with pytest.raises(OrderNotFound):
        await api.deps.dom.status("AUTH-SCOPE-1")

    oid = await api.submit()  # the fixture's all-scopes key
    assert_problem(await api.http.get(f"/v1/orders/{oid}", headers=as_writer), 403, "orders:read")
    assert_problem(await api.http.get("/v1/inventory/BOOT-HIKE-9", headers=as_writer), 403)
    for path in ("cancel", "holds", "holds/release", "payment-method", "returns"):
        r = await api.http.post(f"/v1/orders/{oid}/{path}", json={}, headers=as_reader)
        assert_problem(r, 403, "'ops'")
    state = await api.state(oid)
    assert state.holds == [] and not any(e.kind.startswith("cancel") for e in state.timeline)
    assert (await api.http.get(f"/v1/orders/{oid}", headers=as_reader)).status_code == 200
    assert (await api.http.get("/v1/inventory/BOOT-HIKE-9", headers=as_reader)).status_code == 200


async def test_a_channel_key_submits_and_reads_only_its_own_channel(api: Api) -> None:
    market = await new_key(
        api.engine, scopes=["orders:read", "orders:write", "ops"], channel="marketplace"
    )
    as_market = {"Authorization": f"Bearer {market}"}
    web_order = await api.submit()  # channel web, by an unbound key

    r = await api.http.post(
        "/v1/orders", json=order_body(order_id="AUTH-CH-WEB"), headers=as_market
    )
    assert_problem(r, 403, "bound to channel 'marketplace'")
    with pytest.raises(OrderNotFound):
        await api.deps.dom.status("AUTH-CH-WEB")

    own = order_body(order_id="AUTH-CH-MKT", channel="marketplace")
    r = await api.http.post("/v1/orders", json=own, headers=as_market)
    assert r.status_code == 202, r.text
    assert (await api.http.get("/v1/orders/AUTH-CH-MKT", headers=as_market)).status_code == 200

    # Another channel's order looks exactly like one that does not exist.
    other = await api.http.get(f"/v1/orders/{web_order}", headers=as_market)
    assert_problem(other, 404, "does not exist")
    r = await api.http.post(f"/v1/orders/{web_order}/holds", json={}, headers=as_market)
    assert_problem(r, 404)
    r = await api.http.post(f"/v1/orders/{web_order}/cancel", headers=as_market)
    assert_problem(r, 404)
    assert (await api.state(web_order)).holds == []
    r = await api.http.get("/v1/orders", params={"channel": "web"}, headers=as_market)
    assert_problem(r, 403, "bound to channel 'marketplace'")
    # Unbound keys see every channel.
    assert (await api.http.get("/v1/orders/AUTH-CH-MKT")).status_code == 200


async def test_keys_are_stored_hashed(api: Api) -> None:
    key = await new_key(api.engine, name="hashed")
    key_id, secret = key.split("_", 2)[1:]
    dump = []
    async with api.engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            dump += [json.dumps(list(r), default=str) for r in await conn.execute(table.select())]
        row = (
            await conn.execute(sa.select(schema.api_keys).where(schema.api_keys.c.id == key_id))
        ).one()
    text = "\n".join(dump)
    assert secret not in text and key not in text
    assert row.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert row.name == "hashed" and sorted(row.scopes) == sorted(apikeys.ALL_SCOPES)
    assert len(secret) >= 43  # 32 random bytes, URL-safe base64


async def test_a_revoked_key_stops_working_once_the_cache_expires(api: Api) -> None:
    now = [1000.0]
    api.deps.api_keys = apikeys.KeyCache(ttl=5.0, clock=lambda: now[0])
    key = await new_key(api.engine, name="soon-revoked")
    headers = {"Authorization": f"Bearer {key}"}
    assert (await api.http.get("/v1/inventory/BOOT-HIKE-9", headers=headers)).status_code == 200
    async with api.engine.connect() as conn:
        used = (
            await conn.execute(
                sa.select(schema.api_keys.c.last_used_at).where(
                    schema.api_keys.c.name == "soon-revoked"
                )
            )
        ).scalar()
    assert used is not None
    await apikeys.revoke_key(api.engine, "soon-revoked")
    now[0] += 4.0  # still cached: at most KEY_CACHE_SECONDS of grace
    assert (await api.http.get("/v1/inventory/BOOT-HIKE-9", headers=headers)).status_code == 200
    now[0] += 1.5
    r = await api.http.get("/v1/inventory/BOOT-HIKE-9", headers=headers)
    assert_problem(r, 401, "revoked")


def test_dom_apikey_create_list_revoke(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.cli.main import app

    monkeypatch.setenv("DOM_HOME", str(tmp_path))
    monkeypatch.setenv("DOM_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}")
    runner = CliRunner()
    created = runner.invoke(
        app,
        ["apikey", "create", "--name", "web-store", "--scopes", "orders:write,orders:read",
         "--channel", "web", "--json"],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    doc = json.loads(created.stdout)
    assert doc["key"].startswith(f"dom_{doc['id']}_") and doc["channel"] == "web"
    assert doc["scopes"] == ["orders:read", "orders:write"]

    listed = runner.invoke(app, ["apikey", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [r["name"] for r in rows] == ["web-store"] and "key" not in rows[0]
    assert doc["key"].split("_", 2)[2] not in listed.stdout

    bad = runner.invoke(app, ["apikey", "create", "--name", "x", "--scopes", "admin"])
    assert bad.exit_code == 2 and "unknown scope" in bad.output

    revoked = runner.invoke(app, ["apikey", "revoke", doc["id"]])
    assert revoked.exit_code == 0 and doc["id"] in revoked.output
    assert json.loads(runner.invoke(app, ["apikey", "list", "--json"]).stdout) == []
    every = json.loads(runner.invoke(app, ["apikey", "list", "--all", "--json"]).stdout)
    assert every[0]["revoked_at"] is not None
    again = runner.invoke(app, ["apikey", "revoke", doc["id"]])
    assert again.exit_code == 3 and "no active API key" in again.output


def test_clients_find_the_key_in_the_env_first(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(apikeys.ENV_VAR, raising=False)
    assert apikeys.resolve_key(tmp_path) is None
    path = apikeys.write_key_file(tmp_path, "dom_0123456789abcdef_file")
    assert path.stat().st_mode & 0o777 == 0o600
    assert apikeys.resolve_key(tmp_path) == "dom_0123456789abcdef_file"
    monkeypatch.setenv(apikeys.ENV_VAR, "dom_0123456789abcdef_env")
    assert apikeys.resolve_key(tmp_path) == "dom_0123456789abcdef_env"


async def test_dev_key_is_reused_while_active(api: Api, tmp_path: Any) -> None:
    key, created = await apikeys.ensure_dev_key(api.engine, tmp_path)
    assert created
    assert await apikeys.ensure_dev_key(api.engine, tmp_path) == (key, False)
    await apikeys.revoke_key(api.engine, key)
    fresh, created = await apikeys.ensure_dev_key(api.engine, tmp_path)
    assert created and fresh != key


# ----------------------------------------------------------------------------- rotation
ROTATING = {
    "partners": {"wh-reno": ["new-reno", "old-reno"], "wh-dallas": "only-dallas"},
    "shopify": {
        "Demo-Outfitters.myshopify.com": {
            "secrets": ["new-shop", "old-shop"],
            "previous_valid_until": "2099-01-01T00:00:00Z",
        }
    },
}


def test_the_secrets_file_takes_all_three_formats() -> None:
    s = PartnerSecrets.model_validate(ROTATING)
    assert s.partners == {"wh-reno": "new-reno", "wh-dallas": "only-dallas"}
    assert s.partners_previous["wh-reno"].secret == "old-reno"
    assert s.partners_previous["wh-reno"].valid_until is None
    assert s.shopify == {"demo-outfitters.myshopify.com": "new-shop"}
    assert s.shopify_previous["demo-outfitters.myshopify.com"].valid_until is not None
    for bad in ([], ["a", "b", "c"], {"secrets": []}, 3):
        with pytest.raises(ValueError):
            PartnerSecrets.model_validate({"partners": {"p": bad}})


async def test_partner_requests_signed_with_either_secret_pass_and_say_which(api: Api) -> None:
    api.deps.secrets = PartnerSecrets.model_validate(ROTATING)
    event = {
        "event_id": "rot-1",
        "type": "fulfillment.accepted",
        "shipment_id": "NOPE-1:1:wh-reno",
    }
    for secret, which in (("new-reno", "current"), ("old-reno", "previous")):
        r = await api.signed("wh-reno", "events", event, secret=secret)
        assert_problem(r, 404)  # past the signature: the shipment is unknown
        assert r.headers["X-DOM-Secret"] == which
    r = await api.signed("wh-reno", "events", event, secret="someone-else")
    assert_problem(r, 401, "signature")
    assert "X-DOM-Secret" not in r.headers
    r = await api.signed("wh-dallas", "events", event, secret="only-dallas")
    assert r.headers["X-DOM-Secret"] == "current"

    # Past previous_valid_until only the current secret passes.
    expired = json.loads(json.dumps(ROTATING))
    expired["partners"]["wh-reno"] = {
        "secrets": ["new-reno", "old-reno"],
        "previous_valid_until": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    }
    api.deps.secrets = PartnerSecrets.model_validate(expired)
    assert_problem(await api.signed("wh-reno", "events", event, secret="old-reno"), 401)
    r = await api.signed("wh-reno", "events", event, secret="new-reno")
    assert r.status_code == 404 and r.headers["X-DOM-Secret"] == "current"


async def test_shopify_webhooks_signed_with_either_secret_pass(api: Api) -> None:
    api.deps.secrets = PartnerSecrets.model_validate(ROTATING)
    raw = b'{"id": 1}'
    for secret, which in (("new-shop", "current"), ("old-shop", "previous")):
        r = await api.http.post(
            "/v1/channels/shopify/orders",
            content=raw,
            headers={
                "Content-Type": "application/json",
                shopify.SHOP_HEADER: "demo-outfitters.myshopify.com",
                shopify.HMAC_HEADER: shopify.sign(secret, raw),
                shopify.WEBHOOK_ID_HEADER: f"rot-{which}-{time.time()}",
            },
        )
        assert r.status_code not in (401, 500), r.text
        assert r.headers["X-DOM-Secret"] == which
    r = await api.http.post(
        "/v1/channels/shopify/orders",
        content=raw,
        headers={
            shopify.SHOP_HEADER: "demo-outfitters.myshopify.com",
            shopify.HMAC_HEADER: shopify.sign("stale", raw),
        },
    )
    assert_problem(r, 401)
    assert signing.SIGNATURE_HEADER  # the partner header names are the module's
