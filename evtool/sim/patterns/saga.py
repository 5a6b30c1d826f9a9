"""Sagas: a long transaction as steps with compensations, orchestrated or choreographed.

Orchestration: every trigger message starts a saga instance (its id is the
`correlation` expression, e.g. the order id). The orchestrator sends each
step's command to its service with `reply_to = reply_channel` and
`correlation_id = <saga id>:<step>`, waits up to the step's timeout and
retries by the step's policy. Participants are ordinary consumers with
`reply: auto`. A step fails on an error reply or when its attempts run out;
a step that timed out is *uncertain* (it may have run, like Jepsen's
`:info`). On a failure the saga compensates, in reverse order, the steps it
must (`compensation.include: [completed, uncertain]`) and that have a
compensating command; after a completed pivot step there is no way back, so
a later failure leaves the saga stuck for a human.

Choreography: nobody sends commands; services react to each other's events.
The saga object only watches the `observe` channels (and the trigger) and
reads each step's outcome from the event types the step names
(`completed_by`, `failed_by`, `compensated_by`), recording the same
`saga_*` events, so the two styles can be compared on one trace.

Each instance is in one state: running, compensating, completed,
compensated or stuck. `saga_compensated` carries `order_ok` (the
compensations ran in reverse step order, only for completed or uncertain
steps, each at most once) and `repeated`, which the `saga_compensation`
check reads.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from evtool.core.delivery import Delivery
from evtool.core.message import Message
from evtool.core.retry import RetryPolicy as CoreRetry
from evtool.scenario import models as m
from evtool.scenario.expressions import ExpressionRuntimeError, compile_expression
from evtool.sim.consumer import core_retry
from evtool.sim.kernel import PRIO_ACTOR
from evtool.sim.patterns.base import PatternActor

if TYPE_CHECKING:
    from evtool.sim.context import ActorContext

TERMINAL = ("completed", "compensated", "stuck")
TIMEOUT_ERROR = "Timeout"
DEADLINE_ERROR = "DeadlineExceeded"


def compensation_verdict(log: list[int], outcomes: dict[int, str]) -> tuple[bool, bool]:
    """Judge a compensation log (step indexes in the order they were compensated).

    Returns (order_ok, repeated): order_ok when the steps were compensated in
    strictly reverse step order, each only if it completed or is uncertain,
    and none twice; repeated when some step was compensated more than once.
    """
    repeated = len(set(log)) != len(log)
    decreasing = all(a > b for a, b in zip(log, log[1:], strict=False))
    eligible = all(outcomes.get(i) in ("completed", "uncertain") for i in log)
    return (decreasing and eligible and not repeated), repeated


def reply_queue(name: str, spec: m.SagaPattern) -> str:
    """Where orchestrated saga `name` waits for its services' replies: its `reply_channel`, else a private queue
    it declares itself."""
    return spec.reply_channel or f"{name}.replies"


class SagaInstance:
    """One running saga: where it is, what each step did, what was compensated."""

    def __init__(self, sid: str, trigger: Message, started: int) -> None:
        self.sid = sid
        self.trigger = trigger
        self.payload = dict(trigger.payload) if isinstance(trigger.payload, dict) else {"value": trigger.payload}
        self.started = started
        self.status = "running"  # running | compensating | completed | compensated | stuck
        self.step = 0
        self.attempt = 0
        self.token = 0
        self.prev_delay: int | None = None
        self.awaiting: str | None = None
        self.cause = trigger  # the message the next command follows up: the trigger, then the latest reply
        self.outcomes: dict[int, str] = {}   # step index -> completed | uncertain | failed
        self.timed_out: set[int] = set()
        self.pivoted = False
        self.failed_step: str | None = None
        self.reason: str | None = None
        self.todo: list[int] = []             # compensations still to run, in the order to run them
        self.comp_log: list[int] = []         # compensations done, in the order they were done
        self.compensated_times = 0
        self.last_command: Message | None = None


class SagaActor(PatternActor, ABC):
    """What both saga styles share: instances, their states and the terminal events."""

    def __init__(self, ctx: ActorContext, name: str, spec: m.SagaPattern) -> None:
        super().__init__(ctx, name)
        self.spec = spec
        self.steps = spec.steps
        self.index = {s.name: i for i, s in enumerate(spec.steps)}
        self.correlation = compile_expression(spec.correlation)
        self.include = set(spec.compensation.include)
        self.sagas: dict[str, SagaInstance] = {}
        self.by_conversation: dict[str, str] = {}  # a trigger's correlation_id -> saga id
        self.active = 0
        self.state.update(started=0, running=0, compensating=0, completed=0, compensated=0, stuck=0,
                          late_replies=0, duplicate_triggers=0)

    def idle(self) -> bool:
        """True when no saga is running or compensating."""
        return self.active == 0

    # ------------------------------------------------------------------ shared steps of the state machine

    def saga_id(self, msg: Message) -> str:
        """The saga id of a message, by the `correlation` expression (the message id if it cannot say)."""
        env = {"msg": msg, "state": self.state, "key": msg.key, "attempt": 1, "now": self.ctx.now,
               "params": self.ctx.params, "tag": msg.tag}
        try:
            value = self.correlation.evaluate(env)
        except ExpressionRuntimeError:
            value = None
        return str(value) if value is not None else msg.id

    def is_trigger(self, d: Delivery) -> bool:
        """Does this delivery start a saga?"""
        t = self.spec.trigger
        return d.channel == t.from_ and (t.message is None or d.msg.type == t.message)

    def begin(self, msg: Message) -> SagaInstance | None:
        """Start a saga for a trigger message (None for a repeated trigger)."""
        sid = self.saga_id(msg)
        if sid in self.sagas:
            self.bump("duplicate_triggers")
            return None
        s = SagaInstance(sid, msg, self.ctx.now)
        self.sagas[sid] = s
        self.by_conversation[msg.correlation_id or msg.id] = sid
        self.active += 1
        self.bump("started")
        self.bump("running")
        self.record("saga_started", sid, channel=msg.channel, key=msg.key, trigger=msg.id, style=self.spec.style)
        if self.spec.deadline is not None:
            self.ctx.kernel.at(self.ctx.now + self.spec.deadline, self._deadline, s, PRIO_ACTOR)
        return s

    def _move(self, s: SagaInstance, status: str) -> None:
        if s.status in ("running", "compensating"):
            self.state[s.status] -= 1
            if status in TERMINAL:
                self.active -= 1
        s.status = status
        self.bump(status)

    def step_completed(self, s: SagaInstance, idx: int, **extra: Any) -> None:
        """A step succeeded."""
        s.outcomes[idx] = "completed"
        if self.steps[idx].pivot:
            s.pivoted = True
        self.record("saga_step_completed", s.sid, key=s.trigger.key, attempt=s.attempt, step=self.steps[idx].name,
                    **extra)

    def complete(self, s: SagaInstance) -> None:
        """Every step succeeded."""
        self._move(s, "completed")
        self.record("saga_completed", s.sid, key=s.trigger.key, duration=self.ctx.now - s.started)

    def compensations_for(self, s: SagaInstance) -> list[int]:
        """The steps to compensate, in reverse order: completed or uncertain (as included), with a compensation."""
        out = []
        for i in range(len(self.steps) - 1, -1, -1):
            outcome = s.outcomes.get(i)
            if outcome in self.include and self.compensator(i):
                out.append(i)
        return out

    def compensator(self, idx: int) -> bool:
        """Whether step `idx` can be compensated in this style."""
        return self.steps[idx].compensate is not None

    def start_compensating(self, s: SagaInstance, failed_idx: int, reason: str) -> None:
        """Begin undoing the saga's earlier steps."""
        s.failed_step = self.steps[failed_idx].name
        s.reason = reason
        s.todo = self.compensations_for(s)
        self._move(s, "compensating")
        self.record("saga_compensating", s.sid, key=s.trigger.key, reason=reason, failed_step=s.failed_step,
                    steps=",".join(self.steps[i].name for i in s.todo))

    def finish_compensating(self, s: SagaInstance) -> None:
        """Every compensation is done."""
        order_ok, repeated = compensation_verdict(s.comp_log, s.outcomes)
        s.compensated_times += 1
        self._move(s, "compensated")
        self.record("saga_compensated", s.sid, key=s.trigger.key, failed_step=s.failed_step, reason=s.reason,
                    order_ok=order_ok, repeated=repeated or s.compensated_times > 1,
                    compensated=",".join(self.steps[i].name for i in s.comp_log),
                    duration=self.ctx.now - s.started)

    def stuck(self, s: SagaInstance, step: str, reason: str, error: str | None = None) -> None:
        """The saga can neither finish nor compensate: a human must look."""
        self._move(s, "stuck")
        self.record("saga_stuck", s.sid, key=s.trigger.key, step=step, reason=reason, error=error)

    @abstractmethod
    def _deadline(self, s: SagaInstance) -> None:
        """The saga's whole deadline passed (each style decides what that means)."""


