"""Observability: Prometheus metrics (the Temporal SDK's and the DOM's own), OpenTelemetry
traces and structured logs, configured once per process (worker, API, simulator, dev).

See docs/observability.md for every series, its labels and how the pieces fit."""
