"""ConsolidationWorkflow (`consolidate-<customer_id>`): groups a customer's shipments to one
address from one node that start within the window, then tells each order its group so the
node packs them into one parcel. Fed by signal-with-start; continues-as-new to stay bounded;
ends when no group is open (the next order starts a fresh run)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from dom_workflows.consolidation.models import (
        Consolidated,
        ConsolidationState,
        Group,
        JoinConsolidation,
        Member,
    )

from dom_workflows.order import names as order_names


@workflow.defn
class ConsolidationWorkflow:
    @workflow.init
    def __init__(self, state: ConsolidationState) -> None:
        self._state = state
        self._closed_this_run = 0

    @workflow.run
    async def run(self, state: ConsolidationState) -> None:
        st = self._state
        while st.pending or st.open_groups:
            self._take_joins()
            if not st.open_groups:
                continue
            due = min(g.closes_at for g in st.open_groups)
            wait = max(due - workflow.now(), timedelta(0))
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: bool(st.pending),
                    timeout=wait if wait > timedelta(0) else timedelta(milliseconds=1),
                    timeout_summary=f"consolidation window closes {due:%H:%M:%S} UTC",
                )
            now = workflow.now()
            for group in [g for g in st.open_groups if g.closes_at <= now]:
                await self._close(group)
            more = bool(st.pending or st.open_groups)
            if more and (
                self._closed_this_run >= st.groups_per_run
                or workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(st)
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _take_joins(self) -> None:
        st = self._state
        while st.pending:
            join = st.pending.pop(0)
            member = Member(order_workflow_id=join.order_workflow_id, shipment_id=join.shipment_id)
            group = next(
                (
                    g
                    for g in st.open_groups
                    if g.address_key == join.address_key and g.node == join.node
                ),
                None,
            )
            if group is None:
                group = Group(
                    group_id=f"CG-{join.shipment_id}",  # unique across runs, says who opened it
                    address_key=join.address_key,
                    node=join.node,
                    closes_at=workflow.now() + join.window,
                )
                st.open_groups.append(group)
            if all(m.shipment_id != member.shipment_id for m in group.members):
                group.members.append(member)

    async def _close(self, group: Group) -> None:
        st = self._state
        st.open_groups.remove(group)
        st.groups_closed += 1
        self._closed_this_run += 1
        shipments = [m.shipment_id for m in group.members]
        for m in group.members:
            # An order that ended meanwhile cannot be told; the others still ship together.
            with contextlib.suppress(FailureError):
                await workflow.get_external_workflow_handle(m.order_workflow_id).signal(
                    order_names.CONSOLIDATED,
                    Consolidated(
                        group_id=group.group_id, shipment_id=m.shipment_id, shipments=shipments
                    ),
                )

    @workflow.signal
    def join(self, req: JoinConsolidation) -> None:
        self._state.pending.append(req)

    @workflow.query
    def groups(self) -> list[Group]:
        return list(self._state.open_groups)
