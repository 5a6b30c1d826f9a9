"""Request-response: correlation, timeouts, retries, fallbacks, late replies, an idempotent responder."""

from __future__ import annotations

from collections import Counter

from .helpers import check, kinds, run

# 30 requests over 3 s; pricing takes 20 ms, except between 1 s and 2 s when it is 10x slower
# than that, which is past the 100 ms timeout.
REQUEST_REPLY = """
evtool: "1"
id: rr-test
run: {seed: 7, duration: 4s, drain: {max: 10s}}
channels:
  pricing.requests: {kind: queue}
patterns:
  quote:
    type: request_reply
    channel: pricing.requests
    requester:
      name: web
      instances: 2
      arrival: {process: constant, rate: 10/s}
      count: 30
      message: QuoteRequested
      payload: {request_id: "r-{{ n }}", sku: a}
      timeout: 100ms
      retry: {max_attempts: 2, backoff: {type: constant, delay: 20ms}, on_exhausted: fallback}
    responder:
      name: pricing
      instances: 2
      concurrency: 4
      message: QuoteReplied
      processing: 20ms
      idempotency: {key: msg.payload.request_id, window: 1m, cache_reply: true}
faults:
  - {name: slow, at: 1s, for: 1s, action: slow, target: consumer:pricing, latency_factor: 10}
expect:
  - {name: outcomes, check: request_outcomes, pattern: quote}
  - {name: correlated, check: correlation, pattern: quote}
  - {name: bounded, that: "max(request.latency{pattern=quote}) < 250ms"}
  - {name: late, that: "count(reply_orphaned{pattern=quote}) > 0"}
  - {name: cached, that: "count(handled{consumer=pricing, duplicate=true}) > 0"}
"""


def outcomes(events) -> Counter:
    """request_id -> how many final outcomes it got."""
    final = ("reply_received", "request_fell_back")
    return Counter(e.data["request_id"] for e in events if e.kind in final and e.actor == "quote")


def test_every_request_has_exactly_one_outcome() -> None:
    """30 requests, 30 outcomes, one each; the pattern's checks pass."""
    engine, events, outcome = run(REQUEST_REPLY)
    firsts = [e for e in kinds(events, "request_sent", "quote") if e.data["attempt"] == 1]
    assert len(firsts) == 30
    got = outcomes(events)
    assert len(got) == 30 and set(got.values()) == {1}
    for name in ("outcomes", "correlated", "bounded", "late", "cached"):
        assert check(outcome, name)["status"] == "pass", check(outcome, name)
    assert engine.patterns[0].idle()
    assert outcome.drain == "complete"


def test_fast_replies_are_received_with_latency_from_the_first_send() -> None:
    """Before the slowdown each request is answered once, after 20 ms, on its first attempt."""
    _, events, _ = run(REQUEST_REPLY)
    early = [e for e in kinds(events, "reply_received", "quote") if e.t < 1_000_000_000]
    assert early and all(e.data["latency"] == 20_000_000 and e.data["attempt"] == 1 for e in early)
    assert all(e.data["ok"] and not e.data["mismatch"] for e in early)


def test_timeouts_retry_with_a_new_correlation_id_and_late_replies_are_orphans() -> None:
    """A timed-out request is retried with a new correlation id; its first reply arrives late."""
    _, events, _ = run(REQUEST_REPLY)
    timed_out = kinds(events, "request_timed_out", "quote")
    assert timed_out
    rid = timed_out[0].data["request_id"]
    sent = [e for e in kinds(events, "request_sent", "quote") if e.data["request_id"] == rid]
    assert [e.data["attempt"] for e in sent] == [1, 2]
    assert sent[0].data["correlation_id"] != sent[1].data["correlation_id"]
    late = [e for e in kinds(events, "reply_orphaned", "quote") if e.data["correlation_id"] ==
            sent[0].data["correlation_id"]]
    assert late and late[0].data["reason"] == "late"
    assert late[0].t > timed_out[0].t


def test_retry_reaches_the_idempotent_responder_which_answers_from_its_cache() -> None:
    """The retried request is a duplicate for pricing: handled{duplicate} and no second pricing."""
    engine, events, _ = run(REQUEST_REPLY)
    dups = [e for e in kinds(events, "handled", "pricing") if e.data.get("duplicate")]
    assert dups
    real = [e for e in kinds(events, "handled", "pricing") if not e.data.get("duplicate")]
    assert len(real) == 30, "each request_id is priced once"
    assert engine.consumers["pricing"].spec.idempotency is not None


