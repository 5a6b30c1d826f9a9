"""A strict YAML reader that remembers where every value came from.

PyYAML follows YAML 1.1, which reads `on`, `yes` and `no` as booleans,
`1:30` as 90 and silently keeps the last of two duplicate keys. This reader
composes PyYAML's node graph (safe: no object construction) and builds the
Python values itself with YAML 1.2 core-schema scalars:

* only `true`/`false` are booleans, only `null`/`~`/empty are null;
* integers are decimal, `0o` octal or `0x` hex; floats are decimal, `.inf`, `.nan`;
* everything else is a string (no dates, no sexagesimal numbers);
* a duplicate key is an error; a key that YAML 1.1 tools read as a boolean
  (`on`, `yes`, `no`, `off`, `y`, `n`) is an error with the hint to quote it;
* aliases may not expand the document past a node budget (the "billion laughs");
* the file has a size limit and must be UTF-8 text.

PyYAML's libyaml-backed composer is used when PyYAML has it (its wheels do);
the pure-Python one reads what libyaml refuses, for its clearer error messages.

Each value's position is kept in a `Locations` map from the path in the
document (a tuple of keys and indexes) to (line, column), 1-based.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evtool.scenario.errors import Problem, ScenarioError

MAX_FILE_BYTES = 2 * 1024 * 1024
"""Scenario files are small; anything above 2 MiB is refused before parsing."""

MAX_NODES = 200_000
"""The most values a document may expand to, aliases included."""

MAX_FLOW_DEPTH = 100
"""The deepest `[`/`{` nesting read; PyYAML's scanner takes time quadratic in it (1,500 levels: 19 s)."""

MAX_INT_DIGITS = 4_300
"""Python's own limit for turning digits into an integer (and back, to print it in a message)."""

YAML11_BOOL_WORDS = frozenset(
    w for word in ("y", "n", "yes", "no", "on", "off") for w in (word, word.capitalize(), word.upper())
)

_INT_RE = re.compile(r"^[-+]?[0-9]+$")
_OCT_RE = re.compile(r"^0o[0-7]+$")
_HEX_RE = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT_RE = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INF_RE = re.compile(r"^[-+]?\.(inf|Inf|INF)$")
_NAN_RE = re.compile(r"^\.(nan|NaN|NAN)$")
_NUMBER_STARTS = frozenset("+-.0123456789")
"""Every text the six patterns above match starts with one of these."""

Path_ = tuple[str | int, ...]


