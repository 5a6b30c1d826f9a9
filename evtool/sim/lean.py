"""The lean path of a consumer: a handler with fail rules, effects, idempotency and retries, compiled once.

A queue consumer of the usual realistic shape (one behaviour, `fail_if` rules, effects on its state,
an idempotency key, a business key, a retry policy; no per-type handlers, emits, replies, batches,
lanes, hooks or ordering) would otherwise go through the generic `ConsumerActor._start` / `_complete`
/ `_handle` / `_settle_ok`, which ask on every message what the scenario already answered once.
`install` answers it at start and replaces those steps on the consumer with closures over exactly what
this consumer does:

* an idempotency key that is a message field (`msg.id`) is read directly, and the store's dict methods
  are bound once; the names an expression reads (`msg`, `state`, ...) are built once per handling, and
  only when a key, rule, effect or business key reads them;
* a single `probability` rule is one draw of the consumer's stream against a constant (the same draw
  the generic rule loop makes); other rules are run as the generic loop runs them;
* `inc: name by <constant>` effects are one dict update each;
* a success is logged, acked and its slot released in the same call that completes the handler.

Failures (rare by nature) go through the consumer's own `_fail` and `crash`, as on the generic path.
The lean path does exactly what the generic path does, draw for draw and event for event (every lesson's
trace digest and the benchmark references are unchanged, `benchmarks/lesson_digests.py`, and
tests/sim/test_lean_consumer.py runs scenarios both ways); it only does less asking.
"""

from __future__ import annotations

from heapq import heappush
from typing import TYPE_CHECKING, Any

from evtool.core.delivery import Delivery
from evtool.core.events import TraceEvent
from evtool.core.message import Message
from evtool.scenario import models as m
from evtool.scenario.expressions import ExpressionRuntimeError
from evtool.sim.context import ActorContext
from evtool.sim.kernel import PRIO_ACTOR, Kernel

# Plain Python takes the no-op decorators of evtool.core._nocython, not Cython's Shadow module (~4 ms of a
# run's start-up to import); compiled, Cython reads `cython.locals` as it compiles this `import cython`,
# which does nothing at run time.
if not __file__.endswith((".so", ".pyd")):
    from evtool.core import _nocython as cython
else:
    import cython

if TYPE_CHECKING:
    from evtool.sim.plan import Rule

# The consumer's `ConsumerActor` and `Instance` are named only as strings here (`cython.locals` types, which
# lean.pxd cimports for the compiled build): sim/consumer.py imports this module, and an import back,
# even a TYPE_CHECKING one, would make a circle (tests/test_architecture.py).

_new = tuple.__new__  # builds a TraceEvent without the named tuple's Python-level __new__ (as the core does)

_EFFECT_ERRORS = (ExpressionRuntimeError, TypeError, KeyError, ValueError)
"""What an effect may raise: the handling fails with EffectError (as `ConsumerActor._handle`)."""


def eligible(c: Any) -> bool:
    """Whether `c` can take the lean path: the generic path's questions all have the one answer it compiles.

    The virtual clock, no hooks, a queue source, one behaviour without emits, no batches, lanes, auto ack
    or reply, or ordering. (The consumer asks only for its own class, never a pattern's subclass of it.)
    """
    beh = c.default
    return (type(c.ctx.kernel) is Kernel and c.hooks is None
            and not c.behaviours and not beh.emits
            and not c.auto_ack and c.batch_spec is None and c.lane_mode == "unordered"
            and c.spec.reply != "auto" and c.ordering is None
            and not isinstance(c.ctx.scenario.channels.get(c.spec.from_), m.LogChannel)
            and type(c.state) is dict)


