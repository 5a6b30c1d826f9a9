"""Request-response over two one-way channels: correlation ids, reply-to, timeouts, late replies.

The requester sends each request with a correlation id and a reply-to
inbox, waits up to `timeout`, retries by its retry policy (a new
correlation id per attempt unless told otherwise; the `request_id` stays
the same), and falls back when the attempts run out. The responder is an
ordinary consumer (it can be crashed, paused and slowed by name); it
answers to `reply_to` with the request's correlation id, and with an
idempotency store it answers a repeated `request_id` without redoing the
work (`handled{duplicate=true}`), from its reply cache when `cache_reply`.

A reply whose correlation id nobody waits for any more is a late reply: it
is counted (`reply_orphaned`) and dropped.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from evtool.core.delivery import Delivery
from evtool.core.message import Message
from evtool.core.retry import RetryPolicy as CoreRetry
from evtool.scenario import models as m
from evtool.sim.consumer import ConsumerActor, Instance, core_retry
from evtool.sim.kernel import PRIO_ACTOR
from evtool.sim.patterns.base import PatternActor
from evtool.sim.producer import ProducerActor

if TYPE_CHECKING:
    from evtool.sim.context import ActorContext

TIMEOUT_ERROR = "Timeout"


def inbox_names(name: str, spec: m.RequestReplyPattern) -> list[str]:
    """The private reply queues of request-reply pattern `name`: one shared by every requester instance, or
    one inbox per instance."""
    req = spec.requester
    if spec.reply_to == "shared_reply_queue":
        return [f"{name}.{req.name}.replies"]
    return [f"{name}.{req.name}#{i}.inbox" for i in range(req.instances)]


class Request:
    """One logical request (a stable request_id) across its attempts."""

    __slots__ = ("request_id", "n", "instance", "payload", "first_sent", "attempt", "correlation_id",
                 "msg_id", "prev_delay", "status")

    def __init__(self, request_id: str, n: int, instance: int, payload: Any, first_sent: int) -> None:
        self.request_id = request_id
        self.n = n
        self.instance = instance
        self.payload = payload
        self.first_sent = first_sent
        self.attempt = 0
        self.correlation_id = ""
        self.msg_id = ""
        self.prev_delay: int | None = None
        self.status = "waiting"  # waiting | backoff | done


class ResponderActor(ConsumerActor):
    """The responder: a consumer that replies to `reply_to`, from its reply cache for repeated requests."""

    def __init__(self, ctx: ActorContext, pattern: RequestReplyActor, spec: m.Consumer,
                 responder: m.Responder) -> None:
        super().__init__(ctx, responder.name, spec)
        self.pattern = pattern
        self.reply_type = responder.message
        self.cache_reply = responder.idempotency is not None and responder.idempotency.cache_reply
        self.sent_replies = 0

    def _settle_ok(self, inst: Instance, d: Delivery, msg: Message, env: dict[str, Any] | None,
                   *, duplicate: bool) -> None:
        # A repeated request is answered only from a reply cache; without one the caller hears nothing.
        if not duplicate or self.cache_reply:
            self.send_reply(msg, ok=True, error=None, cached=duplicate)
        super()._settle_ok(inst, d, msg, env, duplicate=duplicate)

    def _fail(self, inst: Instance, d: Delivery, msg: Message, error: str, retryable: bool, attempt: int,
              detail: str | None, reply_with_error: bool, *rest: Any, **kw: Any) -> bool:
        # `rest`/`kw` pass through whatever else the consumer's own _fail takes (batch handling).
        keep = super()._fail(inst, d, msg, error, retryable, attempt, detail, reply_with_error, *rest, **kw)
        if reply_with_error or not retryable:
            self.send_reply(msg, ok=False, error=error, cached=False)
        return keep

    def send_reply(self, request: Message, *, ok: bool, error: str | None, cached: bool) -> None:
        """Publish the reply to the request's reply_to inbox with its correlation id."""
        if not request.reply_to:
            return
        ctx = self.ctx
        self.sent_replies += 1
        payload = request.payload if isinstance(request.payload, dict) else {}
        out = request.follow_up(
            f"{self.name}-reply-{self.sent_replies}", request.reply_to, producer=self.name, now=ctx.now,
            type=self.reply_type, headers={"cached": "true"} if cached else None,
            payload={"ok": ok, "error": error, "request_id": payload.get("request_id"), "request": request.payload},
        )
        ctx.publish(request.reply_to, out, producer=self.name)


