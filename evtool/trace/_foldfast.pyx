# cython: language_level=3, boundscheck=False, wraparound=False
"""The optional compiled folds of the run's metrics: the same results as the pure code, in one C loop.

Built only on request (`EVTOOL_COMPILE=1 pip install .`, see setup.py); without it (or with EVTOOL_PURE=1)
`evtool.trace.histogram` and `evtool.trace.metrics` do the same with C-level `map` chains, which make a
float, a quotient and an int object per value where this makes none.
tests/trace/test_foldfast.py compares the two on every lesson's trace and on odd values.
"""

import math

from cpython.dict cimport PyDict_SetItem
from cpython.object cimport PyObject
from libc.math cimport isfinite, log


cdef extern from "Python.h":
    PyObject* PyDict_GetItemWithError(object p, object key) except? NULL


def add_log_buckets(dict buckets, values, double log_growth):
    """For each value (each >= 1), in order: `buckets[int(math.log(v) / log_growth)] += 1`."""
    cdef double x, q
    cdef long long b
    for v in values:
        try:
            x = v
        except OverflowError:  # an int beyond a double: math.log takes it, a C double does not
            x = math.inf
        q = log(x) / log_growth
        if not isfinite(q) or q > 9.0e15:
            key = int(math.log(v) / log_growth)  # what the pure code does (and the error it raises)
        else:
            b = <long long>q  # truncation toward zero, as int() of a float
            key = b
        buckets[key] = buckets.get(key, 0) + 1


def handled_values(list handled):
    """`(processing, latencies)` of `handled` rows (trace tuples or TraceEvents, field 9 the data dict), in order,
    latencies without the missing ones; None when a row has no data or no processing time (a skipped
    duplicate), for the caller to fold those rows one by one."""
    cdef list processing = []
    cdef list latencies = []
    cdef object row, data, p, lat
    for row in handled:
        data = row[9]
        if type(data) is not dict:
            return None
        p = (<dict>data).get("processing")
        if p is None:
            return None
        processing.append(p)
        lat = (<dict>data).get("latency")
        if lat is not None:
            latencies.append(lat)
    return processing, latencies


def fold_kinds(batch, object counts, str measured, frozenset others):
    """Count each row's kind (field 1) into `counts`, in order (what `collections.Counter.update` does), and
    return the rows of kind `measured` and those of a kind in `others`, each in order."""
    cdef list picked = []
    cdef list other = []
    cdef object row, kind
    cdef PyObject* n
    # a Counter is a dict that overrides neither get nor item assignment: counted into with the dict's own
    # calls, as `collections._count_elements` (Counter.update) does
    for row in batch:
        kind = row[1]
        n = PyDict_GetItemWithError(counts, kind)
        if n == NULL:
            PyDict_SetItem(counts, kind, 1)
        else:
            PyDict_SetItem(counts, kind, <object>n + 1)
        if kind == measured:
            picked.append(row)
        elif kind in others:
            other.append(row)
    return picked, other
