# Cython declarations for the compiled build (setup.py): the .py beside it is the source.
# Every attribute is a Python object, so the compiled classes behave as the pure ones do.

cdef class Entry:
    cdef public object msg, qs, pos, attempt, count, state
    cdef public object tag, sub, expires_at, deadline, group, delivered_at
    cdef public object former


cdef class Subscriber:
    cdef public object id, consumer, instance, channel, group, prefetch
    cdef public object in_flight, qs, log_group, dispatch, alive, session_timeout_ns
    cdef public object start_from


cdef class QueueState:
    cdef public object grouped, group_batch
    cdef public object channel, group, ready, returned, delayed, leases
    cdef public object late_leases, subs, dispatch_subs, rr, next_pos, ready_n
    cdef public object in_flight, delayed_n, enqueued, acked, dead, expired
    cdef public object dropped, kept, redriven, requeue_position, ack_timeout_ns, max_deliveries
    cdef public object ttl_ns, ttl_seen, capacity, overflow, dead_letter, counts_deliver
    cdef public object count_returns, at_limit, hint, durable, exclusive_sub, group_key
    cdef public object delay_seq, rejected, lease_action, nack_position, stored, expiry
    cdef public object expiry_seq, expire_anywhere, capacity_stored, overflow_dead_letters, reject_lease, reject_stays
    cdef public object reject_over, reject_resume, reject_blocked, ready_peak, expiry_none


cdef class GroupedQueueState(QueueState):
    cdef public object groups, locked, avail, avail_set
