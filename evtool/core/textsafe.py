"""Text from a scenario or a trace made visible: control characters shown as escapes, never sent raw.

Every layer that shows such text (the reports, the dashboard) uses `visible`;
it lives here, at the bottom, so the dashboard and the reports share one
definition (`evtool.report.fmt` re-exports it).
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls (0x9b is an 8-bit CSI, 0x9d an 8-bit OSC), and the Unicode
# bidirectional overrides and isolates, which reorder what a terminal shows ("Trojan source").
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_KEEP_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _show(m: re.Match[str]) -> str:
    ch = m.group(0)
    code = ord(ch)
    return _NAMED.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def visible(value: object, *, multiline: bool = False) -> str:
    """`value` as text with every control character shown as an escape (ESC as `\\x1b`), never sent raw.

    A scenario or a trace is input: an id, a key, an error name or a lesson
    text may hold ESC, BEL or an 8-bit CSI that would clear the screen, set
    the window title or print a hyperlink. With `multiline`, newlines and
    tabs are kept (lesson text, `because`); otherwise they are shown too.
    """
    text = value if isinstance(value, str) else str(value)
    return (_CONTROL_KEEP_LINES if multiline else _CONTROL).sub(_show, text)
