# Cython declarations for the compiled build (setup.py): the .py beside it is the source.
# Every attribute is a Python object, so the compiled class behaves as the pure one does.

cdef class ActorContext:
    cdef public object _run, broker, channel_faults, consumers, dead_letter_by_app, emit
    cdef public object fault_rng, kernel, log_processed, params, pending_work, producer_faults
    cdef public object profile, publish, reply, scenario, stream, subscribers
