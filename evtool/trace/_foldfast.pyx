# cython: language_level=3, boundscheck=False, wraparound=False
"""The optional compiled folds of the run's metrics: the same results as the pure code, in one C loop.

Built by `pip install .` where a C compiler is found (setup.py); without it (or with EVTOOL_PURE=1)
`evtool.trace.histogram` and `evtool.trace.metrics` do the same with C-level `map` chains, which make a
float, a quotient and an int object per value where this makes none.
tests/trace/test_foldfast.py compares the two on every lesson's trace and on odd values.
"""

import math

from cpython.dict cimport PyDict_SetItem
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from libc.math cimport isfinite, log


cdef extern from "Python.h":
    PyObject* PyDict_GetItemWithError(object p, object key) except? NULL
    bint PyTuple_Check(object p)
    Py_ssize_t PyTuple_GET_SIZE(object p)
    PyObject* PyTuple_GET_ITEM(object p, Py_ssize_t pos)


cdef inline object _field(object row, Py_ssize_t i):
    """`row[i]`; a tuple's item read directly. A TraceEvent is a tuple subclass, whose `row[i]` in C (its
    sequence slot) goes through a Python-level `__getitem__` call: ten times the cost of the read."""
    if PyTuple_Check(row) and i < PyTuple_GET_SIZE(row):
        return <object>PyTuple_GET_ITEM(row, i)
    return row[i]


cdef enum:
    NSLOT = 32        # distinct kinds counted locally before they are added to the Counter
    NBUCKET = 256     # the local bucket table (a power of two); at most half of it is filled
    BUCKET_MASK = NBUCKET - 1


cdef int _add_count(object counts, object key, Py_ssize_t n) except -1:
    """`counts[key] = counts.get(key, 0) + n` with the dict's own calls (a Counter overrides neither)."""
    cdef PyObject* have = PyDict_GetItemWithError(counts, key)
    if have == NULL:
        PyDict_SetItem(counts, key, n)
    else:
        PyDict_SetItem(counts, key, <object>have + n)
    return 0


cdef struct Buckets:
    long long keys[NBUCKET]       # the table: bucket numbers
    Py_ssize_t counts[NBUCKET]
    bint used[NBUCKET]
    int order[NBUCKET]            # slots in the order their buckets first came
    int n


cdef int _flush_buckets(dict buckets, Buckets* t) except -1:
    """Add the counted buckets to `buckets` in the order they first came, and empty the table."""
    cdef int i, slot
    for i in range(t.n):
        slot = t.order[i]
        t.used[slot] = False
        _add_count(buckets, t.keys[slot], t.counts[slot])
    t.n = 0
    return 0


def add_log_buckets(dict buckets, values, double log_growth):
    """For each value (each >= 1), in order: `buckets[int(math.log(v) / log_growth)] += 1`.

    The buckets are counted in a C table and added to `buckets` in the order they first came (the order
    the one-by-one additions give), so a value makes no int object and no dict update of its own."""
    cdef double x, q
    cdef long long b
    cdef int slot
    cdef Buckets t
    t.n = 0
    for slot in range(NBUCKET):
        t.used[slot] = False
    try:
        for v in values:
            try:
                x = v
            except OverflowError:  # an int beyond a double: math.log takes it, a C double does not
                x = math.inf
            q = log(x) / log_growth
            if not isfinite(q) or q > 9.0e15:
                _flush_buckets(buckets, &t)  # (what came before goes first)
                key = int(math.log(v) / log_growth)  # what the pure code does (and the error it raises)
                buckets[key] = buckets.get(key, 0) + 1
                continue
            b = <long long>q  # truncation toward zero, as int() of a float
            slot = <int>(<unsigned long long>b & BUCKET_MASK)
            while t.used[slot] and t.keys[slot] != b:
                slot = (slot + 1) & BUCKET_MASK
            if t.used[slot]:
                t.counts[slot] += 1
                continue
            if t.n == NBUCKET // 2:  # half full: hand the counts over and start again
                _flush_buckets(buckets, &t)
                slot = <int>(<unsigned long long>b & BUCKET_MASK)
            t.used[slot] = True
            t.keys[slot] = b
            t.counts[slot] = 1
            t.order[t.n] = slot
            t.n += 1
    finally:
        _flush_buckets(buckets, &t)


def handled_values(list handled):
    """`(processing, latencies)` of `handled` rows (trace tuples or TraceEvents, field 9 the data dict), in order,
    latencies without the missing ones; None when a row has no data or no processing time (a skipped
    duplicate), for the caller to fold those rows one by one."""
    cdef list processing = []
    cdef list latencies = []
    cdef object row, data, p, lat
    for row in handled:
        data = _field(row, 9)
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


cdef int _flush_kinds(object counts, PyObject** keys, Py_ssize_t* n_of, int n) except -1:
    """Add the locally counted kinds to `counts` in the order they first came, releasing each key."""
    cdef int i
    cdef object key
    try:
        for i in range(n):
            key = <object>keys[i]
            _add_count(counts, key, n_of[i])
    finally:
        for i in range(n):
            Py_DECREF(<object>keys[i])
    return 0


def fold_kinds(batch, object counts, str measured, frozenset others):
    """Count each row's kind (field 1) into `counts`, in order (what `collections.Counter.update` does), and
    return the rows of kind `measured` and those of a kind in `others`, each in order.

    A batch holds a handful of kinds, each object the same string over and over: they are counted in a
    small C table, looked up by identity (an equal key of another identity takes a slot of its own and adds
    to the same entry), and added to `counts` at the end in the order they first came: the same counts, in
    the same order, as counting one by one."""
    cdef list picked = []
    cdef list other = []
    cdef object row, kind
    cdef PyObject* keys[NSLOT]
    cdef Py_ssize_t n_of[NSLOT]
    cdef int what[NSLOT]          # 1: the measured kind, 2: one of the others, 0: neither
    cdef int n = 0
    cdef int j = 0
    cdef int w
    cdef PyObject* k
    # a Counter is a dict that overrides neither get nor item assignment: counted into with the dict's own
    # calls, as `collections._count_elements` (Counter.update) does
    try:
        for row in batch:
            kind = _field(row, 1)
            k = <PyObject*>kind
            if n == 0 or keys[j] != k:  # (most rows repeat a kind seen in the last few)
                j = 0
                while j < n and keys[j] != k:
                    j += 1
                if j == n:
                    hash(kind)  # an unhashable kind fails here, as the dict would
                    w = 1 if kind == measured else (2 if kind in others else 0)
                    if n == NSLOT:
                        n = 0  # (reset first: the keys are released even if adding them fails)
                        _flush_kinds(counts, keys, n_of, NSLOT)
                        j = 0
                    Py_INCREF(kind)
                    keys[j] = k
                    n_of[j] = 0
                    what[j] = w
                    n += 1
            n_of[j] += 1
            w = what[j]
            if w == 1:
                picked.append(row)
            elif w == 2:
                other.append(row)
    finally:
        _flush_kinds(counts, keys, n_of, n)
    return picked, other
