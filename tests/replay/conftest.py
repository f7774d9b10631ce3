from tests.order.conftest import harness

__all__ = ["harness"]
