"""`evtool export RUN --format json|jsonl|md|html|mermaid`: every format from one place.

`to_json`/`to_jsonl` are the machine formats (the JSON document follows
`run.schema.json`, shipped next to this module). `export_run` reads what a
format needs from a `SyncRunStore` and returns the text (or, for jsonl,
writes lines to a file object so a long trace never sits in memory).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import yaml

from evtool.core.events import TraceEvent
from evtool.report.fmt import visible
from evtool.report.html import to_html
from evtool.report.markdown import to_markdown
from evtool.report.mermaid import pick_flows, to_mermaid
from evtool.report.timeseries import trace_series
from evtool.store.codec import dumps
from evtool.store.model import RunHeader, RunResult
from evtool.store.runstore import SyncRunStore

FORMATS: tuple[str, ...] = ("json", "jsonl", "md", "html", "mermaid")
SUFFIX = {"json": ".json", "jsonl": ".jsonl", "md": ".md", "html": ".html", "mermaid": ".mmd"}
SCHEMA_PATH = Path(__file__).with_name("run.schema.json")
JSON_FORMAT_VERSION = 1
DEAD_LETTER_SAMPLE = 50


def run_schema() -> dict[str, Any]:
    """The JSON Schema of `to_json`'s document."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def event_dict(e: TraceEvent) -> dict[str, Any]:
    """A trace event as a JSON object (fields that are None are left out)."""
    d: dict[str, Any] = {"t": e.t, "kind": e.kind}
    for name in ("msg", "channel", "actor", "instance", "key"):
        value = getattr(e, name)
        if value is not None:
            d[name] = value
    if e.attempt:
        d["attempt"] = e.attempt
    if e.tag is not None:
        d["tag"] = e.tag
    if e.data is not None:
        d["data"] = e.data
    return d


def to_json(header: RunHeader, result: RunResult | None, dead_letters: Iterable[TraceEvent] = ()) -> dict[str, Any]:
    """The run as one JSON document (a dict; `json.dumps` it): header, result, checks, dead letters."""
    return {
        "format": "evtool.run", "format_version": JSON_FORMAT_VERSION,
        "run": header.to_dict(),
        "result": result.to_dict() if result is not None else None,
        "dead_letters": [event_dict(e) for e in dead_letters],
    }


# JSON text escapes C0 controls itself; DEL, the C1 controls (0x9b is an 8-bit CSI) and the bidi
# overrides it leaves raw. As \uXXXX escapes they are the same JSON value and harmless on a terminal.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def json_safe(text: str) -> str:
    """JSON text with the characters a terminal would act on written as `\\uXXXX` escapes (same value)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def to_jsonl(events: Iterable[TraceEvent]) -> Iterator[str]:
    """One compact JSON line per trace event (each line ends with a newline)."""
    for e in events:
        yield json_safe(dumps(event_dict(e))) + "\n"


_encode_str = json.encoder.encode_basestring  # what `dumps` (ensure_ascii=False) writes for a str
_STR_OR_NONE = frozenset({str, type(None)})
_INT_OR_NONE = frozenset({int, type(None)})


def _data_encoder() -> Callable[[Any], str]:
    """`dumps` without its per-call set-up: the C encoder `json.JSONEncoder.encode` builds on every call,
    built once with `dumps`'s settings (same text); `dumps` itself where the C encoder is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return dumps
    iterencode = make({}, str, _encode_str, None, ":", ",", False, False, True)
    return lambda value: "".join(iterencode(value, 0))


def _plain(col: Sequence[Any], types: frozenset[type]) -> bool:
    return set(map(type, col)) <= types


def _field(col: Sequence[str | None], name: str) -> list[str]:
    """`,"name":"value"` for each row of a string column ('' where it is None), each distinct text made once."""
    cache: dict[str | None, str] = {None: ""}
    get = cache.get
    out = []
    append = out.append
    for v in col:
        text = get(v)
        if text is None:
            text = cache[v] = f',"{name}":{_encode_str(v)}'
        append(text)
    return out


