"""Idempotency keys, the request log, the effects ledger and fault injection."""

from __future__ import annotations

import asyncio

from tests.simulator.bodies import authorize, capture, fulfilment
from tests.support.sim import SimFactory, SimHarness
from workers.simulator.faults import Fault


def force(h: SimHarness, *faults: Fault) -> None:
    """Make the next draws return these faults, then none."""
    queue = list(faults)
    h.sim.faults.draw = lambda: queue.pop(0) if queue else Fault.NONE  # type: ignore[method-assign]


async def test_replay_returns_the_original_answer_without_a_new_effect(h: SimHarness) -> None:
    first = await h.post("/payments/authorizations", authorize("O-1", "100.00"), "auth:O-1")
    again = await h.post("/payments/authorizations", authorize("O-1", "100.00"), "auth:O-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    log = (await h.http.get("/_log")).json()
    assert [(e["idempotency_key"], e["new_effect"], e["replayed"]) for e in log] == [
        ("auth:O-1", True, False),
        ("auth:O-1", False, True),
    ]
    effects = await h.effects()
    assert effects["by_key"] == {"payments auth:O-1": 1}
    assert effects["duplicates"] == []


async def test_same_key_with_another_body_is_refused(h: SimHarness) -> None:
    await h.post("/payments/authorizations", authorize("O-2", "100.00"), "k-2")
    other = await h.post("/payments/authorizations", authorize("O-2", "999.00"), "k-2")
    assert other.status_code == 422
    assert "another request" in other.json()["error"]
    assert len(h.sim.payments.auths) == 1


async def test_a_key_is_required_and_bad_bodies_change_nothing(h: SimHarness) -> None:
    assert (
        await h.post("/payments/authorizations", authorize("O-3", "1.00"), None)
    ).status_code == 400
    bad = await h.post("/payments/authorizations", {"order_id": "O-3"}, "k-3")
    assert bad.status_code == 422
    floaty = authorize("O-3", "1.00") | {"amount": {"amount": 1.1, "currency": "USD"}}
    assert (await h.post("/payments/authorizations", floaty, "k-4")).status_code == 422
    assert h.sim.payments.auths == {}


async def test_failure_after_the_effect_is_safe_to_retry(h: SimHarness) -> None:
    auth = (await h.post("/payments/authorizations", authorize("O-5", "50.00"), "a5")).json()
    body = capture(auth["authorization_id"], "O-5:1:wh-reno", "20.00")
    force(h, Fault.FAIL_AFTER, Fault.FAIL_BEFORE)
    assert (
        await h.post(
            f"/payments/authorizations/{auth['authorization_id']}/captures", body, "capture:x"
        )
    ).status_code == 500
    # The capture happened although the client saw a 500 ...
    assert h.sim.payments.auths[auth["authorization_id"]].captured.amount == 20
    # ... a retry may fail again without effect, and the next one gets the original answer.
    assert (
        await h.post(
            f"/payments/authorizations/{auth['authorization_id']}/captures", body, "capture:x"
        )
    ).status_code == 500
    ok = await h.post(
        f"/payments/authorizations/{auth['authorization_id']}/captures", body, "capture:x"
    )
    assert ok.status_code == 201 and ok.json()["captured_total"] == {
        "amount": "20.00",
        "currency": "USD",
    }
    effects = await h.effects()
    assert effects["by_subject"]["capture:O-5:1:wh-reno"] == 1
    assert effects["duplicates"] == []
    faults = [e["fault"] for e in (await h.http.get("/_log")).json()]
    assert faults == ["none", "fail_after", "fail_before", "none"]


async def test_failure_before_the_effect_changes_nothing(h: SimHarness) -> None:
    force(h, Fault.FAIL_BEFORE)
    r = await h.post("/payments/authorizations", authorize("O-6", "5.00"), "a6")
    assert r.status_code == 500 and h.sim.payments.auths == {}
    assert (
        await h.post("/payments/authorizations", authorize("O-6", "5.00"), "a6")
    ).status_code == 201
    assert (await h.effects())["by_key"] == {"payments a6": 1}


async def test_slow_answers_come_after_the_effect(make_sim: SimFactory) -> None:
    h = await make_sim(slow_seconds=0.3)
    force(h, Fault.SLOW)
    holding = asyncio.Event()  # set when the simulator starts holding the answer back

    def slow() -> float:
        holding.set()
        return 0.3

    h.sim.idempotent.slow_seconds = slow
    call = asyncio.create_task(h.post("/payments/authorizations", authorize("O-7", "5.00"), "a7"))
    async with asyncio.timeout(5):
        await holding.wait()
    assert len(h.sim.payments.auths) == 1 and not call.done()  # applied, answer still pending
    assert (await call).status_code == 201


async def test_fault_rates_are_applied_at_random(make_sim: SimFactory) -> None:
    h = await make_sim(fail_rate=0.5, seed=11)
    codes = [
        (
            await h.post(
                "/nodes/wh-reno/fulfillment-requests",
                fulfilment(f"F-{i}:1:wh-reno"),
                f"F-{i}:1:wh-reno",
            )
        ).status_code
        for i in range(40)
    ]
    assert 5 < codes.count(500) < 35 and codes.count(202) + codes.count(500) == 40


async def test_config_changes_at_runtime_and_reset_clears_state(h: SimHarness) -> None:
    r = await h.http.post("/_config", json={"reject_rate": 0.5, "fail_rate": 0.1})
    assert r.status_code == 200 and r.json()["reject_rate"] == 0.5
    assert (await h.http.post("/_config", json={"reject_rate": 2})).status_code == 422
    assert (await h.http.post("/_config", json={"nope": 1})).status_code == 422
    assert h.sim.config.reject_rate == 0.5 and h.sim.config.fail_rate == 0.1
    await h.http.post("/_config", json={"fail_rate": 0})
    await h.post("/payments/authorizations", authorize("O-8", "5.00"), "a8")
    assert (await h.http.post("/_reset")).status_code == 200
    assert (await h.http.get("/_log")).json() == []
    assert (await h.effects())["by_key"] == {}
    assert h.sim.payments.auths == {}
