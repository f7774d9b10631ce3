"""DOM_LOG_FORMAT=json: one JSON object per line with the ids that are known; plain text by
default; no httpx request line at INFO."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace

from tests.support.observed import tracing_on
from workers.observability.context import activity_context
from workers.observability.logs import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {n: logging.getLogger(n).level for n in ("httpx", "httpcore")}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, lvl in quiet.items():
            logging.getLogger(name).setLevel(lvl)


def lines(out: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_carry_order_workflow_activity_and_trace_ids(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    details = {"workflow_id": "order-WEB-7", "workflow_run_id": "r1", "activity_type": "x"}
    logging.getLogger("temporalio.activity").info(
        "from an activity", extra={"temporal_activity": details}
    )
    wf = {"workflow_id": "order-WEB-8", "run_id": "r2", "workflow_type": "OrderWorkflow"}
    logging.getLogger("temporalio.workflow").warning(
        "from a workflow", extra={"temporal_workflow": wf}
    )
    token = activity_context.set(("order-WEB-9", "reserve_and_route"))
    try:
        logging.getLogger("dom.ledger").info("inside an activity, another logger")
    finally:
        activity_context.reset(token)
    with tracing_on():
        with trace.get_tracer("t").start_as_current_span("s") as span:
            logging.getLogger("dom.api").info("in a span")
            ctx = span.get_span_context()
    logging.getLogger("dom.api").info("nothing known")

    a, w, inner, traced, bare = [d for d in lines(out) if d["logger"] != "dom.observability"]
    assert a["order_id"] == "WEB-7" and a["workflow_id"] == "order-WEB-7" and a["activity"] == "x"
    assert a["message"] == "from an activity" and a["level"] == "INFO"
    assert a["logger"] == "temporalio.activity" and a["time"].endswith("+00:00")
    assert w["order_id"] == "WEB-8" and w["run_id"] == "r2" and w["level"] == "WARNING"
    assert inner["order_id"] == "WEB-9" and inner["activity"] == "reserve_and_route"
    assert traced["trace_id"] == format(ctx.trace_id, "032x")
    assert traced["span_id"] == format(ctx.span_id, "016x")
    assert set(bare) == {"time", "level", "logger", "message"}


def test_plain_text_is_the_default_and_exceptions_stay_in_one_object(
    restore_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOM_LOG_FORMAT", raising=False)
    out = io.StringIO()
    configure_logging(stream=out)
    logging.getLogger("dom.x").info("hello")
    assert " INFO dom.x: hello" in out.getvalue()
    with pytest.raises(json.JSONDecodeError):
        json.loads(out.getvalue())

    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("dom.x").exception("failed")
    (doc,) = lines(out)
    assert "ValueError: boom" in doc["exception"]


def test_no_httpx_request_line_at_info_unless_debug(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging(level="INFO", stream=out)
    logging.getLogger("httpx").info("HTTP Request: POST http://node/x 202 Accepted")
    logging.getLogger("httpcore.connection").debug("connect_tcp.started")
    assert out.getvalue() == ""
    configure_logging(level="DEBUG", stream=out)
    logging.getLogger("httpx").info("HTTP Request: POST http://node/x 202 Accepted")
    assert "HTTP Request" in out.getvalue()


def test_an_unknown_format_is_refused(restore_logging: None) -> None:
    with pytest.raises(ValueError, match="text or json"):
        configure_logging(fmt="yaml")
