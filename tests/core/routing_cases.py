"""The golden table of AMQP topic-routing cases.

Each row is ``(pattern, key, expected)``: whether a topic binding with
`pattern` receives a message published with routing key `key`. The rule
(https://www.rabbitmq.com/tutorials/amqp-concepts, /docs/exchanges): words are
split on ``.``, ``*`` matches exactly one word, ``#`` matches zero or more
words. Empty words are words; the empty key has zero words. The rows include
the cases in-memory emulators get wrong (research §1.8.4).

The real-broker contract tests import this exact list, so keep it a plain
module-level constant. Every row was checked against RabbitMQ 3.10.8.
"""

from __future__ import annotations

ROUTING_CASES: list[tuple[str, str, bool]] = [
    # exact words
    ("a.b.c", "a.b.c", True),
    ("a.b.c", "a.b", False),
    ("a.b", "a.b.c", False),
    ("a.b.c", "a.b.d", False),
    ("a", "a", True),
    ("a", "b", False),
    # '*' is exactly one word
    ("*", "a", True),
    ("*", "a.b", False),
    ("*", "", False),
    ("a.*", "a.b", True),
    ("a.*", "a", False),
    ("a.*", "a.b.c", False),
    ("*.b", "a.b", True),
    ("*.b", "b", False),
    ("a.*.c", "a.b.c", True),
    ("a.*.c", "a.b.x.c", False),
    ("a.*.c", "a.c", False),
    ("*.*", "a.b", True),
    ("*.*", "a", False),
    ("*.*", "a.b.c", False),
    ("regions.na.cities.*", "regions.na.cities", False),
    ("regions.na.cities.*", "regions.na.cities.toronto", True),
    # '#' is zero or more words
    ("#", "", True),
    ("#", "a", True),
    ("#", "a.b.c", True),
    ("a.#", "a", True),
    ("a.#", "a.b", True),
    ("a.#", "a.b.c", True),
    ("a.#", "b", False),
    ("a.#", "b.a", False),
    ("#.c", "c", True),
    ("#.c", "a.b.c", True),
    ("#.c", "a.c.d", False),
    ("a.#.c", "a.c", True),
    ("a.#.c", "a.b.c", True),
    ("a.#.c", "a.b.x.c", True),
    ("a.#.c", "a.b.x", False),
    ("audit.events.#", "audit.events", True),
    ("audit.events.#", "audit.events.users.signup", True),
    ("audit.events.#", "audit", False),
    ("#.#", "", True),
    ("#.#", "a.b", True),
    ("#.*", "", False),
    ("#.*", "a", True),
    ("#.*", "a.b.c", True),
    ("*.#", "a", True),
    ("*.#", "", False),
    ("#.b.#", "b", True),
    ("#.b.#", "a.b.c", True),
    ("#.b.#", "a.c", False),
    ("a.#.b.#.c", "a.b.c", True),
    ("a.#.b.#.c", "a.x.b.y.z.c", True),
    ("a.#.b.#.c", "a.x.y.c", False),
    ("*.#.*", "a", False),
    ("*.#.*", "a.b", True),
    # empty words and the empty key
    ("", "", True),
    ("", "a", False),
    ("a", "", False),
    ("a.*.b", "a..b", True),
    ("a..b", "a..b", True),
    ("a..b", "a.b", False),
    ("*", ".", False),
    ("*.*", ".", True),
    ("a.*", "a.", True),
    ("#", ".", True),
    ("a.#", "a.", True),
    # words are compared exactly, not as substrings or prefixes
    ("ab", "abc", False),
    ("a.b*", "a.bc", False),
    ("a.b*", "a.b*", True),
    ("A.b", "a.b", False),
]
