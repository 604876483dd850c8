/*
 * exchange.c — receive() and send() of one ASGI HTTP request, in C.
 *
 * Owns: the ASGI server's per-request objects after the scope. An
 * ASGIExchange checks the order and shape of the app's messages (start
 * once, body after start, nothing after the final body, status and header
 * types), writes the response head with the first body message (so a
 * single-message body gets a Content-Length, and a wrong head can still be
 * answered 500), builds the messages receive() returns, and resolves a
 * receive() waiting for the end of the exchange when the response is done.
 *
 * Awaitables: a call that completes at once (every call of a request whose
 * body is in memory and whose output is not backed up) returns a Ready — an
 * awaitable that returns its value on the first send, with no coroutine and
 * no frame. A call that must wait hands over to a coroutine of the Python
 * subclass (pronghorn/asgi.py: _receive_wait, _drain, _pathsend).
 *
 * Must not know about: sockets, HTTP syntax (the engine's), logging and the
 * 500 for a failed app (asgi.py).
 */
#include "pymod.h"

typedef struct {
    PyObject_HEAD
    PyObject *value;
} PnReadyObject;

typedef struct {
    PyObject_HEAD
    pn_state_t *st;
    PyObject *request;
    PyObject *headers; /* http.response.start's headers, checked and lowercased */
    PyObject *disc;    /* the future a receive() waits on for the exchange's end, or NULL */
    int status;
    char started, head_written, ended, body_done, gone, no_body;
} PnExchangeObject;

/* ---- Ready: an awaitable that is done from the start ---- */

static void ready_dealloc(PnReadyObject *r)
{
    PyTypeObject *tp = Py_TYPE(r);
    Py_XDECREF(r->value);
    tp->tp_free(r);
    Py_DECREF(tp);
}

static PyObject *ready_await(PyObject *self)
{
    return Py_NewRef(self);
}

static PySendResult ready_send(PyObject *self, PyObject *arg, PyObject **result)
{
    *result = Py_NewRef(((PnReadyObject *)self)->value);
    return PYGEN_RETURN;
}

/* The iterator protocol, for interpreters that do not use am_send (e.g. under a tracer). */
static PyObject *ready_next(PyObject *self)
{
    PyObject *value = ((PnReadyObject *)self)->value;
    if (value == Py_None) {
        PyErr_SetNone(PyExc_StopIteration);
        return NULL;
    }
    PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, value);
    if (stop != NULL) {
        PyErr_SetObject(PyExc_StopIteration, stop);
        Py_DECREF(stop);
    }
    return NULL;
}

static PyType_Slot ready_slots[] = {
    {Py_tp_dealloc, ready_dealloc},
    {Py_am_await, ready_await},
    {Py_am_send, ready_send},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, ready_next},
    {Py_tp_doc, "An awaitable that is already done (what receive() and send() return when "
                "they complete at once)."},
    {0, NULL},
};

