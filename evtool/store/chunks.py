"""A run's trace stored in chunks: one row per batch of events, its columns compressed together.

Since schema version 3 a run's trace table (`trace_<rk>`) holds one row per
batch the engine handed over (about 8,000 events), not one row per event:

    first_seq  the sequence number of the chunk's first event (its rowid)
    n          how many events it holds
    t_last     the virtual time of its last event (ns)
    published  how many of them are `published` (the run's message count)
    fmt        how `cols` holds the events:
               'R': the events as rows, marshal version 2 (a list of tuples of the ten
                    `TraceEvent` fields): the very bytes the trace digest hashes
                    (evtool.trace.digest.shared_encoding), so a recorded run encodes its
                    events once; what the recorder writes while the run runs. Compressed
                    as raw deflate after a `RAW_DEFLATE` byte (`compress_rows`; a sixth
                    cheaper than zlib, which adds a checksum pass), or, as evtool wrote
                    them before, as zlib (`inflate` reads both)
               'B': zlib(marshal(columns)), the ten fields as ten tuples, `data` as values:
                    what the writer rewrites 'R' chunks as once the result is committed
                    (`Writer.compact`: half the size, and several times faster to
                    decode, as marshal version 4 shares repeated strings)
               'J': the same with `data` as JSON text (values marshal refused)
    summary    'B'/'J': zlib(marshal((kinds, msgs, keys))), the distinct kinds, message
               ids and keys in it; 'R': empty (a reader looks for a string's encoding in
               the decompressed rows instead, see `load`)
    cols       the events, as `fmt` says

Why: a row per event with three secondary indexes cost the writer about 6 µs
an event and 82 MB per million events; a chunk costs a fraction of a
microsecond an event (the engine's side hands over the encoding the digest
already made, and the writer compresses that very payload and stores it) and,
once compacted into columns, about 5 MB per million events. A reader decodes whole chunks and filters them
in memory, a chunk at a time, so memory stays bounded; a query for a message, a
key or a kind first looks for the string's encoding in the decompressed bytes
(or, in a 'B'/'J' chunk, its summary) and decodes only the chunks that may hold a
match.
Runs recorded before version 3 keep their row tables and are read as they are
(`runs.trace_format` is NULL for them).

`marshal` versions 2 (rows) and 4 (columns) are used: every Python 3 reads them.
"""

from __future__ import annotations

import marshal
import struct
import zlib

TYPE_CHECKING = False  # the writer process imports this module: it starts faster without typing and the events
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from typing import Any

    from evtool.core.events import TraceEvent

FORMAT = 1
"""`runs.trace_format` of a chunked trace (NULL: one row per event, as before schema version 3)."""

MARSHAL_VERSION = 4  # of the columns of a 'B'/'J' chunk
ROWS_VERSION = 2  # of the rows of an 'R' chunk: the digest's encoding (no back-references, so batches concatenate)
LIST_HEAD = struct.Struct("<ci")  # marshal's list header: b"[" and the item count
EMPTY_SUMMARY = marshal.dumps(((), (), ()), MARSHAL_VERSION)
# Looking for a few strings' encodings in a chunk's bytes is cheaper than decoding it; for more, decode.
MAX_PROBES = 8
ZLIB_LEVEL = 1  # level 6 saves another 5 % for three times the time
# The first byte of an 'R' chunk compressed as raw deflate: a zlib stream cannot start with it (the low four
# bits of a zlib stream's first byte say "deflate": 8), so a reader tells the two forms apart.
RAW_DEFLATE = b"\x00"

CHUNK_COLUMNS = ("first_seq INTEGER PRIMARY KEY, n INTEGER NOT NULL, t_last INTEGER NOT NULL, "
                 "published INTEGER NOT NULL, fmt TEXT NOT NULL, summary BLOB NOT NULL, cols BLOB NOT NULL")

# The head of a batch frame's payload: n, t_last, published, the summary's length (then the
# marshalled summary, then the marshalled columns).
HEAD = struct.Struct("<qqqq")

COUNTS_SQL = "SELECT coalesce(sum(n), 0), coalesce(max(t_last), 0), coalesce(sum(published), 0) FROM {table}"
NEXT_SEQ_SQL = "SELECT coalesce(max(first_seq + n), 0) FROM {table}"



def create_sql(table: str) -> str:
    """The statement that creates a chunked trace table."""
    return f"CREATE TABLE IF NOT EXISTS {table} ({CHUNK_COLUMNS})"


def head(cols: Sequence[Sequence[Any]]) -> bytes:
    """The chunk head and summary for a batch given as columns (t, kind, msg, ..., key at 6)."""
    n = len(cols[0]) if cols else 0
    if not n:
        return HEAD.pack(0, 0, 0, 0)
    summary = marshal.dumps((tuple(set(cols[1])), tuple(set(cols[2])), tuple(set(cols[6]))), MARSHAL_VERSION)
    return HEAD.pack(n, cols[0][-1], cols[1].count("published"), len(summary)) + summary


def summary(blob: bytes) -> tuple[frozenset[Any], frozenset[Any], frozenset[Any]]:
    """The distinct kinds, message ids and keys of a stored chunk."""
    kinds, msgs, keys = marshal.loads(zlib.decompress(blob))
    return frozenset(kinds), frozenset(msgs), frozenset(keys)


def compress(payload: bytes | memoryview) -> bytes:
    """The stored form of a batch's marshalled columns (and of a summary)."""
    return zlib.compress(payload, ZLIB_LEVEL)