def test_without_a_reply_cache_the_duplicate_goes_unanswered_and_falls_back() -> None:
    """Dedup without a reply cache: the retry gets no reply, so slow-window requests fall back."""
    _, events, outcome = run(REQUEST_REPLY, {"patterns.quote.responder.idempotency.cache_reply": False})
    assert kinds(events, "request_fell_back", "quote")
    assert check(outcome, "outcomes")["status"] == "pass"


def test_without_idempotency_a_retry_is_priced_again() -> None:
    """Remove the idempotency store: retries redo the work."""
    _, events, _ = run(REQUEST_REPLY, {"patterns.quote.responder.idempotency": "off"})
    real = [e for e in kinds(events, "handled", "pricing") if not e.data.get("duplicate")]
    assert len(real) > 30


def test_exhausted_attempts_fall_back_or_error() -> None:
    """A single attempt: slow-window requests fall back; with on_exhausted: error the outcome says error."""
    _, events, _ = run(REQUEST_REPLY, {"patterns.quote.requester.retry.max_attempts": 1})
    fell = kinds(events, "request_fell_back", "quote")
    assert fell and {e.data["outcome"] for e in fell} == {"fallback"}
    _, events, _ = run(REQUEST_REPLY, {"patterns.quote.requester.retry.max_attempts": 1,
                                       "patterns.quote.requester.retry.on_exhausted": "error"})
    assert {e.data["outcome"] for e in kinds(events, "request_fell_back", "quote")} == {"error"}


def test_error_replies_are_outcomes_too() -> None:
    """A responder that fails with reply_with_error answers ok=false; the request still has one outcome."""
    _, events, outcome = run(REQUEST_REPLY, {"patterns.quote.responder.fail_if": [
        {"when": "msg.payload.request_id == 'r-3'", "error": "PricingError", "reply_with_error": True}]})
    errors = [e for e in kinds(events, "reply_received", "quote") if not e.data["ok"]]
    assert [(e.data["request_id"], e.data["error"]) for e in errors] == [("r-3", "PricingError")]
    assert check(outcome, "outcomes")["status"] == "pass"


def test_same_correlation_id_across_attempts_accepts_the_stale_reply() -> None:
    """Reusing the correlation id: the first attempt's late reply is taken as the answer to the second."""
    _, events, _ = run(REQUEST_REPLY, {"patterns.quote.requester.new_correlation_id_per_attempt": False})
    retried = {e.data["request_id"] for e in kinds(events, "request_sent", "quote") if e.data["attempt"] == 2}
    sent = {e.data["request_id"]: e for e in kinds(events, "request_sent", "quote") if e.data["attempt"] == 1}
    answered = [e for e in kinds(events, "reply_received", "quote") if e.data["request_id"] in retried]
    assert answered
    assert all(e.data["correlation_id"] == sent[e.data["request_id"]].data["correlation_id"] for e in answered)


def test_shared_reply_queue_sends_replies_to_the_wrong_instance() -> None:
    """One reply queue for both requester instances: some replies reach the instance that did not ask."""
    _, events, outcome = run(REQUEST_REPLY, {"patterns.quote.reply_to": "shared_reply_queue"})
    wrong = [e for e in kinds(events, "reply_orphaned", "quote") if e.data["reason"] == "wrong_instance"]
    assert wrong
    assert check(outcome, "outcomes")["status"] == "pass"


def test_responder_is_a_consumer_faults_can_target() -> None:
    """`consumer:pricing#0` crashes the responder's instance 0; the requests still all end."""
    text = REQUEST_REPLY.replace("faults:\n", "faults:\n  - {at: 500ms, action: crash, target: 'consumer:pricing#0', "
                                                 "restart_after: 1s}\n")
    engine, events, outcome = run(text)
    crashed = kinds(events, "instance_crashed", "pricing")
    assert [e.instance for e in crashed] == [0]
    assert check(outcome, "outcomes")["status"] == "pass"
    assert "pricing" in outcome.summary["consumers"]


def test_inboxes_reopen_after_a_broker_restart() -> None:
    """A broker restart closes every subscription; `reconnect()` reopens the pattern's inboxes."""
    from evtool.scenario.loader import load_text
    from evtool.sim.engine import Engine

    engine = Engine(load_text(REQUEST_REPLY, "rr.yaml"))
    engine.run_until(500_000_000)
    pattern = engine.patterns[0]
    before = [inbox.sub for inbox in pattern.inboxes]
    engine.broker.restart(engine.now)
    pattern.reconnect()
    after = [inbox.sub for inbox in pattern.inboxes]
    assert all(a != b for a, b in zip(before, after, strict=True))
    assert all(engine.broker.subscriber(s) is not None and s in engine.subscribers for s in after)
    pattern.reconnect()
    assert [inbox.sub for inbox in pattern.inboxes] == after, "open inboxes are left alone"
