# Cython declarations for the compiled build (setup.py): the .py beside it is the source.
# Every attribute is a Python object, so the compiled classes behave as the pure ones do.

cdef class Delivery:
    cdef public object tag, sub, msg, attempt, channel, partition
    cdef public object offset, lease_deadline, count, redelivered
