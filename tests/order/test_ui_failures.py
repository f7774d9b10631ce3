"""What the Temporal UI shows of an order's failure: the message and the failure type, not a
Python stack trace full of the worker's local paths (workers/data_converter.py)."""

from __future__ import annotations

from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

from workers.data_converter import DATA_CONVERTER


def _lookup_sku() -> None:
    raise KeyError("NO-SUCH-SKU")


def refusal() -> ApplicationError:
    """A business refusal raised from an exception, with tracebacks on both, as the order's
    validation raises it."""
    try:
        try:
            _lookup_sku()
        except KeyError as e:
            raise ApplicationError(
                "order O-1 is invalid: line 1: unknown SKU 'NO-SUCH-SKU'",
                type="InvalidOrder",
                non_retryable=True,
            ) from e
    except ApplicationError as err:
        return err
    raise AssertionError("not raised")


def convert(converter: DataConverter, error: BaseException) -> Failure:
    failure = Failure()
    converter.failure_converter.to_failure(error, converter.payload_converter, failure)
    return failure


def test_the_sdk_default_would_show_local_paths() -> None:
    """The reason for the converter: by default the failure and its cause carry file paths."""
    failure = convert(pydantic_data_converter, refusal())
    assert __file__ in failure.stack_trace and __file__ in failure.cause.stack_trace


def test_a_failure_keeps_its_message_and_type_but_no_stack_trace() -> None:
    failure = convert(DATA_CONVERTER, refusal())
    assert failure.message == "order O-1 is invalid: line 1: unknown SKU 'NO-SUCH-SKU'"
    assert failure.application_failure_info.type == "InvalidOrder"
    assert failure.application_failure_info.non_retryable
    assert failure.stack_trace == ""
    assert failure.cause.message == "'NO-SUCH-SKU'" and failure.cause.stack_trace == ""


def test_an_unexpected_exception_shows_no_stack_trace_either() -> None:
    try:
        _lookup_sku()
    except KeyError as e:
        failure = convert(DATA_CONVERTER, e)
    assert failure.application_failure_info.type == "KeyError"
    assert failure.stack_trace == "" and "/" not in str(failure)
