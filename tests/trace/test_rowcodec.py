"""The optional compiled row encoder (evtool/trace/_rowcodec.pyx, built by `EVTOOL_COMPILE=1 pip install .`)
writes exactly the bytes `marshal.dumps(rows, 2)[5:]` writes, so a run's digest is the same compiled or not.

Without a compiled build the comparisons skip with the reason; the fallback tests always run.
"""

from __future__ import annotations

import marshal
import subprocess
import sys
from pathlib import Path

import pytest

from evtool.scenario.lessons import lesson_dir
from evtool.scenario.loader import load_scenario
from evtool.sim.engine import Engine
from evtool.trace import digest as digest_mod
from evtool.trace.digest import TraceDigest, as_rows

try:
    from evtool.trace._rowcodec import encode_rows
except ImportError:
    encode_rows = None

compiled = pytest.mark.skipif(encode_rows is None, reason="no compiled build here (EVTOOL_COMPILE=1 pip install .)")

ODD_VALUES = [1, 2.5, -0.0, "é", "é\ud800", "", "x" * 300, -5, 0, -1, 2**31 - 1, 2**31, -2**31, -2**31 - 1,
              2**62, -2**62, 2**63 - 1, -(2**63 - 1), -2**63, 2**63, 2**64, -(2**70), True, False, None,
              [1, (2,)], {"a": {"b": [None, 1.5]}}, b"x", frozenset({1}), (), [], {}]


def _lesson_rows(name: str) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    Engine(load_scenario(lesson_dir() / f"{name}.yaml"), listeners=[lambda b: rows.extend(as_rows(b))]).run()
    return rows


@compiled
def test_every_odd_value_encodes_as_marshal_does() -> None:
    assert encode_rows is not None
    for v in ODD_VALUES:
        row = (123, "kind", v, None, {"k": v})
        assert encode_rows([row]) == marshal.dumps([row], 2)[5:], repr(v)
    rows = [(i, "k", v) for i, v in enumerate(ODD_VALUES)]
    assert encode_rows(rows) == marshal.dumps(rows, 2)[5:]
    assert encode_rows([]) == b""


@compiled
def test_wide_rows_of_long_values_encode_as_marshal_does() -> None:
    """Rows wider and longer than the encoder's first buffer: 64-bit times, strings of every length, values
    left to marshal in between, and TraceEvents (encoded as the plain tuples of their fields)."""
    from evtool.core.events import TraceEvent

    assert encode_rows is not None
    wide = tuple(v for i in range(300) for v in (5 * 10**10 + i, -(2**40) - i, "s" * (i * 17), None, 2**63, 1.5))
    events = [TraceEvent(2**33 + i, "handled", f"m-{i}", "q", "w", i, None, 1, None, {"latency": 2**35 + i})
              for i in range(2000)]
    rows = [wide, *events, wide]
    assert encode_rows(rows) == marshal.dumps([tuple(r) for r in rows], 2)[5:]


@compiled
@pytest.mark.parametrize("name", ["retries-dlq-poison", "order-saga", "partitioned-ordering", "batching"])
def test_lesson_traces_encode_as_marshal_does(name: str) -> None:
    assert encode_rows is not None
    rows = _lesson_rows(name)
    assert len(rows) > 100
    assert encode_rows(rows) == marshal.dumps(rows, 2)[5:]


