# Cython declarations for the compiled build (setup.py): the .py beside it is the source.
# Every attribute is a Python object, so the compiled class behaves as the pure one does.

cdef class Kernel:
    cdef public object _heap, _seq, now, processed
