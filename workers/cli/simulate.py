"""`dom simulate partners`: run the partner simulator as its own process."""

from __future__ import annotations

from pathlib import Path

import typer

from workers.cli.common import console, settings

simulate_app = typer.Typer(help="Simulated partners for demos and tests.", no_args_is_help=True)


@simulate_app.callback()
def simulate() -> None:
    """Simulated partners for demos and tests."""
    # A callback keeps `partners` a sub-command even while it is the only one.


@simulate_app.command("partners")
def partners(
    port: int = typer.Option(8100, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    api_url: str | None = typer.Option(
        None, help="DOM API that receives partner events (default: DOM_API_URL)."
    ),
    accept_delay: float = typer.Option(2.0, help="Seconds until a node accepts (or rejects)."),
    ship_delay: float = typer.Option(4.0, help="Seconds from acceptance to shipment."),
    deliver_delay: float = typer.Option(6.0, help="Seconds from shipment to delivery."),
    reject_rate: float = typer.Option(0.0, help="Share of fulfilment requests rejected (0-1)."),
    stall_rate: float = typer.Option(
        0.0, help="Share of accepted requests that never ship (to trip the ship SLA)."
    ),
    fail_rate: float = typer.Option(
        0.0, help="Share of calls answered 500 (half of them after applying the effect)."
    ),
    timeout_rate: float = typer.Option(
        0.0, help="Share of calls answered only after --slow-seconds (after the effect)."
    ),
    slow_seconds: float = typer.Option(15.0, help="How slow a --timeout-rate answer is."),
    seed: int | None = typer.Option(None, help="Random seed, for a reproducible run."),
    secrets: Path | None = typer.Option(
        None, help="Partner secrets file (default: DOM_PARTNER_SECRETS or examples/partners.json)."
    ),
) -> None:
    """Play every partner: nodes, suppliers, the carrier and the payment provider."""

    import uvicorn

    from workers.observability.logs import configure_logging
    from workers.simulator.app import Simulator, create_app
    from workers.simulator.config import SimConfig, load_secrets

    # One set-up for every process: DOM_LOG_FORMAT=json, no httpx line per event post.
    configure_logging()
    s = settings()
    config = SimConfig(
        api_url=api_url or s.api_url,
        accept_delay=accept_delay,
        ship_delay=ship_delay,
        deliver_delay=deliver_delay,
        reject_rate=reject_rate,
        stall_rate=stall_rate,
        fail_rate=fail_rate,
        timeout_rate=timeout_rate,
        slow_seconds=slow_seconds,
        seed=seed,
    )
    sim = Simulator(config, secrets=load_secrets(secrets or s.partner_secrets_path))
    console.print(
        f"partner simulator on http://{host}:{port} -> events to {config.api_url}\n"
        f"  delays accept {accept_delay}s / ship {ship_delay}s / deliver {deliver_delay}s, "
        f"reject {reject_rate:.0%}, 5xx {fail_rate:.0%}, slow {timeout_rate:.0%}"
    )
    # uvicorn owns this process's signals: SIGINT/SIGTERM shut it down gracefully, and the
    # app's lifespan cancels pending partner events.
    uvicorn.run(create_app(sim), host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.add_typer(simulate_app, name="simulate")