class OrchestratedSaga(SagaActor):
    """The orchestrator: sends each step's command, waits for the reply, retries, compensates."""

    def __init__(self, ctx: ActorContext, name: str, spec: m.SagaPattern) -> None:
        super().__init__(ctx, name, spec)
        self.reply_channel = reply_queue(name, spec)
        if spec.reply_channel is None:
            self.declare_queue(self.reply_channel)
        self.step_retry: list[CoreRetry | None] = [core_retry(s.retry) if s.retry else None for s in spec.steps]
        self.comp_retry = core_retry(spec.compensation.retry) if spec.compensation.retry else None
        self.rng: random.Random = ctx.stream(f"pattern:{name}/retry")
        self.by_cid: dict[str, tuple[SagaInstance, int, str]] = {}
        self.sent = 0

    def start(self) -> None:
        """Listen for triggers and for replies."""
        self.listen(self.spec.trigger.from_, self._on_trigger).open()
        self.listen(self.reply_channel, self._on_reply).open()

    # ------------------------------------------------------------------ sending

    def _on_trigger(self, d: Delivery) -> None:
        if not self.is_trigger(d):
            return
        s = self.begin(d.msg)
        if s is not None:
            self._send_step(s)

    def _command(self, s: SagaInstance, idx: int, phase: str) -> tuple[m.Command, str]:
        step = self.steps[idx]
        if phase == "forward":
            return step.send, f"{s.sid}:{step.name}"
        assert step.compensate is not None
        return step.compensate, f"{s.sid}:{step.name}:compensate"

    def _publish(self, s: SagaInstance, idx: int, phase: str) -> None:
        ctx = self.ctx
        cmd, cid = self._command(s, idx, phase)
        s.attempt += 1
        s.token += 1
        s.awaiting = cid
        self.sent += 1
        step = self.steps[idx]
        msg = s.cause.follow_up(
            f"{self.name}-{self.sent}", cmd.to, producer=self.name, now=ctx.now, type=cmd.command,
            payload=dict(s.payload), key=s.sid, correlation_id=cid, reply_to=self.reply_channel,
            headers={"saga": s.sid, "step": step.name, "phase": phase, "attempt": str(s.attempt)},
        )
        self.by_cid[cid] = (s, idx, phase)
        ctx.kernel.at(ctx.now + step.timeout, self._timeout, (s, s.token), PRIO_ACTOR)
        s.last_command = msg
        ctx.publish(cmd.to, msg, producer=self.name)

    def _send_step(self, s: SagaInstance) -> None:
        s.attempt = 0
        s.prev_delay = None
        self._publish(s, s.step, "forward")

    def _send_compensation(self, s: SagaInstance) -> None:
        if not s.todo:
            self.finish_compensating(s)
            return
        s.attempt = 0
        s.prev_delay = None
        self._publish(s, s.todo[0], "compensate")

    # ------------------------------------------------------------------ outcomes

    def _on_reply(self, d: Delivery) -> None:
        msg = d.msg
        cid = msg.correlation_id or ""
        entry = self.by_cid.get(cid)
        if entry is None or entry[0].awaiting != cid or entry[0].status in TERMINAL:
            # A reply to an attempt already given up on, or a second reply to a duplicated command.
            self.bump("late_replies")
            self.record("reply_orphaned", msg.id, channel=d.channel, key=msg.key, correlation_id=cid,
                        reason="late")
            return
        s, idx, phase = entry
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        ok = bool(payload.get("ok", True))
        error = payload.get("error") or "Error"
        s.awaiting = None
        s.token += 1  # the pending timeout no longer applies
        s.cause = msg
        if phase == "forward":
            if ok:
                self.step_completed(s, idx)
                self._next(s)
            elif self._retries_error(idx, error):
                self._retry_or_fail(s, idx, error, "error")
            else:
                self._step_failed(s, idx, error, "error")
        elif ok:
            s.todo.pop(0)
            s.comp_log.append(idx)
            self._send_compensation(s)
        else:
            self._retry_compensation(s, idx, error)

    def _retries_error(self, idx: int, error: str) -> bool:
        # A business error reply (CardDeclined) is final; only errors a step lists in `retry_on` are retried.
        retry = self.steps[idx].retry
        return retry is not None and isinstance(retry.retry_on, list) and error in retry.retry_on

    def _next(self, s: SagaInstance) -> None:
        s.step += 1
        if s.step >= len(self.steps):
            self.complete(s)
        else:
            self._send_step(s)

    def _timeout(self, item: tuple[SagaInstance, int]) -> None:
        s, token = item
        if token != s.token or s.awaiting is None or s.status in TERMINAL:
            return
        cid = s.awaiting
        _, idx, phase = self.by_cid[cid]
        s.awaiting = None
        self.record("request_timed_out", s.sid, key=s.trigger.key, attempt=s.attempt, step=self.steps[idx].name,
                    correlation_id=cid, phase=phase)
        if phase == "forward":
            s.timed_out.add(idx)
            self._retry_or_fail(s, idx, TIMEOUT_ERROR, "timeout")
        else:
            self._retry_compensation(s, idx, TIMEOUT_ERROR)

    def _retry_or_fail(self, s: SagaInstance, idx: int, error: str, reason: str) -> None:
        policy = self.step_retry[idx]
        if policy is not None:
            decision = policy.decide(s.attempt, error, True, self.rng, s.prev_delay)
            if decision.retry:
                s.prev_delay = decision.delay_ns
                self.record("retry_scheduled", s.sid, key=s.trigger.key, attempt=s.attempt,
                            step=self.steps[idx].name, delay=decision.delay_ns, error=error)
                self.ctx.kernel.at(self.ctx.now + decision.delay_ns, self._resend, (s, s.token, idx, "forward"),
                                      PRIO_ACTOR)
                return
        self._step_failed(s, idx, error, reason)

    def _resend(self, item: tuple[SagaInstance, int, int, str]) -> None:
        s, token, idx, phase = item
        if token != s.token or s.status in TERMINAL:
            return
        if (phase == "forward" and s.status == "running") or (phase == "compensate" and s.status == "compensating"):
            self._publish(s, idx, phase)

    def _step_failed(self, s: SagaInstance, idx: int, error: str, reason: str) -> None:
        # A step that ever timed out may have run, whatever a later attempt said: it stays uncertain.
        s.outcomes[idx] = "uncertain" if (reason == "timeout" or idx in s.timed_out) else "failed"
        step = self.steps[idx]
        self.record("saga_step_failed", s.sid, key=s.trigger.key, attempt=s.attempt, step=step.name, error=error,
                    reason=reason)
        on_exhausted = step.retry.on_exhausted if step.retry is not None else "compensate"
        if s.pivoted or on_exhausted == "dead_letter":
            self._dead_letter(s, idx)
            self.stuck(s, step.name, "past_pivot" if s.pivoted else "retries_exhausted", error)
            return
        self.start_compensating(s, idx, reason)
        self._send_compensation(s)

    def _retry_compensation(self, s: SagaInstance, idx: int, error: str) -> None:
        policy = self.comp_retry
        if policy is not None:
            decision = policy.decide(s.attempt, error, True, self.rng, s.prev_delay)
            if decision.retry:
                s.prev_delay = decision.delay_ns
                self.record("retry_scheduled", s.sid, key=s.trigger.key, attempt=s.attempt,
                            step=self.steps[idx].name, delay=decision.delay_ns, error=error, phase="compensate")
                self.ctx.kernel.at(self.ctx.now + decision.delay_ns, self._resend,
                                      (s, s.token, idx, "compensate"), PRIO_ACTOR)
                return
        if policy is None or policy.on_exhausted == "dead_letter":
            self._dead_letter(s, idx)
        self.stuck(s, self.steps[idx].name, "compensation_failed", error)

    def _dead_letter(self, s: SagaInstance, idx: int) -> None:
        # The last command goes to its channel's dead-letter target, if it has one, for a human to see.
        last = s.last_command
        if last is None:
            return
        spec = self.ctx.scenario.channels.get(last.channel)
        target = getattr(spec, "dead_letter", None)
        if target is None:
            return
        copy = last.with_death(last.channel, "saga_stuck", self.ctx.now).republish(
            target, headers={"x-death-reason": "saga_stuck"})
        self.record("dead_lettered", last.id, channel=last.channel, key=last.key, reason="saga_stuck", target=target,
                    by="saga")
        self.ctx.publish(target, copy, producer=self.name)

    def _deadline(self, s: SagaInstance) -> None:
        if s.status != "running" or s.pivoted:
            return  # past the pivot only forward retries make sense; the step's own policy decides
        idx = s.step
        s.token += 1  # cancel the step's pending timeout and retry
        if s.awaiting is not None or s.attempt > 0:
            s.timed_out.add(idx)
        s.awaiting = None
        s.outcomes[idx] = "uncertain"
        self.record("saga_step_failed", s.sid, key=s.trigger.key, attempt=s.attempt, step=self.steps[idx].name,
                    error=DEADLINE_ERROR, reason="timeout")
        self.start_compensating(s, idx, "deadline")
        self._send_compensation(s)


