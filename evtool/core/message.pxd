# Cython declarations for the compiled build (setup.py): the .py beside it is the source.
# Every attribute is a Python object, so the compiled classes behave as the pure ones do.

cdef class DeathRecord:
    cdef public object channel, reason, count, first_time, last_time, key


cdef class Message:
    cdef public object id, channel, key, headers, payload, type
    cdef public object version, published_at, seq, causation_id, correlation_id, tag
    cdef public object producer, reply_to, ttl_ns, deaths, dedup_id