def install(c: Any, crash_restart_ns: int) -> None:
    """Replace `c`'s `on_delivery`, `_start` and `_complete` with the lean closures (see the module docstring).

    Only for a consumer `eligible` says can take the path, at start; a rule with `crash: true` restarts
    the instance after `crash_restart_ns`.
    """
    ctx = c.ctx
    kernel = ctx.kernel
    heap = kernel._heap  # noqa: SLF001 - `Kernel.at` inlined, as ConsumerActor._start_plain does
    emit = ctx.emit
    broker = ctx.broker
    ack = broker.ack  # bound once: a success's settle is one call
    subscribers = ctx.subscribers
    rng = c.rng
    beh = c.default
    processing = beh.processing
    concurrency = c.concurrency
    name = c.name
    attempts = c.attempts
    attempts_get = attempts.get
    prev_delay = c.prev_delay
    state = c.state
    state_get = state.get
    seen = c.idem_seen
    seen_get = seen.get
    times = c.idem_times
    times_append = times.append
    keys_append = c.idem_keys.append
    window = c.idem_window
    idem = c.idem_key is not None
    idem_field = c._idem_field  # noqa: SLF001 - a key that is a message field, read directly
    key_is_id = idem_field is not None and c.idem_key.text.strip() == "msg.id"  # type: ignore[union-attr]
    # a key that is an expression: evaluated over the names (`msg.id` when it cannot be), again after the
    # effects when it reads the state
    idem_expr = c.idem_key.evaluate if idem and idem_field is None else None  # type: ignore[union-attr]
    idem_reads_state = c._idem_reads_state  # noqa: SLF001
    seen_before = c._seen_before  # noqa: SLF001
    has_bkey = c.business_key is not None
    business_key = c._business_key  # noqa: SLF001
    expire = c._expire_idempotency  # noqa: SLF001
    fail = c._fail  # noqa: SLF001
    make_env = c._env  # noqa: SLF001
    rules = beh.rules
    # one rule, a probability: one draw against a constant (`rule.probability or 0.0`, as the loop reads it)
    one_rule = rules[0] if len(rules) == 1 and rules[0].when is None else None
    one_p = (one_rule.probability or 0.0) if one_rule is not None else 0.0
    effects = beh.effects
    n_effects = len(effects)
    # every effect `inc: name by <constant>`: (name, amount) pairs, applied inline
    incs = tuple((e.name, e.const_inc) for e in effects) if all(e.const_inc is not None for e in effects) else None
    one_inc, one_amount = incs[0] if incs is not None and len(incs) == 1 else (None, None)
    effects_read = any(e.reads_names for e in effects)
    random = rng.random

    @cython.locals(inst="Instance", d=Delivery, msg=Message, k=Kernel, cx=ActorContext)
    def start(inst: Any, d: Delivery) -> None:
        # ConsumerActor.on_delivery and _start for this consumer (keep in step with them). Every caller of
        # `_start` (the buffer loops) has checked what the first line checks: one function serves both.
        if inst.state != "running" or inst.busy >= concurrency:
            inst.buffer.append(d)
            return
        # typed locals: a compiled build reads their fields directly (a pure run: the same objects, no call)
        cx = ctx
        k = kernel
        inst.busy += 1
        cx.pending_work += 1
        inst.inflight[d.tag] = d
        now = k.now
        if idem:
            if idem_expr is None:
                msg = d.msg
                seen_at = seen_get(msg.id if key_is_id else idem_field(msg))  # type: ignore[misc]
                dup = seen_at is not None and now - seen_at <= window
            else:
                dup = seen_before(d.msg)
            # a duplicate costs a dedup-store lookup, not the work: duplicates are cheap to skip
            duration = 0 if dup else processing(rng)
        else:
            duration = processing(rng)
        if inst.slow != 1.0:
            duration = int(duration * inst.slow)
        if inst.extra is not None:
            duration += inst.extra(rng)
        seq = k._seq + 1  # noqa: SLF001 - the kernel's own tie-breaker, as `Kernel.at` counts it
        k._seq = seq  # noqa: SLF001
        t = now + duration
        if t < now:
            t = now
        heappush(heap, (t, PRIO_ACTOR, seq, complete, (inst, d, inst.epoch, now)))

    def failed(inst: Any, d: Delivery, attempt: int, env: dict[str, Any] | None) -> bool | None:
        """The fail rules, as `ConsumerActor._handle` runs them: None when none fires, else whether the slot
        stays busy (the rule's failure carried out)."""
        msg = d.msg
        error_text: str | None = None
        for rule in rules:
            if rule.when is not None:
                if env is None:
                    env = make_env(msg, attempt)
                try:
                    hit = bool(rule.when.evaluate(env))
                except ExpressionRuntimeError as exc:
                    hit, error_text = True, str(exc)
            else:
                hit = random() < (rule.probability or 0.0)
            if hit:
                return carry_out(inst, d, attempt, rule, error_text)
        return None

    def carry_out(inst: Any, d: Delivery, attempt: int, rule: Rule, error_text: str | None) -> bool:
        """A fail rule fired: crash, or fail the handling (`ConsumerActor._fail`); whether the slot stays busy."""
        msg = d.msg
        if rule.crash:
            emit(TraceEvent(kernel.now, "failed", msg.id, d.channel, name, inst.index, msg.key, d.attempt, msg.tag,
                            {"error": rule.error, "retryable": rule.retryable, "crash": True}))
            c.crash(inst, crash_restart_ns, reason=rule.error)
            return True
        return fail(inst, d, msg, rule.error, rule.retryable, attempt, error_text, rule.reply_with_error, False)

    def settle_ok(inst: Any, d: Delivery, mid: str, now: int) -> None:
        # ConsumerActor._settle_ok for this consumer
        if attempts:
            attempts.pop(mid, None)
        if prev_delay:
            prev_delay.pop(mid, None)
        if d.sub in subscribers:
            ack(now, d.tag)

    @cython.locals(inst="Instance", d=Delivery, cx=ActorContext)
    def release(inst: Any, d: Delivery) -> None:
        # the end of ConsumerActor._complete: the slot is free, the next buffered delivery starts
        cx = ctx
        inst.busy -= 1
        cx.pending_work -= 1
        inst.inflight.pop(d.tag, None)
        buf = inst.buffer
        while buf and inst.state == "running" and inst.busy < concurrency:
            start(inst, buf.popleft())

    def effect_failed(inst: Any, d: Delivery, attempt: int, applied: int, exc: Exception) -> bool:
        msg = d.msg
        if applied:
            c._effects_outlived(inst, d, msg, make_env(msg, attempt), applied, n_effects)  # noqa: SLF001
        return fail(inst, d, msg, "EffectError", False, attempt, str(exc), False)

    @cython.locals(inst="Instance", d=Delivery, msg=Message, k=Kernel, cx=ActorContext, cc="ConsumerActor",
                   inflight=dict)
    def complete(item: tuple[Any, Delivery, int, int]) -> None:
        # ConsumerActor._complete, _handle and _settle_ok for this consumer (keep in step with them): the
        # common outcome, a success, runs through without a further call; a duplicate, a failure and an
        # effect error leave through `release` unless the slot stays busy (an in-place retry, a crash)
        inst, d, epoch, started = item
        if epoch != inst.epoch:
            return  # the instance crashed while this handler ran: its work is lost
        if inst.state == "paused":
            inst.deferred.append((complete, item))
            return
        k = kernel
        msg = d.msg
        mid = msg.id
        now = k.now
        attempt = attempts_get(mid, 0) + 1 if attempts else 1
        env: dict[str, Any] | None = None  # the names (msg, state, ...), built when something reads them
        if idem:
            if key_is_id:
                ikey = mid
            elif idem_expr is None:
                ikey = idem_field(msg)  # type: ignore[misc]
            else:
                env = make_env(msg, attempt)
                try:
                    ikey = idem_expr(env)
                except ExpressionRuntimeError:
                    ikey = mid
            seen_at = seen_get(ikey)
            if seen_at is not None and now - seen_at <= window:
                emit(TraceEvent(now, "handled", mid, d.channel, name, inst.index, msg.key, d.attempt, msg.tag,
                                {"duplicate": True, "latency": now - msg.published_at}))
                settle_ok(inst, d, mid, now)
                release(inst, d)
                return
        if one_rule is not None:
            if random() < one_p:  # the one rule, a probability: one draw
                if not carry_out(inst, d, attempt, one_rule, None):
                    release(inst, d)
                return
        elif rules:
            keep = failed(inst, d, attempt, env)
            if keep is not None:
                if not keep:
                    release(inst, d)
                return
        if effects:
            applied = 0
            try:
                if one_inc is not None:
                    state[one_inc] = state_get(one_inc, 0) + one_amount
                elif incs is not None:
                    for key, amount in incs:
                        state[key] = state_get(key, 0) + amount
                        applied += 1
                else:
                    if env is None and effects_read:
                        env = make_env(msg, attempt)
                    for eff in effects:
                        inc = eff.const_inc
                        if inc is not None:
                            state[eff.name] = state_get(eff.name, 0) + inc
                        else:
                            eff.apply(state, env)  # type: ignore[arg-type]
                        applied += 1
            except _EFFECT_ERRORS as exc:
                if not effect_failed(inst, d, attempt, applied, exc):
                    release(inst, d)
                return
        if idem:
            if idem_reads_state:  # the effects may have changed what the key reads
                try:
                    ikey = idem_expr(env)  # type: ignore[misc]
                except ExpressionRuntimeError:
                    ikey = mid
            seen[ikey] = now
            times_append(now)
            keys_append(ikey)
            if now - times[0] > window:
                expire(now)
        data: dict[str, Any] = {"latency": now - msg.published_at, "processing": now - started}
        if attempt > 1:
            data["attempts"] = attempt
            # (a first attempt has nothing to forget: `_fail` records a delay only with an attempt)
            attempts.pop(mid, None)
            prev_delay.pop(mid, None)
        if msg.seq:
            data["seq"] = msg.seq
        if has_bkey:
            data["bkey"] = business_key(env if env is not None else make_env(msg, attempt))
        emit(_new(TraceEvent, (now, "handled", mid, d.channel, name, inst.index, msg.key, d.attempt, msg.tag, data)))
        cc = c
        cc.handled += 1
        inst.processed += 1
        if d.sub in subscribers:
            ack(now, d.tag)
        # release(inst, d), inlined
        cx = ctx
        inst.busy -= 1
        cx.pending_work -= 1
        inflight = inst.inflight  # (a dict: a compiled build pops it without a method lookup)
        inflight.pop(d.tag, None)
        buf = inst.buffer
        while buf and inst.state == "running" and inst.busy < concurrency:
            start(inst, buf.popleft())

    c.on_delivery = start  # type: ignore[method-assign]
    c._start = start  # type: ignore[method-assign]  # noqa: SLF001
    c._complete = complete  # type: ignore[method-assign]  # noqa: SLF001