class ChoreographedSaga(SagaActor):
    """The observer of a choreography: reads each step's outcome from the services' events."""

    def __init__(self, ctx: ActorContext, name: str, spec: m.SagaPattern) -> None:
        super().__init__(ctx, name, spec)
        self.completed_by: dict[str, int] = {}
        self.failed_by: dict[str, int] = {}
        self.compensated_by: dict[str, int] = {}
        for i, step in enumerate(spec.steps):
            if step.completed_by:
                self.completed_by[step.completed_by] = i
            for t in step.failed_by:
                self.failed_by[t] = i
            if step.compensated_by:
                self.compensated_by[step.compensated_by] = i

    def start(self) -> None:
        """Watch the trigger channel and every observed channel (each once)."""
        channels = [self.spec.trigger.from_]
        for ch in self.spec.observe:
            if ch not in channels:
                channels.append(ch)
        for ch in channels:
            self.listen(ch, self._on_event).open()

    def idle(self) -> bool:
        """Always: an observer has no work of its own, so open sagas never hold up the drain.

        When the services are quiet no event will settle them; `saga_terminates` reports them.
        """
        return True

    def compensator(self, idx: int) -> bool:
        """In a choreography a step is undone when its service publishes `compensated_by`."""
        return self.steps[idx].compensated_by is not None

    def _find(self, msg: Message) -> SagaInstance | None:
        sid = self.by_conversation.get(msg.correlation_id or "")
        if sid is None:
            sid = self.saga_id(msg)
        return self.sagas.get(sid)

    def _on_event(self, d: Delivery) -> None:
        msg = d.msg
        if self.is_trigger(d):
            self.begin(msg)
            return
        s = self._find(msg)
        if s is None:
            return
        t = msg.type
        if t in self.completed_by:
            idx = self.completed_by[t]
            if s.status != "running":
                self.bump("late_replies")
                return
            s.cause = msg
            self.step_completed(s, idx, event=msg.id)
            if all(s.outcomes.get(i) == "completed" for i in range(len(self.steps))):
                self.complete(s)
        elif t in self.failed_by:
            idx = self.failed_by[t]
            if s.status != "running":
                self.bump("late_replies")
                return
            s.outcomes[idx] = "failed"
            self.record("saga_step_failed", s.sid, key=s.trigger.key, step=self.steps[idx].name, error=t,
                        reason="error", event=msg.id)
            if s.pivoted:
                self.stuck(s, self.steps[idx].name, "past_pivot", t)
                return
            self.start_compensating(s, idx, "error")
            if not s.todo:
                self.finish_compensating(s)
        elif t in self.compensated_by:
            idx = self.compensated_by[t]
            s.comp_log.append(idx)
            if s.status == "compensating" and set(s.todo) <= set(s.comp_log):
                self.finish_compensating(s)
            elif s.status == "compensated":
                # A compensation seen again after the saga was settled: report the repeat.
                self.finish_compensating_again(s)

    def finish_compensating_again(self, s: SagaInstance) -> None:
        """A compensation arrived after the saga was already compensated (a duplicate)."""
        order_ok, _repeated = compensation_verdict(s.comp_log, s.outcomes)
        s.compensated_times += 1
        self.record("saga_compensated", s.sid, key=s.trigger.key, failed_step=s.failed_step, reason=s.reason,
                    order_ok=order_ok, repeated=True,
                    compensated=",".join(self.steps[i].name for i in s.comp_log))

    def _deadline(self, s: SagaInstance) -> None:
        if s.status in TERMINAL:
            return
        step = self.steps[min(s.step, len(self.steps) - 1)].name
        for i in range(len(self.steps)):
            if s.outcomes.get(i) != "completed":
                step = self.steps[i].name
                break
        self.stuck(s, step, "deadline")
