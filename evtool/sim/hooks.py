"""`HandlerHooks`: the extension points around a consumer's handler (evtool.sim.consumer re-exports it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evtool.core.delivery import Delivery
    from evtool.core.message import Message
    from evtool.scenario import models as m

# The consumer imports this module, so its classes are named here, not imported (no import cycle).
ConsumerActor = Any
Instance = Any


class HandlerHooks:
    """Extension points around one consumer's handler (hooks named for the lifecycle, as middleware).

    A pattern that takes part in a consumer's work (the outbox: where emitted events go, and the
    transaction around the handler) subclasses this and sets `consumer.hooks`, instead of replacing the
    consumer's methods. A consumer with hooks never takes the plain or the lean path.
    """

    def before_handle(self, inst: Instance, d: Delivery) -> None:
        """Called before the handler runs on `d`."""

    def after_handle(self, inst: Instance, d: Delivery) -> None:
        """Called after the handler ran on `d` (succeeded, failed or scheduled a retry)."""

    def send_emit(self, consumer: ConsumerActor, spec: m.Emit, render: Callable[..., Any], msg: Message,
                  env: dict[str, Any]) -> bool:
        """Take over sending one `emit:`; False leaves it to the consumer (`emit_message`)."""
        return False
