"""The `dom` command line: one typer app; each domain module adds its own commands."""

import typer

from workers.cli import api, dev, returns, routing, simulate
from workers.cli.inventory import inventory_app
from workers.cli.order import order_app, shipment_app

app = typer.Typer(
    help="dom-workflows: distributed order management on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(order_app, name="order")
app.add_typer(shipment_app, name="shipment")
app.add_typer(inventory_app, name="inventory")
dev.register(app)
routing.register(app)
api.register(app)
simulate.register(app)
returns.register(app)
