# Cython declarations for the compiled build (setup.py): the .py beside it is the source.
# Every attribute is a Python object, so the compiled class behaves as the pure one does.

cdef class Channel:
    cdef public object name, kind, cfg, qs, topic_states, log
    cdef public object router, published, duplicates, unavailable_rejects, dedup_window, dedup_seen
    cdef public object dedup_order, content_dedup, history


cdef class BrokerState:
    cdef dict __dict__  # attributes not declared here (subclasses, patterns) live in it
    cdef public object _available, _channels, _dirty, _dl_depth, _early, _former
    cdef public object _inflight, _log_inflight, _next_sub, _next_tag, _pumping, _sink
    cdef public object _stale_settles, _subs, _timer_seq, _timers, _track_former, closed_subs
    cdef public object profile
