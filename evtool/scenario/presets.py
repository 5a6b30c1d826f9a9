"""Named retry presets: a framework's documented retry defaults as one word.

`retry: {preset: spring-cloud-stream}` stands for the retry object the
framework gives a consumer when nothing is configured; any key written next to
`preset` wins over the preset's value (`backoff` is merged key by key, so
`backoff: {max: 5s}` keeps the preset's initial delay and multiplier).

Each value below is the framework's documented default; the sentence and its
address are quoted next to it and in `tests/scenario/test_presets.py`.
Both frameworks retry inside the application (the handler is called again
after a sleep, the broker sees one delivery), which is evtool's
`mode: in_place`.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError

from evtool.scenario.errors import did_you_mean

SPRING_CLOUD_STREAM_URL = "https://docs.spring.io/spring-cloud-stream/reference/spring-cloud-stream/binding-properties.html"
SPRING_ERROR_HANDLING_URL = (
    "https://docs.spring.io/spring-cloud-stream/reference/spring-cloud-stream/overview-error-handling.html")
CAMEL_DLC_URL = "https://camel.apache.org/components/next/eips/dead-letter-channel.html"
CAMEL_DLC_HISTORY_URL = "https://mail-archive.com/commits@camel.apache.org/msg16553.html (the same page, an earlier edit)"
CAMEL_REDELIVERY_POLICY_URL = ("https://github.com/apache/camel/blob/main/core/camel-core-processor/src/main/java/"
                               "org/apache/camel/processor/errorhandler/RedeliveryPolicy.java")

PRESETS: dict[str, dict[str, Any]] = {
    # Spring Cloud Stream consumer properties (binding-properties.html, "Consumer Properties"):
    #   maxAttempts: "If processing fails, the number of attempts to process the message (including the
    #   first). Set to 1 to disable retry. Default: 3." -> max_attempts 3 (both count the first attempt)
    #   backOffInitialInterval: "The backoff initial interval on retry. Default: 1000." -> initial 1s
    #   backOffMaxInterval: "The maximum backoff interval. Default: 10000." -> max 10s
    #   backOffMultiplier: "The backoff multiplier. Default: 2.0." -> multiplier 2
    # The RetryTemplate retries in the binder, in-process (overview-error-handling.html: "binder will make
    # several attempts at re-trying the same message (3 by default) using RetryTemplate"): in_place.
    # After the last attempt the binder's DLQ takes the message when one is configured (auto-bind-dlq,
    # enable-dlq); without one "after being logged, the message will be dropped" - evtool's dead_letter
    # does the same: the broker dead-letters the rejected message, or drops it when the channel has no DLQ.
    "spring-cloud-stream": {
        "max_attempts": 3,
        "backoff": {"type": "exponential", "initial": "1s", "multiplier": 2.0, "max": "10s"},
        "mode": "in_place",
        "on_exhausted": "dead_letter",
    },
    # Camel's Dead Letter Channel (dead-letter-channel.html, "Redelivery default values"): "Redelivery is
    # disabled by default." "maximumRedeliveries=0", "redeliveryDelay=1000L (1 second)",
    # "maximumRedeliveryDelay = 60 * 1000L (60 seconds)", "And the exponential backoff and collision
    # avoidance is turned off."; RedeliveryPolicy's Javadoc adds "backOffMultiplier = 2".
    # Camel counts REdeliveries: maximumRedeliveries N is N + 1 attempts, so 0 is max_attempts 1.
    # Without exponential backoff every redelivery waits redeliveryDelay: a constant 1s. `initial` and
    # `multiplier` carry Camel's exponential settings, so `backoff: {type: exponential}` next to the preset
    # is Camel's useExponentialBackOff=true (1s, 2s, 4s, ... capped at 60s).
    # Redelivery happens inside the route ("This implementation will block while sleeping", asyncDelayedRedelivery
    # = false): in_place. The exhausted exchange is moved to the dead letter endpoint and handled: evtool's
    # dead_letter with the consumer's own `dead_letter:` channel (the app moves it and acks the original).
    "camel-dead-letter-channel": {
        "max_attempts": 1,
        "backoff": {"type": "constant", "delay": "1s", "initial": "1s", "multiplier": 2.0, "max": "60s"},
        "mode": "in_place",
        "on_exhausted": "dead_letter",
    },
}
"""Every preset's retry object, as it would be written in a scenario."""

PRESET_NAMES = tuple(PRESETS)

