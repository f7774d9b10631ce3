"""One logging set-up for every process (worker, API, simulator, `dom dev`).

* DOM_LOG_FORMAT=json: one JSON object per line -- time (UTC, ISO 8601), level, logger,
  message and, when known, order_id, workflow_id, run_id, activity, trace_id and span_id (and
  `exception` with the traceback). Temporal's workflow and activity loggers put the workflow
  and activity in the record's `extra`; inside an activity the DomainInterceptor's context
  supplies them for every other logger too; the current OpenTelemetry span gives the trace.
* Plain text (the default) for people: `time level logger: message`.
* DOM_LOG_LEVEL (default INFO). httpx and httpcore log every request at INFO: they stay at
  WARNING unless DOM_LOG_LEVEL=DEBUG, since one line per partner call is noise at volume.

Nothing here imports lazily at format time: records logged inside the workflow sandbox are
formatted with this module's own imports.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import IO, Any

from opentelemetry import trace

from workers.observability.context import activity_context, order_id_of

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET_AT_INFO = ("httpx", "httpcore")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update(ids_of(record))
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            doc["stack"] = record.stack_info
        return json.dumps(doc, default=str, ensure_ascii=False)


def ids_of(record: logging.LogRecord) -> dict[str, str]:
    """order_id, workflow_id, run_id, activity, trace_id, span_id: whichever are known."""
    ids: dict[str, str] = {}
    wf = getattr(record, "temporal_workflow", None)
    act = getattr(record, "temporal_activity", None)
    if isinstance(act, dict):
        ids["workflow_id"] = str(act.get("workflow_id") or "")
        ids["run_id"] = str(act.get("workflow_run_id") or "")
        ids["activity"] = str(act.get("activity_type") or "")
    elif isinstance(wf, dict):
        ids["workflow_id"] = str(wf.get("workflow_id") or "")
        ids["run_id"] = str(wf.get("run_id") or "")
    elif (running := activity_context.get()) is not None:
        ids["workflow_id"], ids["activity"] = running
    order_id = getattr(record, "order_id", None) or order_id_of(ids.get("workflow_id", ""))
    if order_id:
        ids["order_id"] = str(order_id)
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        ids["trace_id"] = format(ctx.trace_id, "032x")
        ids["span_id"] = format(ctx.span_id, "016x")
    return {k: v for k, v in ids.items() if v}


def configure_logging(
    *, level: str | None = None, fmt: str | None = None, stream: IO[str] | None = None
) -> None:
    """Configure the root logger from DOM_LOG_LEVEL and DOM_LOG_FORMAT (or the arguments)."""
    level = (level or os.environ.get("DOM_LOG_LEVEL") or "INFO").upper()
    fmt = (fmt or os.environ.get("DOM_LOG_FORMAT") or "text").lower()
    if fmt not in ("text", "json"):
        raise ValueError(f"DOM_LOG_FORMAT must be text or json, not {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in QUIET_AT_INFO:
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    if fmt == "json":
        # The ids are fields of their own; Temporal's loggers need not append them as text.
        from temporalio import activity, workflow

        activity.logger.activity_info_on_message = False
        workflow.logger.workflow_info_on_message = False