PyType_Spec PnReady_spec = {
    .name = "pronghorn._core.Ready",
    .basicsize = sizeof(PnReadyObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = ready_slots,
};

/* A Ready returning value (stolen); NULL passes an error through. */
static PyObject *ready(pn_state_t *st, PyObject *value)
{
    if (value == NULL) {
        return NULL;
    }
    PnReadyObject *r = PyObject_New(PnReadyObject, st->ReadyType);
    if (r == NULL) {
        Py_DECREF(value);
        return NULL;
    }
    r->value = value;
    return (PyObject *)r;
}

static PyObject *ready_none(pn_state_t *st)
{
    return Py_NewRef(st->ready_none);
}

int pn_exchange_init_state(pn_state_t *st)
{
    st->ready_none = ready(st, Py_NewRef(Py_None));
    return st->ready_none == NULL ? -1 : 0;
}

/* ---- messages ---- */

static PyObject *disconnect_message(pn_state_t *st)
{
    PyObject *m = PyDict_New();
    if (m != NULL && PyDict_SetItem(m, st->str_type, st->str_http_disconnect) < 0) {
        Py_CLEAR(m);
    }
    return m;
}

static PyObject *request_message(pn_state_t *st, PyObject *body, int more)
{
    PyObject *m = PyDict_New();
    if (m == NULL || PyDict_SetItem(m, st->str_type, st->str_http_request) < 0 ||
        PyDict_SetItem(m, st->str_body, body) < 0 ||
        PyDict_SetItem(m, st->str_more_body, more ? Py_True : Py_False) < 0) {
        Py_XDECREF(m);
        return NULL;
    }
    return m;
}

/* message[key] (a new reference); KeyError when absent, as a dict lookup. */
static PyObject *field(PyObject *message, PyObject *key)
{
    if (PyDict_CheckExact(message)) {
        PyObject *v = PyDict_GetItemWithError(message, key);
        if (v == NULL && !PyErr_Occurred()) {
            PyErr_SetObject(PyExc_KeyError, key);
        }
        return Py_XNewRef(v);
    }
    return PyObject_GetItem(message, key);
}

/* message.get(key, fallback) (a new reference). */
static PyObject *field_or(PyObject *message, PyObject *key, PyObject *fallback)
{
    PyObject *v = field(message, key);
    if (v == NULL && PyErr_ExceptionMatches(PyExc_KeyError)) {
        PyErr_Clear();
        return Py_NewRef(fallback);
    }
    return v;
}

static PyObject *protocol_error(pn_state_t *st, const char *fmt, ...)
{
    va_list va;
    va_start(va, fmt);
    PyObject *msg = PyUnicode_FromFormatV(fmt, va);
    va_end(va);
    if (msg != NULL) {
        PyErr_SetObject(st->ASGIProtocolError, msg);
        Py_DECREF(msg);
    }
    return NULL;
}

static int has_upper(const char *s, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z') {
            return 1;
        }
    }
    return 0;
}

/* bytes or bytearray -> bytes, lowercased if lower; NULL if neither (no exception). */
static PyObject *as_bytes(PyObject *v, int lower)
{
    const char *s;
    Py_ssize_t n;
    if (PyBytes_Check(v)) {
        s = PyBytes_AS_STRING(v);
        n = PyBytes_GET_SIZE(v);
        if (PyBytes_CheckExact(v) && !(lower && has_upper(s, n))) {
            return Py_NewRef(v);
        }
    } else if (PyByteArray_Check(v)) {
        s = PyByteArray_AS_STRING(v);
        n = PyByteArray_GET_SIZE(v);
    } else {
        return NULL;
    }
    PyObject *b = PyBytes_FromStringAndSize(s, n);
    if (b != NULL && lower) {
        char *d = PyBytes_AS_STRING(b);
        for (Py_ssize_t i = 0; i < n; i++) {
            if (d[i] >= 'A' && d[i] <= 'Z') {
                d[i] = (char)(d[i] + ('a' - 'A'));
            }
        }
    }
    return b;
}

/* One (name, value) pair of the app's headers -> a (lowercased name, value) bytes tuple.
 * Sets *length when it is Content-Length. NULL with ASGIProtocolError for anything else. */
static PyObject *header_pair(pn_state_t *st, PyObject *item, int *length)
{
    PyObject *pair = PyTuple_CheckExact(item) ? Py_NewRef(item) : PySequence_Tuple(item);
    if (pair == NULL || PyTuple_GET_SIZE(pair) != 2) {
        Py_XDECREF(pair);
        PyErr_Clear();
        return protocol_error(st, "response headers must be (bytes, bytes) pairs");
    }
    PyObject *name = as_bytes(PyTuple_GET_ITEM(pair, 0), 1);
    PyObject *value = name ? as_bytes(PyTuple_GET_ITEM(pair, 1), 0) : NULL;
    if (value == NULL) {
        Py_XDECREF(name);
        Py_DECREF(pair);
        if (PyErr_Occurred()) {
            return NULL;
        }
        return protocol_error(st, "response headers must be (bytes, bytes) pairs");
    }
    if (PyBytes_GET_SIZE(name) == 14 && memcmp(PyBytes_AS_STRING(name), "content-length", 14) == 0) {
        *length = 1;
    }
    if (name == PyTuple_GET_ITEM(pair, 0) && value == PyTuple_GET_ITEM(pair, 1)) {
        Py_DECREF(name);
        Py_DECREF(value);
        return pair; /* already lowercase bytes: kept as the app gave it */
    }
    Py_DECREF(pair);
    PyObject *t = PyTuple_Pack(2, name, value);
    Py_DECREF(name);
    Py_DECREF(value);
    return t;
}

/* The app's headers as a new list of (lowercased name, value) bytes pairs. Header bytes
 * themselves are checked by the engine's one validator when the head is written. */
