"""JUnit XML for CI systems: one test case per check of a run.

A check that failed is a `<failure>`, one without data (`unknown`) an `<error>` (CI must not read "no data"
as a pass), and each carries the expected and observed values, the evidence message ids and the scenario's
`because`, in the report's words. A run without checks is one test case named after the scenario, passing
only when the run passed; a scenario that does not load is one test case in error, with its located problems. The suite's properties hold the seed, transport, profile, digest and the command
that re-runs the scenario.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

_INVALID_XML = {c: None for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)}


def _text(value: Any) -> str:
    """`value` as text XML 1.0 can hold (control characters other than tab and newline are dropped)."""
    return str(value if value is not None else "").translate(_INVALID_XML)


def _details(check: dict[str, Any]) -> str:
    lines = [f"expected: {check.get('expected', '')}", f"observed: {check.get('observed', '')}"]
    if check.get("evidence"):
        lines.append(f"evidence: {', '.join(map(str, check['evidence']))}")
    if check.get("because"):
        lines.append(f"because: {check['because']}")
    return "\n".join(lines)


def junit_xml(report: dict[str, Any]) -> str:
    """The JUnit XML document for a run report (`evtool.report.summary.run_report`)."""
    checks = list(report.get("checks") or [])
    scenario = _text(report.get("scenario", "scenario"))
    suites = ET.Element("testsuites", name="evtool")
    suite = ET.SubElement(suites, "testsuite", name=scenario)
    props = ET.SubElement(suite, "properties")
    for key in ("seed", "transport", "profile", "digest", "outcome", "drain", "run_id", "rerun", "limit"):
        if report.get(key) is not None:
            ET.SubElement(props, "property", name=key, value=_text(report[key]))
    for note in report.get("notes") or []:
        ET.SubElement(props, "property", name="note", value=_text(note))
    failures = errors = 0
    classname = f"evtool.{scenario}"
    if not checks:
        case = ET.SubElement(suite, "testcase", classname=classname, name=scenario, time="0")
        if report.get("outcome") == "invalid":   # the scenario did not load: each problem, located
            errors += 1
            el = ET.SubElement(case, "error", type="invalid", message="the scenario does not load")
            el.text = _text("\n".join(report.get("problems") or []))
        elif report.get("outcome") != "passed":
            errors += 1
            el = ET.SubElement(case, "error", type=_text(report.get("outcome")),
                               message=f"the run ended {_text(report.get('outcome'))} and has no checks")
            el.text = _text(report.get("limit") or report.get("drain") or "")
    for c in checks:
        case = ET.SubElement(suite, "testcase", classname=classname, name=_text(c.get("name")), time="0")
        status = c.get("status")
        if status == "pass":
            continue
        tag = "failure" if status == "fail" else "error"
        failures += status == "fail"
        errors += status != "fail"
        el = ET.SubElement(case, tag, type=_text(c.get("check") or status),
                           message=_text(f"{c.get('name')}: {c.get('observed', '')}"))
        el.text = _text(_details(c))
    out = [f"outcome: {report.get('outcome')}"] + ([f"re-run: {report['rerun']}"] if report.get("rerun") else [])
    out += [f"problem: {p}" for p in report.get("problems") or []]
    ET.SubElement(suite, "system-out").text = _text("\n".join(out))
    tests = max(len(checks), 1)
    wall = report.get("wall_s")
    for el in (suites, suite):
        el.set("tests", str(tests))
        el.set("failures", str(failures))
        el.set("errors", str(errors))
        el.set("time", f"{wall:.3f}" if isinstance(wall, int | float) else "0")
    suite.set("skipped", "0")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_junit(path: str | os.PathLike[str], report: dict[str, Any]) -> None:
    """Write the JUnit XML of `report` to `path` (through a temporary file, so a reader never sees half)."""
    target = Path(path)
    text = junit_xml(report)
    if target.exists() and not target.is_file():
        target.write_text(text, encoding="utf-8")
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
