/*
 * urlparse.c — Python bindings of url.c: query strings, urlencoded forms,
 * percent-decoding and Cookie headers, turned into Python objects. Cookie
 * values are not percent-decoded (as in Starlette); header bytes are latin-1.
 * Decoded bytes become str as UTF-8 with U+FFFD for invalid sequences (as
 * urllib.parse does); the decoding itself is url.c's, the project's one
 * percent-decoder.
 */
#include "pymod.h"

#include "url.h"

#define STACK_BYTES 256

PyObject *pn_url_decode_str(const pn_slice_t s, int plus)
{
    char stackbuf[STACK_BYTES];
    char *out = s.len <= sizeof(stackbuf) ? stackbuf : PyMem_Malloc(s.len);
    if (out == NULL) {
        return PyErr_NoMemory();
    }
    size_t n = plus ? pn_url_unquote_plus(s.base, s.len, out) : pn_url_unquote(s.base, s.len, out);
    PyObject *r = PyUnicode_DecodeUTF8(out, (Py_ssize_t)n, "replace");
    if (out != stackbuf) {
        PyMem_Free(out);
    }
    return r;
}

/* Accept bytes or str (str must be ASCII-compatible latin-1). */
static int get_bytes(PyObject *o, PyObject **owner, pn_slice_t *s)
{
    if (PyBytes_Check(o)) {
        *owner = Py_NewRef(o);
    } else if (PyUnicode_Check(o)) {
        *owner = PyUnicode_AsUTF8String(o);
        if (*owner == NULL) {
            return -1;
        }
    } else {
        PyErr_Format(PyExc_TypeError, "expected bytes or str, got %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    s->base = PyBytes_AS_STRING(*owner);
    s->len = (size_t)PyBytes_GET_SIZE(*owner);
    return 0;
}

PyObject *pn_py_parse_query(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "max_fields", NULL};
    PyObject *data, *owner;
    Py_ssize_t max_fields = 1000;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$n", kwlist, &data, &max_fields)) {
        return NULL;
    }
    pn_slice_t s;
    if (get_bytes(data, &owner, &s) < 0) {
        return NULL;
    }
    PyObject *list = PyList_New(0);
    size_t pos = 0;
    pn_slice_t name, value;
    while (list != NULL && pn_url_next_field(s.base, s.len, &pos, &name, &value)) {
        if (PyList_GET_SIZE(list) >= max_fields) {
            PyErr_Format(PyExc_ValueError, "more than %zd fields", max_fields);
            Py_CLEAR(list);
            break;
        }
        PyObject *k = pn_url_decode_str(name, 1);
        PyObject *v = k ? pn_url_decode_str(value, 1) : NULL;
        PyObject *t = v ? PyTuple_Pack(2, k, v) : NULL;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (t == NULL || PyList_Append(list, t) < 0) {
            Py_XDECREF(t);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(t);
    }
    Py_DECREF(owner);
    return list;
}

PyObject *pn_py_unquote(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "plus", NULL};
    PyObject *data, *owner;
    int plus = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$p", kwlist, &data, &plus)) {
        return NULL;
    }
    pn_slice_t s;
    if (get_bytes(data, &owner, &s) < 0) {
        return NULL;
    }
    PyObject *r = pn_url_decode_str(s, plus);
    Py_DECREF(owner);
    return r;
}

PyObject *pn_py_parse_cookies(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "max_cookies", NULL};
    PyObject *data, *owner;
    Py_ssize_t max_cookies = 200;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$n", kwlist, &data, &max_cookies)) {
        return NULL;
    }
    pn_slice_t s;
    if (get_bytes(data, &owner, &s) < 0) {
        return NULL;
    }
    PyObject *d = PyDict_New();
    size_t pos = 0;
    pn_slice_t name, value;
    Py_ssize_t n = 0;
    /* Tolerant: past the bound, further cookies are ignored, not an error. */
    while (d != NULL && n < max_cookies && pn_cookie_next(s.base, s.len, &pos, &name, &value)) {
        PyObject *k = PyUnicode_DecodeLatin1(name.base, (Py_ssize_t)name.len, NULL);
        PyObject *v = k ? PyUnicode_DecodeLatin1(value.base, (Py_ssize_t)value.len, NULL) : NULL;
        if (v == NULL || PyDict_SetItem(d, k, v) < 0) {
            Py_CLEAR(d);
        }
        Py_XDECREF(k);
        Py_XDECREF(v);
        n++;
    }
    Py_DECREF(owner);
    return d;
}
