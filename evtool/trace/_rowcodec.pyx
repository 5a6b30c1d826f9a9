# cython: language_level=3, boundscheck=False, wraparound=False
"""The optional compiled encoder of trace rows: byte for byte what `marshal.dumps(rows, 2)[5:]` writes.

Built by `pip install .` where a C compiler is found (setup.py); without it `evtool.trace.digest`
uses `marshal` itself. It writes the marshal version 2 encoding of the value types trace rows hold
(None, booleans, ints, strings, tuples, lists, dicts) straight into one buffer, where `marshal` pays a
generic dispatch and a temporary UTF-8 object per string. A row holding anything else (a float, bytes, a
set ...) is encoded by `marshal.dumps` itself, so the output never differs, only the speed.
tests/trace/test_rowcodec.py compares the two on every lesson's trace and on odd values.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_Clear


from cpython.object cimport PyObject, PyTypeObject


cdef extern from "Python.h":
    PyTypeObject PyUnicode_Type
    PyTypeObject PyLong_Type
    PyTypeObject* Py_TYPE(PyObject* o)
    long long PyLong_AsLongLongAndOverflow(object v, int* overflow) except? -1
    const char* PyUnicode_AsUTF8AndSize(object unicode, Py_ssize_t* size)
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyTuple_GET_SIZE(object p)
    void* PyTuple_GET_ITEM(object p, Py_ssize_t pos)
    unsigned int PyUnicode_CHECK_INTERNED(object o)
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy

import marshal

cdef struct Buf:
    char* data
    Py_ssize_t n
    Py_ssize_t cap


cdef int _grow(Buf* b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap = b.cap
    cdef char* p
    if b.n + extra <= cap:
        return 0
    while cap < b.n + extra:
        cap = cap * 2 + 64
    p = <char*>realloc(b.data, cap)
    if p == NULL:
        raise MemoryError()
    b.data = p
    b.cap = cap
    return 0


cdef inline int _byte(Buf* b, char c) except -1:
    if b.n + 1 > b.cap:
        _grow(b, 1)
    b.data[b.n] = c
    b.n += 1
    return 0


cdef inline int _i32(Buf* b, long long v) except -1:
    cdef unsigned int u = <unsigned int>(<int>v)
    if b.n + 4 > b.cap:
        _grow(b, 4)
    b.data[b.n] = <char>(u & 0xff)
    b.data[b.n + 1] = <char>((u >> 8) & 0xff)
    b.data[b.n + 2] = <char>((u >> 16) & 0xff)
    b.data[b.n + 3] = <char>((u >> 24) & 0xff)
    b.n += 4
    return 0


cdef inline int _raw(Buf* b, const char* s, Py_ssize_t n) except -1:
    if b.n + n > b.cap:
        _grow(b, n)
    memcpy(b.data + b.n, s, n)
    b.n += n
    return 0


cdef int _long(Buf* b, long long x) except -1:
    """TYPE_LONG of `x` (a 64-bit value beyond 32 bits, not the smallest one): the magnitude in 15-bit digits,
    least significant first, the count signed."""
    cdef unsigned long long u = <unsigned long long>(-x if x < 0 else x)
    cdef unsigned long long w = u
    cdef int digits = 0
    cdef int i
    cdef char* p
    while w != 0:
        digits += 1
        w >>= 15
    if b.n + 5 + 2 * digits > b.cap:
        _grow(b, 5 + 2 * digits)
    p = b.data + b.n
    p[0] = b'l'
    b.n += 1
    _i32(b, -digits if x < 0 else digits)
    p = b.data + b.n
    for i in range(digits):
        p[2 * i] = <char>((u >> (15 * i)) & 0xff)
        p[2 * i + 1] = <char>(((u >> (15 * i)) & 0x7fff) >> 8)
    b.n += 2 * digits
    return 0


cdef int _obj(Buf* b, object v) except -1:
    """Encode `v`; 0 when done, 1 when `v` holds a type this encoder leaves to marshal."""
    cdef long long x
    cdef int overflow = 0
    cdef Py_ssize_t size
    cdef object t = type(v)
    cdef const char* s
    if v is None:
        return _byte(b, b'N')
    if v is True:
        return _byte(b, b'T')
    if v is False:
        return _byte(b, b'F')
    if t is str:
        # the string's own UTF-8 form (an ASCII string's data itself: nothing is allocated); a string with
        # lone surrogates has none, and marshal's "surrogatepass" encoding is left to marshal
        s = PyUnicode_AsUTF8AndSize(v, &size)
        if s == NULL:
            PyErr_Clear()
            return 1
        if size > 0x7fffffff:
            return 1
        _byte(b, b'u')
        _i32(b, size)
        return _raw(b, s, size)
    if t is int:
        x = PyLong_AsLongLongAndOverflow(v, &overflow)
        if overflow or x == -0x7fffffffffffffff - 1:
            return 1
        if -0x80000000 <= x <= 0x7fffffff:
            _byte(b, b'i')
            return _i32(b, x)
        return _long(b, x)
    if t is tuple or t is list:
        size = len(v)
        if size > 0x7fffffff:
            return 1
        _byte(b, b'(' if t is tuple else b'[')
        _i32(b, size)
        if t is tuple:
            for item in <tuple>v:
                if _obj(b, item):
                    return 1
        else:
            for item in <list>v:
                if _obj(b, item):
                    return 1
        return 0
    if t is dict:
        _byte(b, b'{')
        for key, value in (<dict>v).items():
            if _obj(b, key) or _obj(b, value):
                return 1
        return _byte(b, b'0')
    return 1


cdef int _row(Buf* b, object row) except -1:
    """`_obj` of one row (a tuple, or a TraceEvent: the tuple of its fields), with the common fields (None, ASCII
    strings, 32-bit ints) written here rather than through a call each; the bytes are the same. The fields are
    read as borrowed pointers (the row holds them): no reference is taken or dropped for a field written here."""
    cdef Py_ssize_t size = PyTuple_GET_SIZE(row)
    cdef Py_ssize_t i, n
    cdef PyObject* item
    cdef PyTypeObject* t
    cdef long long x
    cdef int overflow
    cdef unsigned int u
    cdef char* p
    if size > 0x7fffffff:
        return 1
    # room for the header and for each field's type byte and 4-byte length or value; a string's bytes are
    # made room for as they come
    if b.n + 5 + 5 * size > b.cap:
        _grow(b, 5 + 5 * size)
    b.data[b.n] = b'('
    b.n += 1
    _i32(b, size)
    for i in range(size):
        item = <PyObject*>PyTuple_GET_ITEM(row, i)
        if item == <PyObject*>None:
            b.data[b.n] = b'N'
            b.n += 1
            continue
        t = Py_TYPE(item)
        if t == &PyUnicode_Type and PyUnicode_IS_COMPACT_ASCII(<object>item):
            n = PyUnicode_GET_LENGTH(<object>item)
            if n <= 0x7fffffff:
                if b.n + 5 + n + 5 * (size - i) > b.cap:
                    _grow(b, 5 + n + 5 * (size - i))
                p = b.data + b.n
                u = <unsigned int>n
                p[0] = b'u'
                p[1] = <char>(u & 0xff)
                p[2] = <char>((u >> 8) & 0xff)
                p[3] = <char>((u >> 16) & 0xff)
                p[4] = <char>((u >> 24) & 0xff)
                memcpy(p + 5, PyUnicode_DATA(<object>item), n)
                b.n += 5 + n
                continue
        elif t == &PyLong_Type:
            overflow = 0
            x = PyLong_AsLongLongAndOverflow(<object>item, &overflow)
            if not overflow and -0x80000000 <= x <= 0x7fffffff:
                p = b.data + b.n
                u = <unsigned int>(<int>x)
                p[0] = b'i'
                p[1] = <char>(u & 0xff)
                p[2] = <char>((u >> 8) & 0xff)
                p[3] = <char>((u >> 16) & 0xff)
                p[4] = <char>((u >> 24) & 0xff)
                b.n += 5
                continue
            if not overflow and x != -0x7fffffffffffffff - 1:  # a time in ns past 2.1 s: TYPE_LONG, here
                _long(b, x)
                if b.n + 5 * (size - i) > b.cap:
                    _grow(b, 5 * (size - i))
                continue
        if _obj(b, <object>item):
            return 1
        # (whatever `_obj` wrote, the fields after this one have their room again)
        if b.n + 5 * (size - i) > b.cap:
            _grow(b, 5 * (size - i))
    return 0


cdef inline bint _has_kind(object row, object kind):
    """Whether the row's field 1 (a trace event's kind) is the string `kind`: one pointer comparison for the
    usual case, where both are the same interned string; two interned strings that are not one object
    differ; anything else is compared in full."""
    cdef PyObject* item
    if PyTuple_GET_SIZE(row) < 2:
        return False
    item = <PyObject*>PyTuple_GET_ITEM(row, 1)
    if item == <PyObject*>kind:
        return True
    if Py_TYPE(item) != &PyUnicode_Type:
        return <object>item == kind
    if PyUnicode_CHECK_INTERNED(<object>item) and PyUnicode_CHECK_INTERNED(kind):
        return False
    return <object>item == kind


def encode_rows(rows, kind=None):
    """`marshal.dumps(list(rows), 2)[5:]`: each row (a tuple) encoded in turn, without the list header; a
    row may also be a tuple subclass (a TraceEvent), encoded as the plain tuple of its fields.

    With `kind` (a string): the bytes and how many rows have it as their field 1, counted on the way (the
    recorder keeps each chunk's count of `published` events; counting them again costs it more than this).
    """
    cdef Buf b
    cdef Py_ssize_t start
    cdef Py_ssize_t counted = 0
    cdef bint counting = kind is not None
    cdef bytes out
    if counting and type(kind) is not str:
        raise TypeError("kind must be a string")
    b.data = <char*>malloc(4096)
    if b.data == NULL:
        raise MemoryError()
    b.n = 0
    b.cap = 4096
    try:
        for row in rows:
            start = b.n
            if not isinstance(row, tuple) or _row(&b, row):
                b.n = start
                # (a TraceEvent is encoded as the plain tuple of its fields, which marshal needs)
                enc = marshal.dumps(tuple(row) if isinstance(row, tuple) else row, 2)
                _raw(&b, PyBytes_AS_STRING(enc), PyBytes_GET_SIZE(enc))
            if counting and isinstance(row, tuple) and _has_kind(row, kind):
                counted += 1
        out = PyBytes_FromStringAndSize(b.data, b.n)
    finally:
        free(b.data)
    if counting:
        return out, counted
    return out