DOCUMENTED: dict[str, tuple[tuple[str, str, Any, str, str], ...]] = {
    "spring-cloud-stream": (
        ("maxAttempts", "max_attempts", 3, "If processing fails, the number of attempts to process the message "
         "(including the first). Set to 1 to disable retry. Default: 3.", SPRING_CLOUD_STREAM_URL),
        ("backOffInitialInterval", "backoff.initial", "1s", "The backoff initial interval on retry. Default: 1000.",
         SPRING_CLOUD_STREAM_URL),
        ("backOffMultiplier", "backoff.multiplier", 2.0, "The backoff multiplier. Default: 2.0.",
         SPRING_CLOUD_STREAM_URL),
        ("backOffMaxInterval", "backoff.max", "10s", "The maximum backoff interval. Default: 10000.",
         SPRING_CLOUD_STREAM_URL),
        ("RetryTemplate (in-process)", "mode", "in_place", "binder will make several attempts at re-trying the same "
         "message (3 by default) using RetryTemplate", SPRING_ERROR_HANDLING_URL),
        ("the binder's DLQ", "on_exhausted", "dead_letter", "If retries are unsuccessful it is up to the error "
         "handling mechanism which may drop the message, re-queue the message for re-processing or send the "
         "failed message to DLQ.", SPRING_ERROR_HANDLING_URL),
    ),
    "camel-dead-letter-channel": (
        ("maximumRedeliveries", "max_attempts", 1, "maximumRedeliveries=0 ... Setting the maximumRedeliveries to 0 "
         "will disable any redelivery attempt.", CAMEL_DLC_URL),
        ("redeliveryDelay", "backoff.delay", "1s", "redeliveryDelay=1000L (1 second)", CAMEL_DLC_URL),
        ("useExponentialBackOff", "backoff.type", "constant", "And the exponential backoff and collision avoidance "
         "is turned off.", CAMEL_DLC_URL),
        ("backOffMultiplier", "backoff.multiplier", 2.0, "backOffMultiplier = 2", CAMEL_REDELIVERY_POLICY_URL),
        ("maximumRedeliveryDelay", "backoff.max", "60s", "maximumRedeliveryDelay = 60 * 1000L (60 seconds)",
         CAMEL_DLC_URL),
        ("redelivery inside the route", "mode", "in_place", "This implementation will block while sleeping",
         CAMEL_REDELIVERY_POLICY_URL),
        ("Dead Letter Channel", "on_exhausted", "dead_letter", "When all attempts of redelivery have failed the "
         "Exchange is moved to the dead letter queue (the dead letter endpoint).", CAMEL_DLC_HISTORY_URL),
    ),
}
"""Per preset: (the framework's name for the setting, the evtool key, its value, the documentation's sentence,
where it is). docs/profiles.md shows this table; tests/report/test_framework_words.py checks it against PRESETS."""


def presets_markdown() -> str:
    """The "Retry presets" section of docs/profiles.md: each default with the sentence it comes from."""
    out = ["## Retry presets (Spring Cloud Stream, Apache Camel)", "",
           "A consumer's `retry: {preset: NAME}` takes a framework's documented retry defaults; keys written next",
           "to `preset` win (`evtool/scenario/presets.py`). Both frameworks retry in the application, so the",
           "broker delivers once. Spring counts attempts (maxAttempts includes the first); Camel counts",
           "redeliveries (maximumRedeliveries excludes the first attempt, so evtool's `max_attempts` is it + 1).",
           ""]
    for name, rows in DOCUMENTED.items():
        out += [f"### `{name}`", "", "| framework setting | evtool key | value | documentation says | source |",
                "|---|---|---|---|---|"]
        for setting, key, value, quote, url in rows:
            cells = (setting, f"`{key}`", f"`{value}`", f'"{quote}"', url)
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        out.append("")
    return "\n".join(out)

SOURCES: dict[str, tuple[str, ...]] = {
    "spring-cloud-stream": (SPRING_CLOUD_STREAM_URL, SPRING_ERROR_HANDLING_URL),
    "camel-dead-letter-channel": (CAMEL_DLC_URL, CAMEL_REDELIVERY_POLICY_URL),
}
"""Where each preset's defaults are documented."""


def apply_preset(data: Any) -> Any:
    """The retry mapping `data` with its preset's values filled in under the keys it writes itself.

    Anything that is not a mapping, or a mapping without `preset`, is returned
    unchanged (the model's own validation reports what is wrong with it).
    """
    if not isinstance(data, dict) or data.get("preset") is None:
        return data
    name = data["preset"]
    if not isinstance(name, str) or name not in PRESETS:
        shown = f"`{name}`" if isinstance(name, str) else repr(name)
        known = ", ".join(f"`{n}`" for n in PRESET_NAMES)
        hint = (did_you_mean(name, PRESET_NAMES) if isinstance(name, str) else None) or f"known presets: {known}"
        raise PydanticCustomError("evtool_preset", f"unknown retry preset {shown}; expected one of {known}",
                                  {"hint": hint, "at": "preset"})
    preset = PRESETS[name]
    merged: dict[str, Any] = {**preset, **data}
    backoff = data.get("backoff")
    if isinstance(backoff, dict):
        # key by key: `backoff: {max: 5s}` changes the cap and keeps the preset's schedule
        merged["backoff"] = {**preset["backoff"], **backoff}
    return merged