def jsonl_columns(cols: Sequence[Sequence[Any]]) -> str:
    """The JSONL lines of a chunk given as columns: the same text `to_jsonl` writes for its events.

    Built a column at a time (each distinct string's JSON text made once per chunk), then joined
    row by row. A chunk with a value of an unexpected type in a column other than `data` goes
    through `to_jsonl` instead.
    """
    t, kind, msg, channel, actor, instance, key, attempt, tag, data = cols
    if not (_plain(t, frozenset({int})) and _plain(attempt, frozenset({int})) and _plain(instance, _INT_OR_NONE)
            and _plain(kind, frozenset({str}))
            and all(_plain(c, _STR_OR_NONE) for c in (msg, channel, actor, key, tag))):
        return "".join(to_jsonl(map(TraceEvent._make, zip(*cols, strict=True))))
    encode = _data_encoder()
    kinds = {k: f',"kind":{_encode_str(k)}' for k in set(kind)}
    parts = (
        [f'{{"t":{v}' for v in t], [kinds[k] for k in kind], _field(msg, "msg"), _field(channel, "channel"),
        _field(actor, "actor"), ["" if v is None else f',"instance":{v}' for v in instance], _field(key, "key"),
        [f',"attempt":{v}' if v else "" for v in attempt], _field(tag, "tag"),
        ["}\n" if d is None else f',"data":{encode(d)}}}\n' for d in data],
    )
    text = "".join(map("".join, zip(*parts, strict=True)))
    return text if text.isascii() and "\x7f" not in text else json_safe(text)


def lesson_block(scenario_text: str) -> dict[str, Any] | None:
    """The scenario's `lesson:` mapping (title, summary, level, concepts, goals, steps, try_next), if any.

    Read from the stored scenario text, so it is what the run actually ran.
    A scenario without a lesson but with a `description` gets a lesson of
    that summary alone.
    """
    try:
        doc = yaml.safe_load(scenario_text)
    except yaml.YAMLError:
        return None
    if not isinstance(doc, dict):
        return None
    lesson = doc.get("lesson")
    if isinstance(lesson, dict):
        return lesson
    description = doc.get("description")
    if isinstance(description, str) and description.strip():
        return {"summary": description}
    return None


def _dead_letters(store: SyncRunStore, run_id: str, limit: int) -> tuple[list[TraceEvent], int]:
    sample: list[TraceEvent] = []
    total = 0
    for e in store.events(run_id, kinds=["dead_lettered"]):
        total += 1
        if len(sample) < limit:
            sample.append(e)
    return sample, total


def export_run(store: SyncRunStore, run_id: str, fmt: str, out: TextIO | None = None,
               flows: int = 6) -> str | None:
    """Export a stored run. For `jsonl` with `out` given, lines are written to `out` and None returned;
    otherwise the whole text is returned. Raises ValueError for an unknown format."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    header, result = store.get(run_id)
    if fmt == "jsonl":
        texts = map(jsonl_columns, store.column_pages(run_id))  # a chunk's text at a time: bounded memory
        if out is not None:
            out.writelines(texts)
            return None
        return "".join(texts)
    if fmt == "mermaid":
        dead = store.message_ids(run_id, "dead_lettered", flows)
        retried = store.message_ids(run_id, "redelivered", flows)
        normal = [m for m in store.message_ids(run_id, "acked", flows * 3) if m not in dead]
        chosen = pick_flows(dead, normal, limit=flows, retried=retried)
        by_msg: dict[str, list[TraceEvent]] = {m: [] for m in chosen}
        for e in store.events(run_id, msgs=chosen):
            by_msg[e.msg or ""].append(e)
        return to_mermaid(by_msg, title=f"{header.lesson_title or header.scenario_id} (run {header.id})")
    dead_sample, dead_total = _dead_letters(store, run_id, DEAD_LETTER_SAMPLE)
    if fmt == "json":
        return json_safe(json.dumps(to_json(header, result, dead_sample), indent=2, ensure_ascii=False)) + "\n"
    if fmt == "md":
        return to_markdown(header, result, dead_sample, dead_total)
    # html
    series = None
    if header.record_mode == "full":
        duration = result.virtual_ns if result is not None and result.virtual_ns else store.progress(run_id)[2]
        series = trace_series(store.events(run_id), duration)
    html = to_html(header, result, series=series, dead_letters=dead_sample, dead_letter_total=dead_total,
                   lesson=lesson_block(header.scenario_text))
    return visible(html, multiline=True)  # HTML escaping leaves control characters; show them, never send them