static PyObject *response_headers(pn_state_t *st, PyObject *raw, int *length)
{
    PyObject *it = PyObject_GetIter(raw);
    if (it == NULL) {
        PyErr_Clear();
        return protocol_error(st, "response headers must be (bytes, bytes) pairs");
    }
    PyObject *list = PyList_New(0);
    PyObject *item;
    while (list != NULL && (item = PyIter_Next(it)) != NULL) {
        PyObject *pair = header_pair(st, item, length);
        Py_DECREF(item);
        if (pair == NULL || PyList_Append(list, pair) < 0) {
            Py_CLEAR(list);
        }
        Py_XDECREF(pair);
    }
    Py_DECREF(it);
    if (list != NULL && PyErr_Occurred()) {
        Py_CLEAR(list);
    }
    return list;
}

/* ---- the exchange ---- */

static PyObject *ex_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    PyObject *request;
    if (!PyArg_ParseTuple(args, "O:ASGIExchange", &request)) {
        return NULL;
    }
    pn_state_t *st = pn_state_from_type(tp);
    if (st == NULL) {
        return NULL;
    }
    PnExchangeObject *x = (PnExchangeObject *)tp->tp_alloc(tp, 0);
    if (x == NULL) {
        return NULL;
    }
    x->st = st;
    x->request = Py_NewRef(request);
    return (PyObject *)x;
}

static int ex_traverse(PnExchangeObject *x, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(x));
    Py_VISIT(x->request);
    Py_VISIT(x->headers);
    Py_VISIT(x->disc);
    return 0;
}

static int ex_clear(PnExchangeObject *x)
{
    Py_CLEAR(x->request);
    Py_CLEAR(x->headers);
    Py_CLEAR(x->disc);
    return 0;
}

static void ex_dealloc(PnExchangeObject *x)
{
    PyTypeObject *tp = Py_TYPE(x);
    PyObject_GC_UnTrack(x);
    ex_clear(x);
    tp->tp_free(x);
    Py_DECREF(tp);
}

/* _receive_now() -> the next message (a dict), or a future to wait on first: for body
 * bytes (body_done false) or for the end of the exchange (body_done true). */
static PyObject *ex_receive_now(PnExchangeObject *x, PyObject *unused)
{
    pn_state_t *st = x->st;
    if (x->ended) {
        return disconnect_message(st);
    }
    if (!x->body_done) {
        PyObject *got = pn_request_receive(x->request);
        if (got == NULL) {
            if (!PyErr_ExceptionMatches(st->ClientDisconnect) &&
                !PyErr_ExceptionMatches(st->ProtocolError)) {
                return NULL;
            }
            /* The peer is gone, or its body was refused and the engine answered (400/413). */
            PyErr_Clear();
            x->body_done = x->gone = 1;
            return disconnect_message(st);
        }
        if (!PyTuple_CheckExact(got)) {
            return got; /* a future: the body is on its way */
        }
        int more = PyTuple_GET_ITEM(got, 1) == Py_True;
        if (!more) {
            x->body_done = 1;
        }
        PyObject *m = request_message(st, PyTuple_GET_ITEM(got, 0), more);
        Py_DECREF(got);
        return m;
    }
    PyObject *waiter = pn_request_disconnected(x->request);
    if (waiter == NULL) {
        return NULL;
    }
    if (waiter != Py_None) {
        Py_XSETREF(x->disc, Py_NewRef(waiter));
        return waiter;
    }
    Py_DECREF(waiter);
    x->gone = 1; /* (not ended, checked above) */
    return disconnect_message(st);
}

/* receive() -> awaitable of the next message. */
static PyObject *ex_receive(PnExchangeObject *x, PyObject *unused)
{
    PyObject *got = ex_receive_now(x, NULL);
    if (got == NULL || PyDict_CheckExact(got)) {
        return ready(x->st, got);
    }
    PyObject *wait = PyObject_CallMethodOneArg((PyObject *)x, x->st->str_receive_wait, got);
    Py_DECREF(got);
    return wait;
}

/* Write the head: length is the whole body's size, or -1 (the declared Content-Length,
 * else chunked); the engine refuses a Content-Length that differs. */
static int write_head(PnExchangeObject *x, Py_ssize_t length)
{
    PyObject *r = pn_request_start(x->request, x->status, x->headers, length);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    x->head_written = 1;
    return 0;
}

