"""Run every atlas scenario and write tests/semantics/README.md with the atlas table.

    PYTHONPATH=. python tests/semantics/table.py              # core and every reachable broker
    PYTHONPATH=. python tests/semantics/table.py --core-only  # no real brokers
    PYTHONPATH=. python tests/semantics/table.py -o -         # print instead of writing

A cell is ✓ when every check of the scenario passed on that target (the documented outcome), ✗ with the
checks that did not, "skipped" when the run cannot happen here, and "—" when evtool has no transport for
that broker. A ✗ that is listed in test_atlas.KNOWN_DISAGREEMENTS is marked "(known)"; any other ✗ is a
regression the test suite reports too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script: make `semantics` importable
    sys.path.insert(0, str(HERE.parent))

from semantics.atlas import ENTRIES, Entry, Verdict, run_target  # noqa: E402
from semantics.test_atlas import (  # noqa: E402
    ENDPOINT_DIFFERENCES,
    KNOWN_DISAGREEMENTS,
    NOT_RUN_ON_REAL_BROKER,
)

TRANSPORTS = ("rabbitmq", "nats", "redis", "kafka", "sqs")

INTRO = """# The semantics atlas

Small scenarios, each encoding ONE documented broker behaviour per message (deliveries, final fate,
reason), with the documentation sentence it follows in its header. `test_atlas.py` runs each on the
core (evtool's local engine under the scenario's profile) and, where evtool has a transport for that
broker, on the real broker (RabbitMQ 3.10.8, NATS 2.9, Redis 7.0 here) or the local endpoint that speaks
its protocol (Kafka: Tansu 0.6 on 127.0.0.1:9092; SQS: moto's server on 127.0.0.1:5000), and requires
every check to pass: the expectations are the documentation, never what evtool does. Where evtool
disagrees today, the case is listed once in `KNOWN_DISAGREEMENTS`; where the local EMULATOR (Tansu, moto)
departs from the documentation, in `ENDPOINT_DIFFERENCES` (the profiles stay true to Apache Kafka and
AWS). Both are strict xfails: a fix makes them XPASS, and the entry must then be removed.

Refresh this file with `PYTHONPATH=. python tests/semantics/table.py` (brokers up: `CI=true`-style
runs take about a minute; `--core-only` skips them).

Legend: ✓ the documented outcome; ✗ (known) a registered disagreement of evtool; ✗ (endpoint) a registered
difference of the emulator (Tansu, moto) from the documentation; ✗ anything else is a regression;
— no transport for that broker; skipped: cannot run here in seconds.
"""


def _cell(e: Entry, target: str, verdict: Verdict | None, reachable: bool) -> str:
    if target not in e.targets:
        return "—"
    if target != "core":
        if target in NOT_RUN_ON_REAL_BROKER.get(e.id, {}):
            return "skipped"
        if not reachable:
            return "not reachable"
    assert verdict is not None
    cell = verdict.short()
    if not verdict.ok and target in KNOWN_DISAGREEMENTS.get(e.id, {}):
        cell = "✗ (known)" if verdict.error else cell.replace("✗", "✗ (known)", 1)
    elif not verdict.ok and target in ENDPOINT_DIFFERENCES.get(e.id, {}):
        cell = "✗ (endpoint)" if verdict.error else cell.replace("✗", "✗ (endpoint)", 1)
    return cell.replace("|", "\\|")


def _md(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def build(core_only: bool = False) -> str:
    """The README text, after running every scenario on every target."""
    from evtool.transports.base import probe

    reachable = {t: (not core_only and probe(t) is None) for t in TRANSPORTS}
    rows = ["| scenario | documented outcome | source | core | rabbitmq | nats | redis | kafka (Tansu) | sqs (moto) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for e in ENTRIES:
        cells = []
        for target in ("core", *TRANSPORTS):
            verdict = None
            runs = target in e.targets and (target == "core" or (
                reachable[target] and target not in NOT_RUN_ON_REAL_BROKER.get(e.id, {})))
            if runs:
                print(f"{e.id} on {target} ...", file=sys.stderr, flush=True)
                verdict = run_target(e, target)
            cells.append(_cell(e, target, verdict, reachable.get(target, True)))
        source = f"[{_md(e.header['section'])}]({e.header['url']})"
        rows.append(f"| `{e.id}` ({e.profile}) | {_md(e.header['outcome'])} | {source} | " + " | ".join(cells) + " |")
    dis = ["", "## Known disagreements", "", "| scenario | target | where evtool departs from the documentation |",
           "|---|---|---|"]
    for sid, targets in sorted(KNOWN_DISAGREEMENTS.items()):
        for target, why in targets.items():
            dis.append(f"| `{sid}` | {target} | {_md(why)} |")
    dis += ["", "## Where the local endpoints depart from the documentation", "",
            "| scenario | target | what the emulator does instead (the profile keeps the documented behaviour) |",
            "|---|---|---|"]
    for sid, targets in sorted(ENDPOINT_DIFFERENCES.items()):
        for target, why in targets.items():
            dis.append(f"| `{sid}` | {target} | {_md(why)} |")
    skips = ["", "## Not run on the real broker", ""]
    for sid, targets in sorted(NOT_RUN_ON_REAL_BROKER.items()):
        for target, why in targets.items():
            skips.append(f"* `{sid}` on {target}: {_md(why)}")
    quotes = ["", "## Sources", "", "Each scenario's header quotes the sentence it follows:", ""]
    for e in ENTRIES:
        quotes.append(f"* `{e.id}`: \"{_md(e.header['quote'])}\" ({e.header['url']})")
    return INTRO + "\n## The atlas\n\n" + "\n".join(rows) + "\n" + "\n".join(dis) + "\n" + "\n".join(skips) \
        + "\n" + "\n".join(quotes) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or print) the atlas README."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--core-only", action="store_true", help="do not run the real brokers")
    ap.add_argument("-o", "--output", default=str(HERE / "README.md"), help="file to write, or - for stdout")
    args = ap.parse_args(argv)
    text = build(core_only=args.core_only)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
