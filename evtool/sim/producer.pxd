# Cython declarations for the compiled build (setup.py): the .py beside it is the source.
# Every attribute is a Python object, so the compiled class behaves as the pure one does.

from evtool.core.message cimport Message
from evtool.sim.context cimport ActorContext
from evtool.sim.kernel cimport Kernel


cdef class ProducerActor:
    cdef dict __dict__  # attributes not declared here (subclasses, patterns) live in it
    cdef public object _arrive_fn, _constant_gap, _count, _dedup, _fixed, _id_prefix, _payload
    cdef public object _publish, _sequence, _simple, _tag, _to, _ttl
    cdef public object _type, _version, arrival_rng, burst_left, ctx, instance
    cdef public object key_rng, keys, name, payload_rng, rejected, render
    cdef public object render_headers, render_routing, sent, seq_by_key, spec, stage_end
    cdef public object stage_index, static_payload, stop_at, stopped