@compiled
def test_counting_a_kind_keeps_the_bytes_and_counts_exactly() -> None:
    """`encode_rows(rows, kind)`: the same bytes, and how many rows have `kind` as field 1, whether that field is
    the interned string, an equal string made at run time, another kind, or not a string at all."""
    from operator import countOf, itemgetter

    from evtool.core.events import TraceEvent

    assert encode_rows is not None
    made = "".join(["publ", "ished"])  # equal to "published", not the same object, not interned
    assert made == "published" and made is not "published"  # noqa: F632 - the point of the test
    rows = [TraceEvent(i, kind, f"m-{i}", "q", None, None, None, None, None, None)
            for i, kind in enumerate(["published", "delivered", made, "acked", "published", "publishe"])]
    rows += [(9, 7), (10,), (11, None), (12, "published", 1.5)]
    body, count = encode_rows(rows, "published")
    assert body == encode_rows(rows) == marshal.dumps([tuple(r) for r in rows], 2)[5:]
    assert count == countOf(map(itemgetter(1), [r for r in rows if len(r) > 1]), "published") == 4
    assert encode_rows([], "published") == (b"", 0)
    with pytest.raises(TypeError):
        encode_rows(rows, 1)


@pytest.mark.skipif(not digest_mod.COMPILED, reason="the digest runs on marshal here (no compiled build, or "
                    "EVTOOL_PURE=1, under which the encoder can still be imported but is not used)")
def test_the_recorder_gets_the_digests_count_of_published() -> None:
    """The digest hands a recorder its encoder's count with the bytes (`shared_batch`), the count the pure
    build gets by counting the events itself."""
    rows = _lesson_rows("retries-dlq-poison")
    digest = TraceDigest()
    digest.update_rows(rows)
    shared = digest_mod.shared_batch(rows)
    assert shared is not None
    assert shared[1] == sum(1 for r in rows if r[1] == "published") > 0
    assert digest_mod.shared_batch(rows) is None  # taken once


@compiled
def test_digest_is_the_same_compiled_and_pure(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same run digested with the compiled encoder and with marshal (the pure fallback)."""
    path = lesson_dir() / "retries-dlq-poison.yaml"
    fast = Engine(load_scenario(path)).run()
    monkeypatch.setattr(digest_mod, "_encode_rows", None)
    pure = Engine(load_scenario(path)).run()
    assert fast.digest == pure.digest and fast.events == pure.events


def test_pure_fallback_is_marshal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the compiled encoder the digest hashes marshal's encoding of the rows (the defined format)."""
    import hashlib

    monkeypatch.setattr(digest_mod, "_encode_rows", None)
    rows = [(1, "published", "m-1", "work", "load", None, None, 0, None, None),
            (2**40, "handled", "m-1", "work", "w", 0, "k", 1, None, {"latency": 5, "processing": 2})]
    d = TraceDigest()
    d.update_rows(rows)
    assert d.hexdigest() == hashlib.sha256(marshal.dumps(rows, 2)[5:]).hexdigest()
    assert d.count == 2


def test_evtool_pure_turns_the_compiled_encoder_off() -> None:
    """EVTOOL_PURE=1 in the environment: the digest runs on marshal even where a compiled build exists."""
    root = Path(__file__).resolve().parents[2]
    code = "import evtool.trace.digest as d, evtool.sim as s; print(d.COMPILED, s.compiled_status())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                         env={"EVTOOL_PURE": "1", "PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, check=True)
    assert out.stdout.split() == ["False", "pure"]


def test_an_encoder_built_before_the_kind_count_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A compiled `_rowcodec` from before `encode_rows(rows, kind)` (a source tree compiled in place, then
    updated without a rebuild) would fail every digest; the digest uses marshal instead."""
    import types

    old = types.ModuleType("evtool.trace._rowcodec")

    def encode_rows(rows):  # type: ignore[no-untyped-def]  # the old signature: rows only
        return marshal.dumps(list(rows), 2)[5:]

    old.encode_rows = encode_rows  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "evtool.trace._rowcodec", old)
    monkeypatch.delenv("EVTOOL_PURE", raising=False)
    assert digest_mod._compiled_encoder() is None  # noqa: SLF001

    def new_rows(rows, kind=None):  # type: ignore[no-untyped-def]
        body = marshal.dumps(list(rows), 2)[5:]
        return body if kind is None else (body, 0)

    old.encode_rows = new_rows  # type: ignore[attr-defined]
    assert digest_mod._compiled_encoder() is new_rows  # noqa: SLF001
