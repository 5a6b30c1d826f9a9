# Cython declarations for the optional compiled build (EVTOOL_COMPILE=1): the .py beside it is the source.
# Every attribute is a Python object, so the compiled class behaves as the pure one does.

from evtool.core.delivery cimport Delivery
from evtool.core.message cimport Message


cdef class Instance:
    cdef public object consumer, index, sub, state, epoch, buffer
    cdef public object busy, processed, failed, slow, extra, deferred
    cdef public object inflight, lanes, batch, batch_gen, batches