static int finish(PnExchangeObject *x)
{
    x->ended = 1;
    PyObject *r = pn_request_end(x->request);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    PyObject *disc = x->disc;
    if (disc == NULL) {
        return 0;
    }
    /* A receive() is waiting for the end of the exchange. */
    PyObject *done = PyObject_CallMethodNoArgs(disc, x->st->str_done);
    int is_done = done == NULL ? -1 : PyObject_IsTrue(done);
    Py_XDECREF(done);
    if (is_done != 0) {
        return is_done < 0 ? -1 : 0;
    }
    r = PyObject_CallMethodOneArg(disc, x->st->str_set_result, Py_None);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

static PyObject *send_body(PnExchangeObject *x, PyObject *message)
{
    pn_state_t *st = x->st;
    if (!x->started || x->ended) {
        return protocol_error(st, x->ended
                                      ? "http.response.body sent after the response was complete"
                                      : "http.response.body sent before http.response.start");
    }
    PyObject *body = field_or(message, st->str_body, st->empty_bytes);
    if (body == NULL) {
        return NULL;
    }
    PyObject *more_obj = field_or(message, st->str_more_body, Py_False);
    int more = more_obj == NULL ? -1 : PyObject_IsTrue(more_obj);
    Py_XDECREF(more_obj);
    Py_ssize_t n = more < 0 ? -1 : PyBytes_CheckExact(body) ? PyBytes_GET_SIZE(body)
                                                            : PyObject_Length(body);
    PyObject *waiter = NULL;
    if (n < 0) {
        goto fail;
    }
    if (!x->head_written && write_head(x, more || x->no_body ? -1 : n) < 0) {
        goto fail;
    }
    if (n > 0) {
        waiter = pn_request_write(x->request, body);
        if (waiter == NULL) {
            goto fail;
        }
    }
    Py_DECREF(body);
    if (!more) {
        Py_XDECREF(waiter);
        return finish(x) < 0 ? NULL : ready_none(st);
    }
    if (waiter == NULL || waiter == Py_None) {
        Py_XDECREF(waiter);
        return ready_none(st);
    }
    /* Output backpressure: the app's send() waits until the socket drained. */
    PyObject *wait = PyObject_CallMethodOneArg((PyObject *)x, st->str_drain, waiter);
    Py_DECREF(waiter);
    return wait;
fail:
    Py_DECREF(body);
    if (PyErr_ExceptionMatches(st->ClientDisconnect)) {
        x->gone = 1;
    }
    return NULL;
}

static PyObject *send_start(PnExchangeObject *x, PyObject *message)
{
    pn_state_t *st = x->st;
    if (x->started) {
        return protocol_error(st, "http.response.start sent twice");
    }
    PyObject *status = field(message, st->str_status);
    if (status == NULL) {
        return NULL;
    }
    long code = PyLong_CheckExact(status) ? PyLong_AsLong(status) : -1;
    if (code < 200 || code > 999) {
        PyErr_Clear();
        protocol_error(st, "invalid status code %R", status);
        Py_DECREF(status);
        return NULL;
    }
    Py_DECREF(status);
    PyObject *raw = field_or(message, st->str_headers, st->empty_tuple);
    if (raw == NULL) {
        return NULL;
    }
    int declared_length = 0;
    PyObject *headers = response_headers(st, raw, &declared_length);
    Py_DECREF(raw);
    if (headers == NULL) {
        return NULL;
    }
    Py_XSETREF(x->headers, headers);
    x->status = (int)code;
    PyObject *method = pn_request_method(x->request);
    if (method == NULL) {
        return NULL;
    }
    x->no_body = code == 204 || code == 304 || method == st->str_HEAD;
    Py_DECREF(method);
    x->started = 1;
    if (declared_length) {
        /* The head goes out with the first body message, where a length that disagrees
         * can still be answered 500 instead of aborting. */
        return ready_none(st);
    }
    /* Without a Content-Length the first body message decides (a single one gets a length,
     * more are chunked); if the app suspends before it, the head goes out then (chunked) so
     * the client is not kept waiting. */
    PyObject *loop = PyObject_CallNoArgs(st->get_running_loop);
    PyObject *cb = loop ? PyObject_GetAttr((PyObject *)x, st->str_head_if_idle) : NULL;
    PyObject *h = cb ? PyObject_CallMethodOneArg(loop, st->str_call_soon, cb) : NULL;
    Py_XDECREF(loop);
    Py_XDECREF(cb);
    if (h == NULL) {
        return NULL;
    }
    Py_DECREF(h);
    return ready_none(st);
}

/* send(message) -> awaitable. */
static PyObject *ex_send(PnExchangeObject *x, PyObject *message)
{
    pn_state_t *st = x->st;
    if (x->gone) {
        PyErr_SetString(st->ClientDisconnect, "client disconnected");
        return NULL;
    }
    PyObject *kind = field(message, st->str_type);
    if (kind == NULL) {
        return NULL;
    }
    PyObject *res = NULL;
    int eq;
    if ((eq = PyObject_RichCompareBool(kind, st->str_http_response_body, Py_EQ)) != 0) {
        res = eq < 0 ? NULL : send_body(x, message);
    } else if ((eq = PyObject_RichCompareBool(kind, st->str_http_response_start, Py_EQ)) != 0) {
        res = eq < 0 ? NULL : send_start(x, message);
    } else if ((eq = PyObject_RichCompareBool(kind, st->str_http_response_pathsend, Py_EQ)) != 0) {
        res = eq < 0 ? NULL : PyObject_CallMethodOneArg((PyObject *)x, st->str_pathsend, message);
    } else {
        protocol_error(st, "unexpected ASGI message type %R", kind);
    }
    Py_DECREF(kind);
    return res;
}

/* _write_head(length): for the Python side (a suspended app's head, pathsend). */
static PyObject *ex_write_head(PnExchangeObject *x, PyObject *arg)
{
    Py_ssize_t length = PyLong_AsSsize_t(arg);
    if (length == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (write_head(x, length) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* _finish(): the response is complete. */
static PyObject *ex_finish(PnExchangeObject *x, PyObject *unused)
{
    if (finish(x) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef ex_methods[] = {
    {"receive", (PyCFunction)ex_receive, METH_NOARGS, "receive() -> awaitable of a message"},
    {"send", (PyCFunction)ex_send, METH_O, "send(message) -> awaitable"},
    {"_receive_now", (PyCFunction)ex_receive_now, METH_NOARGS,
     "_receive_now() -> the next message, or a future to wait on first"},
    {"_write_head", (PyCFunction)ex_write_head, METH_O,
     "_write_head(length): write the response head (-1: declared length or chunked)"},
    {"_finish", (PyCFunction)ex_finish, METH_NOARGS, "_finish(): the response is complete"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef ex_members[] = {
    {"request", T_OBJECT, offsetof(PnExchangeObject, request), READONLY, NULL},
    {"headers", T_OBJECT, offsetof(PnExchangeObject, headers), READONLY, NULL},
    {"disc", T_OBJECT, offsetof(PnExchangeObject, disc), 0,
     "the future a receive() waits on for the end of the exchange"},
    {"status", T_INT, offsetof(PnExchangeObject, status), READONLY, NULL},
    {"started", T_BOOL, offsetof(PnExchangeObject, started), 0, "http.response.start was sent"},
    {"head_written", T_BOOL, offsetof(PnExchangeObject, head_written), 0, NULL},
    {"ended", T_BOOL, offsetof(PnExchangeObject, ended), 0, "the response is complete"},
    {"body_done", T_BOOL, offsetof(PnExchangeObject, body_done), 0,
     "receive() gave the last http.request"},
    {"gone", T_BOOL, offsetof(PnExchangeObject, gone), 0, "the client went away"},
    {"no_body", T_BOOL, offsetof(PnExchangeObject, no_body), READONLY,
     "HEAD, 204 or 304: the engine drops the body"},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot ex_slots[] = {
    {Py_tp_new, ex_new},
    {Py_tp_dealloc, ex_dealloc},
    {Py_tp_traverse, ex_traverse},
    {Py_tp_clear, ex_clear},
    {Py_tp_methods, ex_methods},
    {Py_tp_members, ex_members},
    {Py_tp_doc, "ASGIExchange(request): receive() and send() of one ASGI HTTP request."},
    {0, NULL},
};

PyType_Spec PnExchange_spec = {
    .name = "pronghorn._core.ASGIExchange",
    .basicsize = sizeof(PnExchangeObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = ex_slots,
};
