/*
 * chunkedobj.c — ChunkedDecoder: the chunked transfer-coding decoder of
 * chunked.c as an incremental Python object, for code that reads chunked
 * bodies produced elsewhere (the ASGI adapter and the test client read the
 * engine's responses with it). Same decoder, same strictness as requests.
 */
#include "pymod.h"

typedef struct {
    PyObject_HEAD
    pn_chunked_t state;
    int failed;
} PnChunkedObject;

static PyObject *chunked_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"max_body", NULL};
    unsigned long long max_body = UINT64_MAX;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$K", kwlist, &max_body)) {
        return NULL;
    }
    PnChunkedObject *self = (PnChunkedObject *)tp->tp_alloc(tp, 0);
    if (self != NULL) {
        pn_chunked_init(&self->state, max_body, 0, 0);
    }
    return (PyObject *)self;
}

/* feed(data) -> (decoded bytes, bytes consumed); stops consuming once done. */
static PyObject *chunked_feed(PnChunkedObject *self, PyObject *arg)
{
    pn_state_t *st = pn_state_from_type(Py_TYPE(self));
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    pn_buf_t out = {0};
    size_t pos = 0;
    PyObject *result = NULL;
    while (!self->failed && pos < (size_t)b.len && !pn_chunked_done(&self->state)) {
        pn_slice_t d;
        pn_http1_error_t err = {0, NULL, 0};
        ssize_t n = pn_chunked_feed(&self->state, (const char *)b.buf + pos, (size_t)b.len - pos,
                                    &d, &err);
        if (n < 0) {
            self->failed = 1;
            PyErr_Format(st->ProtocolError, "%d %s", err.status, err.reason ? err.reason : "");
            goto done;
        }
        if (d.len && pn_buf_append(&out, d.base, d.len) < 0) {
            PyErr_NoMemory();
            goto done;
        }
        pos += (size_t)n;
        if (n == 0) {
            break;
        }
    }
    if (self->failed && result == NULL && !PyErr_Occurred()) {
        PyErr_SetString(st->ProtocolError, "the chunked body already failed to decode");
        goto done;
    }
    result = Py_BuildValue("(y#n)", pn_buf_len(&out) ? pn_buf_ptr(&out) : "", (Py_ssize_t)pn_buf_len(&out),
                           (Py_ssize_t)pos);
done:
    pn_buf_free(&out);
    PyBuffer_Release(&b);
    return result;
}

static PyObject *chunked_get_done(PnChunkedObject *self, void *closure)
{
    return PyBool_FromLong(pn_chunked_done(&self->state));
}

static void chunked_dealloc(PnChunkedObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef chunked_methods[] = {
    {"feed", (PyCFunction)chunked_feed, METH_O,
     "feed(data) -> (decoded, consumed); raises ProtocolError on malformed framing"},
    {NULL},
};

static PyGetSetDef chunked_getset[] = {
    {"done", (getter)chunked_get_done, NULL, "the last chunk and trailers were read", NULL},
    {NULL},
};

static PyType_Slot chunked_slots[] = {
    {Py_tp_doc, "ChunkedDecoder(*, max_body): incremental chunked transfer-coding decoder."},
    {Py_tp_new, chunked_new},
    {Py_tp_dealloc, chunked_dealloc},
    {Py_tp_methods, chunked_methods},
    {Py_tp_getset, chunked_getset},
    {0, NULL},
};

PyType_Spec PnChunked_spec = {
    .name = "pronghorn._core.ChunkedDecoder",
    .basicsize = sizeof(PnChunkedObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = chunked_slots,
};
