"""The data converter every DOM client and worker uses: pydantic payloads, and failures without
Python stack traces.

A failure's stack trace is stored in the workflow's history and shown by the Temporal UI next
to the message: frames full of the worker's local paths (/home/.../site-packages/temporalio/...)
around a business refusal such as "order X is invalid: unknown SKU". The message and the
failure type are what an operator acts on; the traceback stays in the worker's own log, where
the SDK writes it when an activity or workflow task fails."""

from __future__ import annotations

import dataclasses

from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverter, PayloadConverter


class FailureWithoutTraceback(DefaultFailureConverter):
    """The default conversion, then the stack trace of the failure and of each cause removed."""

    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure
    ) -> None:
        super().to_failure(exception, payload_converter, failure)
        node: Failure | None = failure
        while node is not None:
            node.stack_trace = ""
            node = node.cause if node.HasField("cause") else None


DATA_CONVERTER: DataConverter = dataclasses.replace(
    pydantic_data_converter, failure_converter_class=FailureWithoutTraceback
)
