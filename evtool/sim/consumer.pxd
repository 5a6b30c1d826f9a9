# Cython declarations for the compiled build (setup.py): the .py beside it is the source.
# Every attribute is a Python object, so the compiled class behaves as the pure one does.

from evtool.core.delivery cimport Delivery
from evtool.core.message cimport Message
from evtool.sim.context cimport ActorContext
from evtool.sim.kernel cimport Kernel


cdef class Instance:
    cdef public object consumer, index, sub, state, epoch, buffer
    cdef public object busy, processed, failed, slow, extra, deferred
    cdef public object inflight, lanes, batch, batch_gen, batches


cdef class ConsumerActor:
    cdef dict __dict__  # attributes not declared here (subclasses, patterns) live in it
    cdef public object _ack, _auto_reply, _complete_fn, _core_kernel, _effects_read, _idem_field, _idem_reads_state, _success_env
    cdef public object attempts, auto_ack, batch_spec, behaviours, business_key, concurrency
    cdef public object ctx, default, emitted, group, handled, hooks
    cdef public object idem_key, idem_keys, idem_seen, idem_times, idem_window, instances, lane_mode
    cdef public object name, ordering, plain, prev_delay, retry, rng
    cdef public object spec, state