class RequesterLoad(ProducerActor):
    """The requester's arrival process; each arrival becomes a new request of the pattern."""

    def __init__(self, ctx: ActorContext, pattern: RequestReplyActor, spec: m.Producer) -> None:
        super().__init__(ctx, pattern.spec.requester.name, spec)
        self.pattern = pattern

    def publish_one(self, *, payload: Any = None, tag: str | None = None, key: str | None = None,
                    msg_id: str | None = None, headers: dict[str, Any] | None = None) -> None:
        """Render one request payload and hand it to the pattern."""
        ctx = self.ctx
        self.sent += 1
        if payload is None and self.static_payload:
            payload = dict(self.spec.payload)
        elif payload is None:
            env = {"key": key, "seq": 0, "n": self.sent, "now": ctx.now, "producer": self.name,
                   "instance": 0, "params": ctx.params, "tag": tag, "msg": None}
            payload = self.render(env, self.payload_rng)
        self.pattern.new_request(self.sent, payload)


class RequestReplyActor(PatternActor):
    """The request-reply pattern: requester state machine plus a responder consumer."""

    def __init__(self, ctx: ActorContext, name: str, spec: m.RequestReplyPattern) -> None:
        super().__init__(ctx, name)
        self.spec = spec
        req = spec.requester
        self.requester = req.name
        self.retry: CoreRetry | None = core_retry(req.retry) if req.retry is not None else None
        self.max_attempts = 1 if self.retry is None else self.retry.max_attempts
        self.on_exhausted = req.retry.on_exhausted if req.retry is not None else "fallback"
        self.rng: random.Random = ctx.stream(f"pattern:{name}/retry")
        self.requests: dict[str, Request] = {}       # request_id -> open request
        self.pending: dict[str, Request] = {}        # correlation id -> request waiting on it
        self.answered: dict[str, str] = {}           # correlation id -> why nobody waits (timed_out, ...)
        self.inbox_names = inbox_names(name, spec)
        for ch in self.inbox_names:
            self.declare_queue(ch)
        self.state.update(sent=0, attempts=0, replied=0, errors=0, timed_out=0, orphaned=0, fell_back=0,
                          retried=0, open=0)
        load = m.Producer.model_validate({
            "to": spec.channel, "message": req.message, "arrival": req.arrival, "count": req.count,
            "payload": req.payload, "instances": req.instances,
        })
        self.load = RequesterLoad(ctx, self, load)
        resp = spec.responder
        consumer = m.Consumer.model_validate({
            "from": spec.channel, "instances": resp.instances, "concurrency": resp.concurrency,
            "fail_if": resp.fail_if, "idempotency": resp.idempotency,
        }).model_copy(update={"processing": resp.processing})  # already parsed: no second validation
        self.responder = ResponderActor(ctx, self, consumer, resp)
        if resp.name in ctx.consumers:
            raise ValueError(f"pattern {name}: responder {resp.name!r} clashes with a consumer of that name")
        # Registered as a consumer so faults (`consumer:pricing#0`), assertions and the views find it;
        # the engine starts every consumer before the patterns.
        ctx.consumers[resp.name] = self.responder

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Open the reply inboxes and start the requester's arrivals."""
        if self.spec.reply_to == "shared_reply_queue":
            # Every requester instance competes on one reply queue: a reply may reach the wrong instance.
            for i in range(self.spec.requester.instances):
                self.listen(self.inbox_names[0], self._reply_handler(i), instance=i).open()
        else:
            for i, ch in enumerate(self.inbox_names):
                self.listen(ch, self._reply_handler(i), instance=i).open()
        self.load.start()

    def idle(self) -> bool:
        """True when every request has an outcome."""
        return not self.requests

    def arrivals_pending(self) -> bool:
        """True until the requester's arrivals have stopped."""
        return not self.load.stopped

    # ------------------------------------------------------------------ requesting

    def new_request(self, n: int, payload: Any) -> None:
        """A new logical request: number `n`, rendered `payload`."""
        if not isinstance(payload, dict):
            payload = {"value": payload}
        request_id = str(payload.get("request_id") or f"{self.requester}-{n}")
        if request_id in self.requests:
            request_id = f"{request_id}~{n}"  # an id template that repeats must not merge two requests
        instance = (n - 1) % self.spec.requester.instances
        req = Request(request_id, n, instance, payload, self.ctx.now)
        self.requests[request_id] = req
        self.bump("sent")
        self.state["open"] = len(self.requests)
        self._send(req)

    def _send(self, req: Request) -> None:
        ctx = self.ctx
        req.attempt += 1
        req.status = "waiting"
        first = req.attempt == 1
        if first or self.spec.requester.new_correlation_id_per_attempt:
            req.correlation_id = f"{req.request_id}/{req.attempt}"
        previous = req.msg_id or None
        req.msg_id = f"{self.requester}-{req.n}" + ("" if first else f"-a{req.attempt}")
        inbox = self.inbox_names[0] if len(self.inbox_names) == 1 else self.inbox_names[req.instance]
        msg = Message(
            id=req.msg_id, channel=self.spec.channel, key=req.request_id, headers={"request_id": req.request_id},
            payload=req.payload, type=self.spec.requester.message, version=1, published_at=ctx.now, seq=0,
            causation_id=previous or req.request_id, correlation_id=req.correlation_id, tag=None,
            producer=self.requester, reply_to=inbox,
        )
        self.pending[req.correlation_id] = req
        self.bump("attempts")
        self.record("request_sent", req.msg_id, channel=self.spec.channel, key=req.request_id,
                    attempt=req.attempt, instance=req.instance, request_id=req.request_id,
                    correlation_id=req.correlation_id, reply_to=inbox)
        ctx.kernel.at(ctx.now + self.spec.requester.timeout, self._timeout, (req, req.attempt), PRIO_ACTOR)
        ctx.publish(self.spec.channel, msg, producer=self.requester)

    def _timeout(self, item: tuple[Request, int]) -> None:
        req, attempt = item
        if req.status != "waiting" or req.attempt != attempt:
            return
        self.pending.pop(req.correlation_id, None)
        self.answered[req.correlation_id] = "timed_out"
        self.bump("timed_out")
        self.record("request_timed_out", req.msg_id, channel=self.spec.channel, key=req.request_id,
                    attempt=attempt, instance=req.instance, request_id=req.request_id,
                    correlation_id=req.correlation_id, waited=self.spec.requester.timeout)
        if self.retry is not None:
            decision = self.retry.decide(attempt, TIMEOUT_ERROR, True, self.rng, req.prev_delay)
            if decision.retry:
                req.status = "backoff"
                req.prev_delay = decision.delay_ns
                self.bump("retried")
                self.record("retry_scheduled", req.msg_id, channel=self.spec.channel, key=req.request_id,
                            attempt=attempt, instance=req.instance, request_id=req.request_id,
                            delay=decision.delay_ns, mode="republish")
                self.ctx.kernel.at(self.ctx.now + decision.delay_ns, self._retry, req, PRIO_ACTOR)
                return
        self._give_up(req, "timeout")

    def _retry(self, req: Request) -> None:
        if req.status == "backoff":
            self._send(req)

    def _give_up(self, req: Request, reason: str) -> None:
        # `on_exhausted: error` surfaces an error to the caller; `fallback` answers with a default.
        # Both are the request's final outcome; data.outcome tells them apart.
        outcome = "error" if self.on_exhausted == "error" else "fallback"
        if outcome == "error":
            self.bump("errors")
        else:
            self.bump("fell_back")
        self.record("request_fell_back", req.msg_id, channel=self.spec.channel, key=req.request_id,
                    attempt=req.attempt, instance=req.instance, request_id=req.request_id, reason=reason,
                    outcome=outcome, latency=self.ctx.now - req.first_sent)
        self._close(req)

    def _close(self, req: Request) -> None:
        req.status = "done"
        self.requests.pop(req.request_id, None)
        self.state["open"] = len(self.requests)

    # ------------------------------------------------------------------ replies

    def _reply_handler(self, instance: int) -> Any:
        def handle(d: Delivery) -> None:
            self._on_reply(instance, d)
        return handle

    def _on_reply(self, instance: int, d: Delivery) -> None:
        msg = d.msg
        cid = msg.correlation_id or ""
        payload = msg.payload if isinstance(msg.payload, dict) else {}
        req = self.pending.get(cid)
        if req is None or req.instance != instance:
            # Nobody here waits for this correlation id: a late reply, a second reply, or (with a shared
            # reply queue) a reply that reached another requester instance.
            if req is not None:
                reason = "wrong_instance"
            else:
                reason = "late" if self.answered.get(cid) == "timed_out" else "already_answered"
            self.bump("orphaned")
            self.record("reply_orphaned", msg.id, channel=d.channel, key=msg.key, instance=instance,
                        request_id=payload.get("request_id"), correlation_id=cid, reason=reason)
            return
        del self.pending[cid]
        self.answered[cid] = "replied"
        ok = bool(payload.get("ok", True))
        # The correlation id matched; the reply must also be about this very request.
        mismatch = payload.get("request_id") not in (None, req.request_id)
        self.bump("replied" if ok else "errors")
        self.record("reply_received", msg.id, channel=d.channel, key=req.request_id, attempt=req.attempt,
                    instance=instance, request_id=req.request_id, correlation_id=cid,
                    latency=self.ctx.now - req.first_sent, ok=ok, error=payload.get("error"),
                    mismatch=mismatch)
        self._close(req)
