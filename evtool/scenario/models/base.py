"""The base of every scenario model, the language version, the profiles and the validation bounds."""


from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

LANGUAGE_VERSION = "1"

PROFILES = (
    "default",
    "rabbitmq-classic",
    "rabbitmq-quorum",
    "sqs-standard",
    "sqs-fifo",
    "kafka",
    "nats-jetstream",
    "redis-streams",
)
Profile = Literal[
    "default", "rabbitmq-classic", "rabbitmq-quorum", "sqs-standard", "sqs-fifo", "kafka", "nats-jetstream",
    "redis-streams",
]


class Model(BaseModel):
    """Base of every scenario model: strict keys, immutable once loaded."""

    # `.inf` and `.nan` are YAML floats, but no number field means them (`rate: max` is a word).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, validate_default=True,
                              allow_inf_nan=False, defer_build=True)


MAX_COUNT = 1_000_000_000
"""The most messages one producer may be asked for (the run's message budget stops it sooner)."""
MAX_AT_ONCE = 1_000_000
"""The most messages published in one instant (`once`, a burst, an inject): they are built at once."""
MAX_INSTANCES = 256
"""The most instances of a producer, consumer, requester or responder."""
MAX_KEY_SPACE = 10**12
"""The most distinct keys; keys are drawn without listing them."""
MAX_EMITS = 64
"""The most messages one handler may emit per message it handles."""


def _custom(code: str, message: str, hint: str = "", *, at: str = "", **ctx: Any) -> PydanticCustomError:
    """A located error; `at` is a dotted sub-path of the model the loader points at (`arrival.rate`)."""
    return PydanticCustomError(code, message, {**ctx, "hint": hint, "at": at})


