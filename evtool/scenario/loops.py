"""Loops a scenario file shows before it runs: router cycles, dead-letter cycles, self-emission.

A router bound (directly or through other routers) to itself would forward a
message forever within one publish; it is refused with the cycle named. A
chain of routers deeper than `MAX_ROUTER_DEPTH` is refused too: routing
recurses once per router. A dead-letter cycle (a's dead letters go to b, b's
to a) or a consumer that emits to its own channel can run forever; without
processing time, backoff or hop latency the clock never moves, so the run
would be stopped by its per-instant budget. These are warnings, or errors
where nothing can ever end the loop (an unconditional self-emission at zero
time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from evtool.scenario import models as m
from evtool.scenario.errors import Problem, Severity
from evtool.scenario.yamlsource import Locations, Path_, dotted

MAX_ROUTER_DEPTH = 32
"""The longest chain of routers a message may cross (routing recurses once per router)."""

Add = Callable[[Path_, str, str | None, Severity], None]


def check_loops(sc: m.Scenario, loc: Locations) -> list[Problem]:
    """Every loop visible in the scenario, located at the binding, dead-letter key or emit that closes it."""
    problems: list[Problem] = []

    def add(path: Path_, message: str, hint: str | None, severity: Severity) -> None:
        line, col = loc.find(path)
        problems.append(Problem(loc.file, line, col, dotted(path), message, hint, severity))

    _router_cycles(sc, add)
    if not any(p.severity == "error" for p in problems):
        _dead_letter_cycles(sc, add)
        _self_emission(sc, add)
    return problems


def _router_edges(sc: m.Scenario) -> dict[str, list[tuple[int, str]]]:
    """Router -> [(binding index, target)] for targets that are routers themselves."""
    out: dict[str, list[tuple[int, str]]] = {}
    for name, ch in sc.channels.items():
        if isinstance(ch, m.RouterChannel):
            out[name] = [(i, b.to) for i, b in enumerate(ch.bindings)
                         if isinstance(sc.channels.get(b.to), m.RouterChannel)]
    return out


def _router_cycles(sc: m.Scenario, add: Add) -> None:
    edges = _router_edges(sc)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    depth: dict[str, int] = {}
    reported: set[frozenset[str]] = set()
    for root in edges:
        if state.get(root):
            continue
        # Iterative depth-first search: a long chain must not exhaust the stack here either.
        path: list[str] = [root]
        iters = [iter(edges[root])]
        state[root] = 1
        while iters:
            node = path[-1]
            step = next(iters[-1], None)
            if step is None:
                state[node] = 2
                depth[node] = 1 + max((depth.get(t, 0) for _i, t in edges[node]), default=0)
                if depth[node] > MAX_ROUTER_DEPTH:
                    add(("channels", node, "bindings"),
                        f"routers chain {depth[node]} deep from `{node}`; the limit is {MAX_ROUTER_DEPTH}",
                        "bind queues and topics to a router; a few routers in a row are enough", "error")
                    depth[node] = -10**9  # report the deepest only
                path.pop()
                iters.pop()
                continue
            index, target = step
            if state.get(target) == 1:
                cycle = path[path.index(target):]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    shown = " -> ".join(f"`{c}`" for c in [*cycle, target])
                    add(("channels", node, "bindings", index, "to"),
                        f"router cycle: {shown}; a message would be routed around it forever",
                        "remove one of these bindings; a router forwards to queues, topics or logs in the end",
                        "error")
                continue
            if state.get(target) == 2:
                continue
            state[target] = 1
            path.append(target)
            iters.append(iter(edges[target]))


def _reach(sc: m.Scenario, start: str) -> set[str]:
    """The channels a publish to `start` reaches through routers (every binding, any key)."""
    seen = {start}
    todo = [start]
    while todo:
        ch = sc.channels.get(todo.pop())
        if isinstance(ch, m.RouterChannel):
            for b in ch.bindings:
                if b.to not in seen:
                    seen.add(b.to)
                    todo.append(b.to)
    return seen


def _dead_letter_cycles(sc: m.Scenario, add: Add) -> None:
    # channel -> [(where it is written, dead-letter target)]
    edges: dict[str, list[tuple[Path_, str]]] = {}
    for name, ch in sc.channels.items():
        target = getattr(ch, "dead_letter", None)
        if isinstance(target, str):
            edges.setdefault(name, []).append((("channels", name, "dead_letter"), target))
    for cname, c in sc.consumers.items():
        if c.dead_letter:
            edges.setdefault(c.from_, []).append((("consumers", cname, "dead_letter"), c.dead_letter))
    reported: set[frozenset[str]] = set()
    for start in sorted(edges):
        # Breadth-first over dead-letter edges (through routers) back to `start`.
        parent: dict[str, tuple[str, Path_]] = {}
        frontier = [start]
        found: tuple[str, Path_] | None = None
        while frontier and found is None:
            nxt: list[str] = []
            for node in frontier:
                for where, target in edges.get(node, ()):
                    for reached in sorted(_reach(sc, target)):
                        if reached == start:
                            found = (node, where)
                            break
                        if reached not in parent and reached in edges:
                            parent[reached] = (node, where)
                            nxt.append(reached)
                    if found:
                        break
                if found:
                    break
            frontier = nxt
        if found is None:
            continue
        chain = [found[0]]
        while chain[-1] != start:
            chain.append(parent[chain[-1]][0])
        chain.reverse()
        key = frozenset(chain)
        if key in reported:
            continue
        reported.add(key)
        shown = " -> ".join(f"`{c}`" for c in [*chain, start])
        add(found[1], f"dead-letter cycle: {shown}; a message that keeps failing circles forever",
            "end the chain in a dead-letter channel nobody consumes from, or that has no `dead_letter` itself",
            "warning")


def _zero(dist: object) -> bool:
    """Whether a processing time (a duration or a distribution) is always zero."""
    if isinstance(dist, int):
        return dist == 0
    if isinstance(dist, m.ConstantDist):
        return dist.value == 0
    if isinstance(dist, m.UniformDist):
        return dist.max == 0
    return False


def _handler_for(c: m.Consumer, mtype: str) -> tuple[Path_, object, list[m.Emit]]:
    """The handler a consumer runs for one message type: `handles[type]`, else its default."""
    h = c.handles.get(mtype)
    if h is None:
        return (), c.processing, c.emit
    return ("handles", mtype), (h.processing if h.processing is not None else c.processing), h.emit


_Node = tuple[str, str]  # (channel, message type)


@dataclass(frozen=True)
class _Edge:
    """One emit: handling a message of `src` publishes one of `dst`."""

    src: _Node
    dst: _Node
    consumer: str
    path: Path_
    zero_time: bool
    unconditional: bool


def _self_emission(sc: m.Scenario, add: Add) -> None:
    """Emission cycles: handling a message (by channel and type) leads back to the same channel and type.

    Types matter: a saga's services emit to each other's channels, and the cycle ends because the
    reply's type has a handler that emits nothing.
    """
    hop_zero = _zero(sc.broker.hop_latency)
    types = {e.message for c in sc.consumers.values() for _s, _p, es in _all_handlers(c) for e in es}
    types |= {p.message for p in sc.producers.values()}
    edges: dict[_Node, list[_Edge]] = {}
    for cname, c in sc.consumers.items():
        for mtype in sorted(types):
            sub, processing, emits = _handler_for(c, mtype)
            for i, e in enumerate(emits):
                for ch in sorted(_reach(sc, e.to)):
                    edge = _Edge((c.from_, mtype), (ch, e.message), cname, ("consumers", cname, *sub, "emit", i, "to"),
                                 hop_zero and _zero(processing), e.when is None)
                    edges.setdefault(edge.src, []).append(edge)
    reported: set[frozenset[_Node]] = set()
    for src in sorted(edges):
        for first in edges[src]:
            cycle = _path_back(edges, first, src)
            if cycle is None:
                continue
            key = frozenset(e.src for e in cycle)
            if key in reported:
                continue
            reported.add(key)
            _report_cycle(cycle, add)


def _all_handlers(c: m.Consumer) -> Iterable[tuple[Path_, object, list[m.Emit]]]:
    yield (), c.processing, c.emit
    for t, h in c.handles.items():
        yield ("handles", t), h.processing, h.emit


def _path_back(edges: dict[_Node, list[_Edge]], first: _Edge, target: _Node) -> list[_Edge] | None:
    """The shortest chain of emits that starts with `first` and returns to `target`, or None."""
    parent: dict[_Node, _Edge] = {}
    frontier = [first]
    seen = {first.dst}
    while frontier:
        nxt: list[_Edge] = []
        for edge in frontier:
            if edge.dst == target:
                chain = [edge]
                while chain[-1] is not first:
                    chain.append(parent[chain[-1].src])
                return chain[::-1]
            for out in edges.get(edge.dst, ()):
                if out.dst not in seen or out.dst == target:
                    seen.add(out.dst)
                    parent[out.src] = edge
                    nxt.append(out)
        frontier = nxt
    return None


def _report_cycle(cycle: list[_Edge], add: Add) -> None:
    last = cycle[-1]
    names = sorted({e.consumer for e in cycle})
    if len(cycle) == 1:
        c, (ch, _t) = last.consumer, last.src
        what = f"`{c}` emits to its own channel `{ch}`"
    else:
        hops = " -> ".join(f"`{e.src[0]}`" for e in cycle) + f" -> `{cycle[0].src[0]}`"
        what = f"{', '.join(f'`{n}`' for n in names)} emit around a cycle {hops}"
    zero = all(e.zero_time for e in cycle)
    if all(e.unconditional for e in cycle):
        if zero:
            add(last.path, f"{what} for every message it handles, in zero time: the run never leaves its first "
                           "instant", "add `when:` to end the chain, give the handler a processing time, or emit "
                                      "elsewhere", "error")
        else:
            add(last.path, f"{what} for every message it handles: an endless stream that the drain never finishes",
                "add `when:` so the chain ends, or emit to another channel", "warning")
    elif zero:
        add(last.path, f"{what} with no processing time or hop latency: if `when` keeps holding, the clock "
                       "never moves", "give the handler a processing time", "warning")


MAX_TOTAL_INSTANCES = 10_000
"""Consumer and producer instances across the whole scenario (each is an object with its own state)."""
MAX_TOTAL_PARTITIONS = 65_536
"""Log partitions across the whole scenario."""


def check_totals(sc: m.Scenario, loc: Locations) -> list[Problem]:
    """Sizes no single field shows: 2,000 consumers of 256 instances each fit in a 2 MB file."""
    problems: list[Problem] = []

    def add(path: Path_, message: str, hint: str) -> None:
        line, col = loc.find(path)
        problems.append(Problem(loc.file, line, col, dotted(path), message, hint))

    instances = sum(c.instances for c in sc.consumers.values()) + sum(p.instances for p in sc.producers.values())
    if instances > MAX_TOTAL_INSTANCES:
        biggest = max([("consumers", n, c.instances) for n, c in sc.consumers.items()]
                      + [("producers", n, p.instances) for n, p in sc.producers.items()], key=lambda t: t[2])
        add((biggest[0], biggest[1], "instances"),
            f"the scenario has {instances:,} producer and consumer instances in all; the limit is "
            f"{MAX_TOTAL_INSTANCES:,}", "a few instances per service show the same behaviour")
    partitions = sum(ch.partitions for ch in sc.channels.values() if isinstance(ch, m.LogChannel))
    if partitions > MAX_TOTAL_PARTITIONS:
        biggest_log = max((n for n, ch in sc.channels.items() if isinstance(ch, m.LogChannel)),
                          key=lambda n: getattr(sc.channels[n], "partitions", 0))
        add(("channels", biggest_log, "partitions"),
            f"the logs have {partitions:,} partitions in all; the limit is {MAX_TOTAL_PARTITIONS:,}",
            "a few partitions per log show the same behaviour")
    return problems