def compress_rows(payload: bytes | memoryview) -> bytes:
    """The stored form of an 'R' chunk's rows: `RAW_DEFLATE`, then raw deflate (no zlib header, no checksum).

    What the writer spends most of its time on while the run runs: without the checksum pass over
    the rows (Adler-32) it is a sixth faster. The compaction rewrites the chunk as zlib columns.
    """
    packer = zlib.compressobj(ZLIB_LEVEL, zlib.DEFLATED, -15)
    return RAW_DEFLATE + packer.compress(payload) + packer.flush()


def inflate(blob: bytes) -> bytes:
    """An 'R' chunk's rows, from either stored form (`compress_rows`, or zlib as evtool wrote them before)."""
    if blob[:1] != RAW_DEFLATE:
        return zlib.decompress(blob)
    unpacker = zlib.decompressobj(-15)
    raw = unpacker.decompress(memoryview(blob)[1:])
    if not unpacker.eof or unpacker.unused_data:
        raise zlib.error("the chunk's deflate stream is cut short or followed by other bytes")
    return raw


def rows_payload(bodies: Sequence[bytes | memoryview], n: int) -> list[bytes | memoryview]:
    """The parts of an 'R' chunk's payload: a list header for `n` rows, then the rows' encodings."""
    return [LIST_HEAD.pack(b"[", n), *bodies]


def probe(value: Any) -> bytes | None:
    """The bytes that stand for a string in an 'R' chunk (marshal version 2 writes every string
    as b"u", its UTF-8 length and its UTF-8 bytes); None for anything else."""
    if type(value) is not str:
        return None
    raw = value.encode("utf-8", "surrogatepass")
    return b"u" + struct.pack("<i", len(raw)) + raw


def _may_hold(raw: bytes, values: Iterable[Any]) -> bool:
    """Whether decompressed rows may hold one of `values` (a string whose encoding is absent cannot be there)."""
    for value in values:
        pattern = probe(value)
        if pattern is None or pattern in raw:
            return True
    return False


def load(fmt: str, summary_blob: bytes, blob: bytes, kinds: frozenset[str] | None = None,
         msgs: frozenset[Any] | None = None, key: Any = None) -> list[tuple[Any, ...]] | None:
    """The columns of a stored chunk, or None when it cannot hold an event that passes every filter given.

    Only a candidate test: the caller filters the rows it gets (`select`).
    """
    if fmt != "R":
        if kinds is not None or msgs is not None or key is not None:
            has_kinds, has_msgs, has_keys = summary(summary_blob)
            if kinds is not None and kinds.isdisjoint(has_kinds) or \
                    msgs is not None and msgs.isdisjoint(has_msgs) or key is not None and key not in has_keys:
                return None
        return columns(blob, fmt)
    raw = inflate(blob)
    for values in (kinds, msgs, None if key is None else (key,)):
        if values is not None and len(values) <= MAX_PROBES and not _may_hold(raw, values):
            return None
    return list(zip(*marshal.loads(raw), strict=True)) or [()] * 10


# The columns that repeat a few values (kind, msg, channel, actor, key, tag): see `share_values`.
_REPEATING = (1, 2, 3, 4, 6, 8)


def share_values(cols: list[tuple[Any, ...]]) -> bytes:
    """Make each repeated value of the columns one object (in place); the chunk's summary, as `head` makes it.

    Decoded rows hold a new string for every field (marshal version 2 has no references), and
    marshal version 4 shares only identical objects: without this a compacted chunk would repeat
    every kind and message id in full, and decode a third slower. The distinct values found on
    the way are the summary's.
    """
    distinct: dict[int, dict[Any, Any]] = {}
    for i in _REPEATING:
        first: dict[Any, Any] = {}
        cols[i] = tuple(map(first.setdefault, cols[i], cols[i]))
        distinct[i] = first
    return marshal.dumps((tuple(distinct[1]), tuple(distinct[2]), tuple(distinct[6])), MARSHAL_VERSION)


def columns(blob: bytes, fmt: str) -> list[tuple[Any, ...]]:
    """The ten columns of a stored chunk, with `data` as values whatever the format."""
    if fmt == "R":
        return list(zip(*marshal.loads(inflate(blob)), strict=True)) or [()] * 10
    cols = list(marshal.loads(zlib.decompress(blob)))
    if fmt == "J":
        from json import loads

        cols[9] = tuple(None if d is None else loads(d) for d in cols[9])
    return cols


def events(cols: Sequence[Sequence[Any]], rows: Iterable[int] | None = None) -> list[TraceEvent]:
    """`TraceEvent`s of a chunk's columns: all of them, or the rows at the given indexes."""
    from functools import partial

    from evtool.core.events import TraceEvent

    if rows is None:
        return list(map(partial(tuple.__new__, TraceEvent), zip(*cols, strict=True)))
    return [TraceEvent._make(c[i] for c in cols) for i in rows]


def select(cols: Sequence[Sequence[Any]], kinds: frozenset[str] | None = None, msgs: frozenset[str] | None = None,
           key: str | None = None) -> Iterator[int]:
    """Indexes of the rows that pass every filter given (kind in `kinds`, msg in `msgs`, key equal)."""
    candidates: Iterable[int] = range(len(cols[0]))
    if msgs is not None:
        col = cols[2]
        candidates = (i for i in candidates if col[i] in msgs)
    if kinds is not None:
        col_k = cols[1]
        candidates = (i for i in candidates if col_k[i] in kinds)
    if key is not None:
        col_key = cols[6]
        candidates = (i for i in candidates if col_key[i] == key)
    return iter(candidates)
