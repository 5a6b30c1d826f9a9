# Cython declarations for the compiled build (setup.py): the .py beside it is the source.

from evtool.core.brokerstate cimport BrokerState
from evtool.sim.kernel cimport Kernel


# Every attribute is a Python object, so the compiled class behaves as the pure one does; those the event
# loop reads on every event are fields, the rest live in the instance dict.
cdef class Engine:
    cdef dict __dict__
    cdef public object phase, kernel, broker, buffer, emit, subscribers, real_broker, limits
    cdef public object _broker_timer, _wakeups, _instant, _started, _deadline, _memory
    cdef public object channel_faults, producer_faults, hop_zero, broker_up, ctx, metrics, digest, checks
    cdef public object listeners, patterns
