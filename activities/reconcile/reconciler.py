"""One reconciliation: ask every partner what it holds, read the DOM's side of the orders
involved, compare (compare.py, ledger.py), then repair what is safe and record every finding.

Used by the ReconciliationWorkflow's activities (the daily Schedule) and by `dom reconcile`.

Which orders are compared: those the partners' records changed since `since` name, and those
routed since then (their reservations). The DOM's side of each is its workflow's `state` query
(answered after the order closed too) and its reservation rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.inventory import schema
from activities.inventory.db import utcnow
from activities.partner_events.findings import stored_event_findings
from activities.partner_events.store import settle_redelivered
from activities.reconcile import compare, partners
from activities.reconcile.compare import OrderView
from activities.reconcile.ledger import ledger_findings, release_closed_order
from activities.reconcile.partners import ListingNotServed, PartnerVoids
from activities.reconcile.store import record_run
from dom_workflows.network import Network
from dom_workflows.order import names
from dom_workflows.order.models import OrderState, order_workflow_id
from dom_workflows.partners.models import order_id_of_shipment
from dom_workflows.reconcile.models import (
    MAX_FINDINGS,
    Divergences,
    Finding,
    FindInput,
    ReconcileReport,
    SettleInput,
)
from dom_workflows.returns.models import ReturnState, return_workflow_id

log = logging.getLogger("dom.reconcile")
QUERY_CONCURRENCY = 10


class Reconciler:
    def __init__(
        self,
        client: Client,
        engine: AsyncEngine,
        network: Network,
        http: httpx.AsyncClient,
        *,
        payment_url: str | None,
        carrier_url: str | None,
    ) -> None:
        self.client = client
        self.engine = engine
        self.network = network
        self.http = http
        self.payment_url = payment_url.rstrip("/") if payment_url else None
        self.carrier_url = carrier_url.rstrip("/") if carrier_url else None
        self.voids = PartnerVoids(http, payment_url, carrier_url)

    # ------------------------------------------------------------------------------ finding
    async def find(self, inp: FindInput) -> Divergences:
        out = Divergences()
        since, cutoff = inp.since, inp.now - inp.settle
        settled = compare.settled_before(cutoff)
        node_records: dict[str, list[dict[str, Any]]] = {}
        for node in self.network.nodes:
            if not node.endpoint:
                continue
            url = f"{node.endpoint.rstrip('/')}/fulfillment-requests"
            node_records[node.id] = await self._listing(out, f"node {node.id}", url, since)
        auths = captures = refunds = labels = []
        if self.payment_url:
            auths = await self._listing(
                out, "authorizations", f"{self.payment_url}/authorizations", since
            )
            captures = await self._listing(out, "captures", f"{self.payment_url}/captures", since)
            refunds = await self._listing(out, "refunds", f"{self.payment_url}/refunds", since)
        if self.carrier_url:
            labels = await self._listing(out, "labels", f"{self.carrier_url}/labels", since)

        order_ids = set(await self._routed_since(since))
        for records in node_records.values():
            order_ids |= {o for r in records if (o := _order_of(str(r["shipment_id"])))}
        for rec in [*captures, *auths, *labels]:
            if rec.get("order_id"):
                order_ids.add(str(rec["order_id"]))
        orders = await self._views(order_ids)

        found: list[Finding] = []
        for node_id, records in node_records.items():
            found += compare.node_findings(orders, node_id, records, settled)
            held = {str(r["shipment_id"]) for r in records}
            endpoint = self.network.node(node_id).endpoint or ""
            for sh in compare.expected_at_node(orders.values(), node_id, cutoff):
                if sh.shipment_id in held:
                    continue
                # Not changed since `since` at the node, or not there at all: ask for it.
                record = await partners.fulfilment_request(self.http, endpoint, sh.shipment_id)
                if record is None:
                    found.append(
                        compare.never_delivered(_order_of(sh.shipment_id) or "", node_id, sh)
                    )
                else:
                    found += compare.node_findings(orders, node_id, [record], settled)
        found += compare.payment_findings(orders, auths, captures, refunds, settled)
        returns = await self._return_ids([str(lb["shipment_id"]) for lb in labels])
        found += compare.label_findings(orders, labels, returns, settled)
        found += await ledger_findings(self.engine)
        found += await stored_event_findings(self.engine, since, cutoff)

        out.compared |= {"orders": len(orders)}
        unique = {f.key: f for f in found}  # a shipment asked for twice is one finding
        out.findings = list(unique.values())[:MAX_FINDINGS]
        out.truncated = len(unique) > MAX_FINDINGS
        return out

    async def _listing(
        self, out: Divergences, what: str, url: str, since: datetime
    ) -> list[dict[str, Any]]:
        try:
            items = await partners.list_all(self.http, url, since)
        except ListingNotServed as e:
            out.not_compared.append(f"{what}: no listing ({e})")
            return []
        out.compared[what] = len(items)
        return items

    async def _routed_since(self, since: datetime) -> list[str]:
        res = schema.reservations
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(res.c.order_id).where(res.c.created_at >= since).distinct()
            )
            return [r.order_id for r in rows]

    async def _views(self, order_ids: Iterable[str]) -> dict[str, OrderView]:
        ids = sorted(order_ids)
        res = schema.reservations
        routed: dict[str, dict[str, str]] = {}
        async with self.engine.connect() as conn:
            for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
                rows = await conn.execute(
                    sa.select(res.c.order_id, res.c.shipment_id, res.c.node_id)
                    .where(res.c.order_id.in_(chunk))
                    .distinct()
                )
                for r in rows:
                    routed.setdefault(r.order_id, {})[r.shipment_id] = r.node_id
        gate = asyncio.Semaphore(QUERY_CONCURRENCY)

        async def state(order_id: str) -> OrderState | None:
            handle = self.client.get_workflow_handle(order_workflow_id(order_id))
            async with gate:
                try:
                    return await handle.query(names.STATE, result_type=OrderState)
                except RPCError as e:
                    if e.status == RPCStatusCode.NOT_FOUND:
                        return None
                    raise

        states = await asyncio.gather(*(state(i) for i in ids))
        views = {
            i: OrderView(i, s, routed.get(i, {}))
            for i, s in zip(ids, states, strict=True)
            if s is not None or i in routed
        }
        for order_id, refunded in (await self._returns_refunded(list(views))).items():
            views[order_id].returns_refunded = refunded
        return views

    async def _returns_refunded(self, order_ids: list[str]) -> dict[str, Decimal]:
        """What each order's returns refunded through the provider, as their workflows record
        it: the order's run has usually ended by then, so its own book cannot hold them."""
        ret, rmas = schema.returns, []
        async with self.engine.connect() as conn:
            for chunk in (order_ids[i : i + 500] for i in range(0, len(order_ids), 500)):
                rows = await conn.execute(
                    sa.select(ret.c.order_id, ret.c.rma_id).where(ret.c.order_id.in_(chunk))
                )
                rmas += [(r.order_id, r.rma_id) for r in rows]
        gate = asyncio.Semaphore(QUERY_CONCURRENCY)

        async def refunded(rma_id: str) -> Decimal:
            handle = self.client.get_workflow_handle(return_workflow_id(rma_id))
            async with gate:
                try:
                    st = await handle.query("state", result_type=ReturnState)
                except RPCError as e:
                    if e.status == RPCStatusCode.NOT_FOUND:
                        return Decimal(0)
                    raise
            return sum((r.amount.amount for r in st.refunds if r.refund_id), start=Decimal(0))

        out: dict[str, Decimal] = {}
        amounts = await asyncio.gather(*(refunded(rma) for _, rma in rmas))
        for (order_id, _), amount in zip(rmas, amounts, strict=True):
            out[order_id] = out.get(order_id, Decimal(0)) + amount
        return out

    async def _return_ids(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        ret = schema.returns
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(ret.c.rma_id).where(ret.c.rma_id.in_(ids)))
            return {r.rma_id for r in rows}

    # ------------------------------------------------------------------------------ settling
    async def settle(self, inp: SettleInput, finished_at: datetime) -> ReconcileReport:
        """Repair what is safe (not in a dry run), escalate the rest, record the run."""
        settled: list[Finding] = []
        for f in inp.found.findings:
            f = f.model_copy()
            if f.repair is None:
                f.action, f.action_detail = "escalated", "left to ops: no safe repair"
            elif inp.dry_run:
                f.action, f.action_detail = "not-repaired", f"dry run: would {f.repair.kind}"
            else:
                ok, detail = await self.repair(f)
                f.action = "repaired" if ok else "escalated"
                f.action_detail = detail
            settled.append(f)
        report = ReconcileReport(
            run_id=inp.run_id,
            trigger=inp.trigger,
            since=inp.since,
            started_at=inp.started_at,
            finished_at=finished_at,
            dry_run=inp.dry_run,
            findings=settled,
            compared=inp.found.compared,
            not_compared=inp.found.not_compared,
            truncated=inp.found.truncated,
        )
        await record_run(self.engine, report)
        for f in settled:
            log.warning("reconcile %s %s: %s (%s)", f.action, f.key, f.summary, f.action_detail)
        return report

    async def repair(self, f: Finding) -> tuple[bool, str]:
        r = f.repair
        assert r is not None
        reason = f"reconciliation: {f.kind} {f.subject}"
        if r.kind == "void-capture" and r.capture_id:
            ok, said = await self.voids.void_capture(r.capture_id, r.idempotency_key, reason)
            return ok, f"capture voided ({said})" if ok else f"void refused: {said}"
        if r.kind == "void-label" and r.label_id:
            ok, said = await self.voids.void_label(r.label_id, r.idempotency_key, reason)
            return ok, f"label voided ({said})" if ok else f"void refused: {said}"
        if r.kind == "release-reservations" and r.order_id:
            result = await release_closed_order(self.engine, r.order_id, r.idempotency_key)
            return True, f"{result.released_units} unit(s) released"
        if r.kind == "redeliver-events" and r.order_id:
            handle = self.client.get_workflow_handle(order_workflow_id(r.order_id))
            try:
                for event in r.events:
                    await handle.signal(names.SHIPMENT_EVENT, event)
            except RPCError as e:
                if e.status != RPCStatusCode.NOT_FOUND:
                    raise
                return False, f"order {r.order_id} is closed: its events can no longer be applied"
            if f.kind == "undelivered-event":  # stored events: the order has them now
                ids = [e.event_id for e in r.events]
                await settle_redelivered(self.engine, r.order_id, ids, utcnow())
            return True, "re-delivered " + ", ".join(e.event_id for e in r.events)
        return False, f"repair {r.kind} is missing its subject"


def _order_of(shipment_id: str) -> str | None:
    try:
        return order_id_of_shipment(shipment_id)
    except ValueError:
        return None