@dataclass
class Locations:
    """Where each value (and each mapping key) of a document sits in its file."""

    file: str
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    quoted: set[Path_] = field(default_factory=set)

    def find(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """The position of `path`, or of its nearest located ancestor."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))


def dotted(path: Path_) -> str:
    """`('consumers', 'billing', 'fail_if', 0)` -> `consumers.billing.fail_if[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit


def _scalar(node: yaml.ScalarNode) -> Any:
    text = node.value
    if node.style is not None and node.style != "":
        return text  # quoted or block scalars are always strings
    if node.tag not in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                        "tag:yaml.org,2002:float", "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp",
                        "tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"):
        raise _NodeError(node, f"the YAML tag `{_show_tag(node.tag)}` is not allowed",
                         "remove the tag; a scenario holds plain values only (no `!tags`)")
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text[0] not in _NUMBER_STARTS:
        return text  # most scalars are words: none of the number patterns below can match them
    if _INT_RE.match(text) or _OCT_RE.match(text) or _HEX_RE.match(text):
        if len(text) > MAX_INT_DIGITS:
            # int() itself refuses decimal ones, and a hex one could not be printed in a message.
            raise _NodeError(node, f"this integer has {len(text):,} digits; the limit is {MAX_INT_DIGITS:,}",
                             "no scenario value needs a number this large")
        if _INT_RE.match(text):
            return int(text)
        return int(text[2:], 8 if text.startswith("0o") else 16)
    if _FLOAT_RE.match(text) and any(c.isdigit() for c in text):
        return float(text)
    if _INF_RE.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN_RE.match(text):
        return math.nan
    return text


def _show_tag(tag: str) -> str:
    """`tag:yaml.org,2002:python/object` as written: `!!python/object`."""
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


class _NodeError(Exception):
    def __init__(self, node: yaml.Node, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.node = node
        self.message = message
        self.hint = hint
        self.at: tuple[int, int] | None = None
        self.path = ""


class _Builder:
    def __init__(self, file: str) -> None:
        self.loc = Locations(file)
        self.problems: list[Problem] = []
        self.budget = _Budget(MAX_NODES)
        self.file = file

    def problem(self, node: yaml.Node, path: Path_, message: str, hint: str | None = None) -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.file, mark.line + 1, mark.column + 1, dotted(path), message, hint))

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.budget.left -= 1
        if self.budget.left < 0:
            # An alias node keeps its anchor's position, so point at the top-level key being
            # expanded instead: that is where the blow-up is written.
            top = path[:1]
            err = _NodeError(
                node,
                f"the document expands to more than {MAX_NODES:,} values",
                "nested aliases (`*name`) multiply the document; a scenario never needs this",
            )
            err.at = self.loc.keys.get(top) if top else None
            err.path = dotted(top)
            raise err
        self.loc.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.ScalarNode):
            if node.style in ("'", '"'):
                self.loc.quoted.add(path)
            try:
                return _scalar(node)
            except _NodeError as exc:
                # Not fatal: report it with its path and keep reading the rest of the file.
                self.problem(node, path, exc.message, exc.hint)
                return None
        if node.tag not in ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"):
            self.problem(node, path, f"the YAML tag `{_show_tag(node.tag)}` is not allowed",
                         "remove the tag; a scenario holds plain values only (no `!tags`)")
            return None
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag == "tag:yaml.org,2002:merge":
                    raise _NodeError(key_node, "merge keys (`<<:`) are not supported",
                                     "write the keys out; evtool reads a plain YAML subset")
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problem(key_node, path, "a mapping key must be a plain name, found a collection")
                    continue
                raw = key_node.value
                key_path = (*path, raw)
                if key_node.tag not in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:int",
                                        "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                                        "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp",
                                        "tag:yaml.org,2002:value"):
                    self.problem(key_node, key_path, f"the YAML tag `{_show_tag(key_node.tag)}` is not allowed",
                                 "remove the tag; a scenario holds plain values only (no `!tags`)")
                    continue
                if key_node.style in (None, "") and raw in YAML11_BOOL_WORDS:
                    self.problem(
                        key_node, key_path,
                        f"the key `{raw}` is read as a boolean by YAML 1.1 tools",
                        f"quote it ('{raw}')" + ("; lesson steps use `event:`, not `on:`" if raw.lower() == "on" else ""),
                    )
                    continue
                key = _scalar(key_node) if key_node.style in (None, "") else raw
                if not isinstance(key, str):
                    self.problem(key_node, key_path, f"a mapping key must be a name, found {key!r}",
                                 f"quote it ('{raw}')")
                    continue
                if key in out:
                    first = self.loc.keys.get(key_path, (0, 0))
                    self.problem(key_node, key_path, f"duplicate key `{key}` (first defined on line {first[0]})",
                                 "a key may appear once in a mapping; YAML would silently keep only the last")
                    continue
                self.loc.keys[key_path] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = self.build(value_node, key_path)
            return out
        raise _NodeError(node, "unsupported YAML node")


def read_text(path: Path) -> str:
    """Read a scenario file as UTF-8 text, refusing binaries and huge files."""
    name = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ScenarioError([Problem(name, 1, 1, "", f"cannot read the file: {exc.strerror or exc}")]) from None
    if path.is_dir():
        raise ScenarioError([Problem(name, 1, 1, "", "this is a directory, not a scenario file",
                                     "pass a .yaml file, or a glob such as scenarios/*.yaml")])
    if size > MAX_FILE_BYTES:
        raise ScenarioError([Problem(name, 1, 1, "", f"the file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}",
                                     "a scenario is a small YAML file; is this the right file?")])
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScenarioError([Problem(name, 1, 1, "", f"cannot read the file: {exc.strerror or exc}")]) from None
    return decode_text(data, name)


def decode_text(data: bytes, name: str) -> str:
    """Decode bytes as UTF-8 scenario text, with located errors for binaries."""
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError([Problem(name, 1, 1, "", f"the file is larger than the {MAX_FILE_BYTES:,}-byte limit")])
    if b"\x00" in data[:8192]:
        raise ScenarioError([Problem(name, 1, 1, "", "this looks like a binary file (it contains NUL bytes)",
                                     "a scenario is a UTF-8 YAML text file")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise ScenarioError([Problem(name, line, col, "", "the file is not valid UTF-8 text",
                                     "save it as UTF-8")]) from None
    return text


def _flow_too_deep(text: str) -> tuple[int, int] | None:
    """(line, column) where `[`/`{` nesting passes MAX_FLOW_DEPTH, in one linear pass; None if it never does.

    Quoted text and comments are skipped; brackets in a block scalar count too, which can only
    refuse a file holding a hundred unclosed brackets in a row.
    """
    depth = 0
    line, col = 1, 0
    quote: str | None = None
    comment = False
    prev = "\n"
    escaped = False
    for ch in text:
        col += 1
        if ch == "\n":
            line, col, comment = line + 1, 0, False  # quoted scalars may span lines: `quote` stays
        elif comment:
            pass
        elif quote is not None:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "'\"" and (prev in " \t\n[{,:" or depth == 0 and prev in " \t\n-"):
            quote = ch
        elif ch == "#" and prev in " \t\n":
            comment = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                return line, col
        elif ch in "]}" and depth:
            depth -= 1
        prev = ch
    return None


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"


def _fast_loader() -> Any:
    """PyYAML's libyaml-backed loader (shipped inside the PyYAML wheels), or None where it was built without it.

    Its resolver is cut down: `_scalar` reads plain scalars by their text (YAML 1.2 core schema),
    so the YAML 1.1 regular expressions PyYAML would run on every scalar only cost time. A plain
    scalar gets the `str` tag, except `<<` (merge, refused) and `=` (value), as PyYAML's resolver
    gives them; an explicit tag is kept as written (and refused).
    """
    base = getattr(yaml, "CSafeLoader", None)
    if base is None:
        return None

    class _Loader(base):  # type: ignore[misc, valid-type]
        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is yaml.ScalarNode:
                if implicit[0] and value == "<<":
                    return _MERGE
                if implicit[0] and value == "=":
                    return _VALUE
                return _STR
            return str(super().resolve(kind, value, implicit))

    return _Loader


_FAST_LOADER: Any = _fast_loader()


def _compose_fast(text: str) -> list[Any] | None:
    """The document's nodes composed by libyaml, or None: no libyaml, or the text is not valid YAML.

    libyaml marks the same lines and columns (counted in characters) as the pure-Python reader,
    and the same resolver tags the scalars, so the nodes are interchangeable. Its error messages
    are terser, so a document it refuses is read again by the pure reader, which reports the error.
    """
    if _FAST_LOADER is None:
        return None
    try:
        return list(yaml.compose_all(text, Loader=_FAST_LOADER))
    except (yaml.YAMLError, RecursionError, ValueError, UnicodeError):
        return None


_CACHE: dict[tuple[str, str], tuple[Any, Locations]] = {}
_CACHE_SIZE = 8
_CACHE_MIN_CHARS = 256


def _copy(value: Any) -> Any:
    """A copy of plain data: new dicts and lists, the (immutable) scalars shared."""
    kind = type(value)
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is list:
        return [_copy(v) for v in value]
    return value


def cow_item(parent: Any, key: Any) -> Any:
    """`parent[key]`, replaced by a shallow copy of itself when it is a container (copy on write)."""
    child = parent[key]
    if type(child) is dict or type(child) is list:
        child = parent[key] = type(child)(child)
    return child


def parse_yaml(text: str, file: str, *, shared: bool = False) -> tuple[Any, Locations]:
    """Parse YAML text into plain values plus their locations, or raise ScenarioError.

    The loader reads a lesson once more for each of its `try_next` variations; the last few
    documents read are kept, and a repeated read gets a fresh copy of the values (callers may
    change them) without parsing again. With `shared`, a repeated read gets the kept values and
    locations themselves: for a caller that copies whatever it changes (the loader's check of a
    lesson's variations).
    """
    hit = _CACHE.get((text, file)) if len(text) >= _CACHE_MIN_CHARS else None
    if hit is not None:
        value, loc = hit
        if shared:
            return value, loc
        return _copy(value), Locations(loc.file, dict(loc.values), dict(loc.keys), set(loc.quoted))
    value, loc = _parse_yaml(text, file)
    if len(text) >= _CACHE_MIN_CHARS:
        while len(_CACHE) >= _CACHE_SIZE:
            try:
                del _CACHE[next(iter(_CACHE))]
            except (KeyError, RuntimeError, StopIteration):  # another thread trimmed it meanwhile
                break
        _CACHE[(text, file)] = (_copy(value), Locations(loc.file, dict(loc.values), dict(loc.keys),
                                                        set(loc.quoted)))
    return value, loc


def _parse_yaml(text: str, file: str) -> tuple[Any, Locations]:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ScenarioError([Problem(file, 1, 1, "", f"the document is larger than the {MAX_FILE_BYTES:,}-byte limit")])
    deep = _flow_too_deep(text) if text.count("[") + text.count("{") > MAX_FLOW_DEPTH else None
    if deep is not None:
        raise ScenarioError([Problem(file, deep[0], deep[1], "",
                                     f"the document nests too deeply: brackets nest more than {MAX_FLOW_DEPTH} levels deep here",
                                     "a scenario nests a few levels deep; look for runaway `[` or `{`")], text)
    nodes = _compose_fast(text)
    try:
        if nodes is None:
            nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        context = exc.context or ""
        if exc.context_mark is not None and any(w in context for w in ("quoted scalar", "flow mapping",
                                                                      "flow sequence")):
            # An unclosed quote or bracket is found at the end of the file or on a later line;
            # what must be fixed is where it opens.
            mark = exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or "invalid YAML"
        hint = _syntax_hint(what, exc.context)
        raise ScenarioError([Problem(file, line, col, "", f"YAML syntax error: {what}", hint)], text) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(file, 1, 1, "", f"YAML error: {exc}")], text) from None
    except RecursionError:
        raise ScenarioError([Problem(file, 1, 1, "", "the document nests too deeply to read",
                                     "a scenario nests a few levels deep; look for runaway `[` or `{`")],
                            text) from None
    except ValueError as exc:
        raise ScenarioError([Problem(file, 1, 1, "", f"the document could not be parsed: {exc}")], text) from None
    if len(nodes) > 1:
        mark = nodes[1].start_mark
        line = mark.line + 1
        # Point at the `---` that starts the second document, not at its first value.
        lines = text.splitlines()
        for n in range(mark.line, nodes[0].end_mark.line - 1, -1):
            if n < len(lines) and lines[n].startswith("---"):
                line = n + 1
                break
        raise ScenarioError([Problem(file, line, 1, "",
                                     "the file holds more than one YAML document",
                                     "one scenario per file; remove the `---` separator")], text)
    if not nodes or nodes[0] is None:
        raise ScenarioError([Problem(file, 1, 1, "", "the file is empty",
                                     "a scenario starts with `evtool: \"1\"` and `id: NAME`; "
                                     "`evtool new NAME` writes one to start from")], text)
    builder = _Builder(file)
    try:
        value = builder.build(nodes[0], ())
    except _NodeError as exc:
        line, col = exc.at or (exc.node.start_mark.line + 1, exc.node.start_mark.column + 1)
        raise ScenarioError([Problem(file, line, col, exc.path, exc.message, exc.hint)], text) from None
    except RecursionError:
        raise ScenarioError([Problem(file, 1, 1, "", "the document nests too deeply to read",
                                     "a scenario nests a few levels deep; look for runaway `[` or `{`")],
                            text) from None
    if builder.problems:
        raise ScenarioError(builder.problems, text)
    return value, builder.loc


def _syntax_hint(problem: str, context: str | None) -> str | None:
    if "tab" in problem or "\\t" in problem or "\t" in problem:
        return "indent with spaces, never tabs"
    if "expected ',' or '}'" in problem:
        return "a `{` is not closed by `}`, or two entries are missing the `,` between them"
    if "expected ',' or ']'" in problem:
        return "a `[` is not closed by `]`, or two items are missing the `,` between them"
    if "found unexpected end of stream" in problem or "found unexpected end" in problem:
        return "a quoted string or a bracket is not closed"
    if "mapping values are not allowed" in problem:
        return "a value that contains `: ` must be quoted, or the indentation is off"
    if "could not find expected ':'" in problem:
        return "a key is missing its `:`, or a quoted string is not closed"
    if "found undefined alias" in problem:
        return "define the anchor (`&name`) before using the alias (`*name`)"
    if "found character" in problem and "cannot start any token" in problem:
        return "quote values that start with `@`, `` ` `` or `%`"
    return None
