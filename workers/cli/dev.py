"""`dom dev`, `dom worker`, `dom setup`: running the system."""

from __future__ import annotations

import asyncio

import typer

from workers.cli.common import (
    Address,
    ExitCode,
    Namespace,
    configure_logging,
    console,
    fail,
    run,
    settings,
)


def register(app: typer.Typer) -> None:
    @app.command("dev")
    def dev(
        temporal_port: int = typer.Option(7233, help="Temporal frontend port."),
        ui_port: int = typer.Option(8233, help="Temporal Web UI port."),
        api_port: int = typer.Option(8000, help="HTTP API port."),
        demo: bool = typer.Option(False, help="Also run the partner simulator and demo orders."),
        demo_rate: float = typer.Option(0.5, help="Demo orders per second (with --demo)."),
        sim_port: int | None = typer.Option(
            None, help="Partner simulator port (default API port + 100)."
        ),
        external_temporal: bool = typer.Option(
            False, help="Use --address / TEMPORAL_ADDRESS instead of starting a dev server."
        ),
        address: Address = None,
        namespace: Namespace = None,
    ) -> None:
        """Start the local stack: Temporal dev server + UI, DOM database, worker.

        Its files (databases, logs, the lock that keeps a second stack out) are under DOM_HOME."""
        from workers.dev_home import StackBusy
        from workers.dev_stack import DevOptions, main

        if (address or namespace) and not external_temporal:
            raise fail("--address / --namespace need --external-temporal", ExitCode.USAGE)
        try:
            main(
                DevOptions(
                    temporal_port=temporal_port,
                    ui_port=ui_port,
                    api_port=api_port,
                    demo=demo,
                    demo_rate=demo_rate,
                    sim_port=sim_port,
                    external_temporal=external_temporal,
                ),
                settings(),
            )
        except StackBusy as e:
            raise fail(str(e)) from None

    @app.command("worker")
    def worker(
        address: Address = None,
        namespace: Namespace = None,
        metrics_port: int | None = typer.Option(
            None,
            "--metrics-port",
            min=0,
            max=65535,
            help="Serve Prometheus /metrics here (0: a free port; default DOM_METRICS_PORT).",
        ),
    ) -> None:
        """Run one worker (production: run as many as you need)."""
        import signal

        from workers.worker import run_worker

        configure_logging()

        async def go() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await run_worker(settings(), stop, metrics_port)

        run(go())

    @app.command("setup")
    def setup(address: Address = None, namespace: Namespace = None) -> None:
        """Production set-up: migrate and seed the DOM database, register search attributes,
        create the Schedules (cart hold sweep, alert evaluation, reconciliation)."""
        from temporalio.api.enums.v1 import IndexedValueType
        from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
        from temporalio.service import RPCError

        from activities.inventory.db import create_engine, migrate, seed_network
        from dom_workflows.network import load_network
        from dom_workflows.order import search_attributes as attrs
        from workers.cli.progress import progress
        from workers.client import connect
        from workers.schedules import SCHEDULES, ensure_schedules

        async def go() -> None:
            s = settings()
            with progress() as bar:
                step = bar.add_task("migrating the DOM database", total=3 + len(SCHEDULES))
                engine = create_engine(s.database_url)
                try:
                    await migrate(engine)
                    bar.update(step, advance=1, description="seeding the network")
                    # Seeding never overwrites live positions, so running setup again is safe.
                    created = await seed_network(engine, load_network(s.network_path))
                finally:
                    await engine.dispose()
                console.print(
                    f"database migrated and seeded ({created} new positions): {s.database_url}"
                )
                bar.update(step, advance=1, description="registering search attributes")
                client = await connect(s)
                request = AddSearchAttributesRequest(
                    namespace=s.temporal_namespace,
                    search_attributes={
                        k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in attrs.ALL
                    },
                )
                try:
                    await client.operator_service.add_search_attributes(request)
                    console.print(
                        "search attributes registered: " + ", ".join(k.name for k in attrs.ALL)
                    )
                except RPCError as e:  # already there, or Temporal Cloud (use tcld there)
                    console.print(
                        f"search attributes not added ({e.message}); on Temporal Cloud use tcld"
                    )
                bar.update(step, advance=1, description="creating the Schedules")
                outcomes = await ensure_schedules(client, s.task_queue)
                bar.update(step, advance=len(SCHEDULES))
            for what, schedule_id, outcome in outcomes:
                console.print(f"{what} schedule {schedule_id}: {outcome}")

        run(go())
