"""Names of the failure types that cross process boundaries (activity -> workflow -> client).

Temporal carries an ApplicationError's type as a string; one constant per name keeps the raiser,
the retry policies that must not retry it and the client that translates it in step."""

from temporalio.exceptions import ActivityError, ApplicationError

# What awaiting an activity raises when it failed for good: an ActivityError for an activity,
# the ApplicationError itself for a local activity.
ACTIVITY_FAILED = (ActivityError, ApplicationError)

INVALID_ORDER = "InvalidOrder"
ROUTING_ERROR = "RoutingError"
RESERVATION_CONFLICT = "ReservationConflict"
NODE_REFUSED = "NodeRefused"
CANCEL_REFUSED = "CancelRefused"
HOLD_REFUSED = "HoldRefused"
PAYMENT_DECLINED = "PaymentDeclined"
PAYMENT_REFUSED = "PaymentRefused"
CAPTURE_REFUSED = "CaptureRefused"
VOID_REFUSED = "VoidRefused"
ORDER_FAILED = "OrderFailed"
ORDER_CLOSED = "OrderClosed"

# An RMA that could not be opened (the API maps them to 404 / 422 / 409; RmaTaken: the client
# takes the next RMA number).
UNKNOWN_ORDER = "UnknownOrder"
INVALID_RETURN = "InvalidReturn"
RETURN_REFUSED = "ReturnRefused"
RMA_TAKEN = "RmaTaken"


def failure_cause(err: BaseException) -> str:
    """The innermost failure message: what actually went wrong, not the wrapper."""
    while err.__cause__ is not None:
        err = err.__cause__
    return str(err)


def is_final(err: BaseException) -> bool:
    """Whether a failure says no retry can succeed (a non-retryable ApplicationError anywhere
    in its cause chain), as opposed to a timeout or a fault worth trying again."""
    cur: BaseException | None = err
    while cur is not None:
        if isinstance(cur, ApplicationError) and cur.non_retryable:
            return True
        cur = cur.__cause__
    return False
