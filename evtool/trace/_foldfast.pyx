# cython: language_level=3, boundscheck=False, wraparound=False
"""The optional compiled folds of the run's metrics: the same results as the pure code, in one C loop.

Built only on request (`EVTOOL_COMPILE=1 pip install .`, see setup.py); without it (or with EVTOOL_PURE=1)
`evtool.trace.histogram` and `evtool.trace.metrics` do the same with C-level `map` chains, which make a
float, a quotient and an int object per value where this makes none.
tests/trace/test_foldfast.py compares the two on every lesson's trace and on odd values.
"""

import math

from libc.math cimport isfinite, log


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
    """`(processing, latencies)` of `handled` rows (trace tuples whose field 9 is the data dict), in order,
    latencies without the missing ones; None when a row has no data or no processing time (a skipped
    duplicate), for the caller to fold those rows one by one."""
    cdef list processing = []
    cdef list latencies = []
    cdef tuple row
    cdef object data, p, lat
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
