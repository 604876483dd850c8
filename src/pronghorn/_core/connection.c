/*
 * connection.c — one connection as seen from Python (binding).
 *
 * Owns: the socket side of a pn_conn_t (read, write, backpressure), calling
 * the app handler for each request the engine reports, driving `async def`
 * handlers through a HandlerTask (task.c: stepped eagerly; only a coroutine
 * that really waits involves the event loop), and turning the handler's response
 * object into calls to the engine's one response writer.
 *
 * Invariants: a connection runs at most one handler at a time (in_handler);
 * while it does, input is buffered and only the handler pulls body events.
 * Any call into Python may close the connection: callers hold a reference and
 * re-check `closed` afterwards.
 * fd == -1 means an in-memory connection (test client): output stays in the
 * engine's buffer until taken with output().
 */
#include "pymod.h"

#include <errno.h>
#include <sys/sendfile.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
#define HIGH_WATER (1024 * 1024)   /* output bytes queued: stop starting new requests */
#define LOW_WATER (64 * 1024)     /* a writer waiting for drain resumes below this */
#define PAUSE_INPUT (1024 * 1024)  /* input bytes buffered during a handler: stop reading */

PnConnObject *pn_conn_new(PnServerObject *srv, int fd)
{
    PnConnObject *c = PyObject_GC_New(PnConnObject, srv->st->ConnType);
    if (c == NULL) {
        return NULL;
    }
    /* Every field after the object header starts zeroed (NULL, 0, off), so a field added
     * later cannot be left uninitialised. */
    memset((char *)c + sizeof(PyObject), 0, sizeof(*c) - sizeof(PyObject));
    pn_conn_init(&c->engine, &srv->cfg);
    c->server = (PnServerObject *)Py_NewRef(srv);
    c->fd = fd;
    c->file_fd = -1;
    PyObject_GC_Track(c);
    return c;
}

/* Resolve (or fail with exc_type) the future in *slot, and clear the slot. */
static void wake(PnConnObject *c, PyObject **slot, PyObject *exc_type)
{
    PyObject *fut = *slot;
    if (fut == NULL) {
        return;
    }
    *slot = NULL;
    pn_state_t *st = c->server->st;
    PyObject *done = PyObject_CallMethodNoArgs(fut, st->str_done);
    int is_done = done ? PyObject_IsTrue(done) : 1;
    Py_XDECREF(done);
    PyObject *r = NULL;
    if (!is_done) {
        if (exc_type) {
            PyObject *exc = PyObject_CallFunction(exc_type, "s", "client disconnected");
            if (exc) {
                r = PyObject_CallMethodOneArg(fut, st->str_set_exception, exc);
                Py_DECREF(exc);
            }
        } else {
            r = PyObject_CallMethodOneArg(fut, st->str_set_result, Py_None);
        }
    }
    if (r == NULL && PyErr_Occurred()) {
        PyErr_WriteUnraisable(fut);
    }
    Py_XDECREF(r);
    Py_DECREF(fut);
}

/* Resolve (or fail) the future a body reader is waiting on. */
void pn_conn_wake_waiter(PnConnObject *c, PyObject *exc_type)
{
    wake(c, &c->body_waiter, exc_type);
}

void pn_conn_close(PnConnObject *c)
{
    if (c->closed) {
        return;
    }
    c->closed = 1;
    pn_conn_abort(&c->engine);
    if (c->fd >= 0) {
        pn_server_forget(c->server, c);
        close(c->fd);
        c->fd = -1;
    }
    c->file_fd = -1;
    c->file_left = 0;
    if (c->ws != NULL) {
        PyObject *ws = c->ws;
        c->ws = NULL;
        pn_ws_on_close((PnWSObject *)ws);
        Py_DECREF(ws);
    }
    pn_conn_wake_waiter(c, c->server->st->ClientDisconnect);
    wake(c, &c->drain_waiter, c->server->st->ClientDisconnect);
    wake(c, &c->disc_waiter, NULL);
    wake(c, &c->output_waiter, NULL);
}

/* EAGAIN: wait for EPOLLOUT. */
static void want_writable(PnConnObject *c)
{
    if (!c->want_write) {
        c->want_write = 1;
        pn_server_update_interest(c->server, c);
    }
}

/* Largest output a connection holds back until its epoll batch ends. */
#define DEFER_MAX (256 * 1024)


/* Write queued output, then any file being sent. Returns 0, or -1 if the
 * connection got closed.
 *
 * A socket's output waits for the end of the epoll batch (server.c's
 * on_epoll) or, when written by a handler the loop resumed, for the loop's
 * next turn (a flush callback queued once per turn): the Python of every
 * ready request runs back to back, then the sends do, and each keeps its
 * caches warm (measured: fewer cycles per request for the same
 * instructions). The wait is bounded by that, and by DEFER_MAX bytes. */
int pn_conn_flush(PnConnObject *c)
{
    if (c->closed) {
        return -1;
    }
    PnServerObject *srv = c->server;
    if ((srv->batching || srv->loop != NULL) && c->fd >= 0 && c->file_left == 0 &&
        pn_buf_len(&c->engine.out) < DEFER_MAX) {
        if (!srv->batching && pn_server_schedule_flush(srv) < 0) {
            PyErr_Clear();
            return pn_conn_flush_now(c);
        }
        if (!c->flush_queued) {
            if (srv->n_flushq == srv->cap_flushq) {
                Py_ssize_t cap = srv->cap_flushq ? srv->cap_flushq * 2 : 64;
                PnConnObject **q = PyMem_Realloc(srv->flushq, (size_t)cap * sizeof(*q));
                if (q == NULL) {
                    return pn_conn_flush_now(c);
                }
                srv->flushq = q;
                srv->cap_flushq = cap;
            }
            srv->flushq[srv->n_flushq++] = (PnConnObject *)Py_NewRef(c);
            c->flush_queued = 1;
        }
        return 0;
    }
    return pn_conn_flush_now(c);
}

void pn_conn_flush_batch(PnServerObject *srv)
{
    /* Flushing cannot queue more (batching is off), but be robust to it anyway. */
    for (Py_ssize_t i = 0; i < srv->n_flushq; i++) {
        PnConnObject *c = srv->flushq[i];
        c->flush_queued = 0;
        if (pn_conn_flush_now(c) == 0 && c->peer_eof && !c->in_handler &&
            pn_buf_len(&c->engine.out) == 0) {
            pn_conn_close(c); /* what pn_conn_process would have done after its flush */
        }
        Py_DECREF(c);
    }
    srv->n_flushq = 0;
}

int pn_conn_flush_now(PnConnObject *c)
{
    if (c->closed) {
        return -1;
    }
    if (c->fd < 0) {
        /* In memory: the test client takes the output. */
        if (c->output_waiter != NULL &&
            (pn_buf_len(&c->engine.out) > 0 || pn_conn_closing(&c->engine))) {
            wake(c, &c->output_waiter, NULL);
        }
        return 0;
    }
    while (pn_buf_len(&c->engine.out) > 0) {
        pn_slice_t out = pn_conn_output(&c->engine);
        ssize_t n = send(c->fd, out.base, out.len, MSG_NOSIGNAL);
        if (n > 0) {
            pn_conn_output_done(&c->engine, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want_writable(c);
            return 0;
        }
        pn_conn_close(c);
        return -1;
    }
    while (c->file_left > 0) {
        size_t chunk = c->file_left > (1u << 30) ? (1u << 30) : (size_t)c->file_left;
        ssize_t n = sendfile(c->fd, c->file_fd, &c->file_off, chunk);
        if (n > 0) {
            c->file_left -= (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want_writable(c);
            return 0;
        }
        /* n == 0: the file shrank under us; the response cannot be completed. */
        pn_conn_close(c);
        return -1;
    }
    c->file_fd = -1;
    if (c->want_write) {
        c->want_write = 0;
        pn_server_update_interest(c->server, c);
    }
    if (c->drain_waiter != NULL) {
        wake(c, &c->drain_waiter, NULL);
    }
    if (pn_conn_closing(&c->engine)) {
        pn_conn_close(c);
        return -1;
    }
    return 0;
}

PyObject *pn_conn_new_future(PnConnObject *c)
{
    PnServerObject *srv = c->server;
    PyObject *loop = srv->loop ? Py_NewRef(srv->loop) : PyObject_CallNoArgs(srv->st->get_running_loop);
    if (loop == NULL) {
        return NULL;
    }
    PyObject *fut = PyObject_CallMethodNoArgs(loop, srv->st->str_create_future);
    Py_DECREF(loop);
    return fut;
}

PyObject *pn_conn_drained(PnConnObject *c)
{
    if (c->closed) {
        PyErr_SetString(c->server->st->ClientDisconnect, "client disconnected");
        return NULL;
    }
    if (pn_buf_len(&c->engine.out) < HIGH_WATER && c->file_left == 0) {
        Py_RETURN_NONE;
    }
    if (c->drain_waiter == NULL && (c->drain_waiter = pn_conn_new_future(c)) == NULL) {
        return NULL;
    }
    return Py_NewRef(c->drain_waiter);
}

PyObject *pn_conn_sendfile(PnConnObject *c, int fd, off_t offset, uint64_t count)
{
    int rc = pn_conn_response_external(&c->engine, count);
    if (rc < 0) {
        return pn_conn_check(c, rc) < 0 ? NULL : Py_NewRef(Py_None);
    }
    if (rc == 0 || count == 0) {
        Py_RETURN_NONE;
    }
    if (c->fd < 0) {
        /* In memory: read the file into the output buffer instead. */
        while (count > 0) {
            char buf[65536];
            size_t want = count < sizeof(buf) ? (size_t)count : sizeof(buf);
            ssize_t n = pread(fd, buf, want, offset);
            if (n <= 0) {
                pn_conn_abort(&c->engine);
                return PyErr_Format(PyExc_OSError, "file ended %llu bytes early",
                                    (unsigned long long)count);
            }
            if (pn_buf_append(&c->engine.out, buf, (size_t)n) < 0) {
                return PyErr_NoMemory();
            }
            offset += n;
            count -= (uint64_t)n;
        }
        Py_RETURN_NONE;
    }
    c->file_fd = fd;
    c->file_off = offset;
    c->file_left = count;
    Py_INCREF(c);
    pn_conn_flush(c);
    PyObject *r = pn_conn_drained(c);
    Py_DECREF(c);
    return r;
}

int pn_conn_check(PnConnObject *c, int rc)
{
    pn_state_t *st = c->server->st;
    if (rc >= 0) {
        return 0;
    }
    if (rc == PN_EUSAGE) {
        PyErr_Format(PyExc_RuntimeError, "invalid response: %s", c->engine.usage_error);
        return -1;
    }
    if (rc == PN_ENOMEM) {
        PyErr_NoMemory();
        return -1;
    }
    PyErr_SetString(st->ClientDisconnect, "client disconnected");
    return -1;
}

/* ---- response objects -> the engine's writer ---- */

static int write_error(PnConnObject *c, int status)
{
    static const pn_header_t h[] = {{{"content-type", 12}, {"text/plain; charset=utf-8", 25}}};
    const char *reason = pn_status_reason(status);
    return pn_conn_response_simple(&c->engine, status, h, 1, reason, strlen(reason));
}

int pn_headers_from_seq(PyObject *obj, pn_header_t *stack, size_t stack_n, pn_header_t **out,
                        Py_ssize_t *n, PyObject **keep)
{
    PyObject *seq = PySequence_Fast(obj, "headers must be a sequence of (name, value) pairs");
    if (seq == NULL) {
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(seq);
    pn_header_t *hs = stack;
    if ((size_t)len > stack_n) {
        hs = PyMem_Malloc(sizeof(pn_header_t) * (size_t)len);
        if (hs == NULL) {
            Py_DECREF(seq);
            PyErr_NoMemory();
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyBytes_Check(PyTuple_GET_ITEM(pair, 0)) || !PyBytes_Check(PyTuple_GET_ITEM(pair, 1))) {
            if (hs != stack) {
                PyMem_Free(hs);
            }
            Py_DECREF(seq);
            PyErr_SetString(PyExc_TypeError, "header items must be (bytes, bytes) tuples");
            return -1;
        }
        PyObject *k = PyTuple_GET_ITEM(pair, 0), *v = PyTuple_GET_ITEM(pair, 1);
        hs[i].name = (pn_slice_t){PyBytes_AS_STRING(k), (size_t)PyBytes_GET_SIZE(k)};
        hs[i].value = (pn_slice_t){PyBytes_AS_STRING(v), (size_t)PyBytes_GET_SIZE(v)};
    }
    *out = hs;
    *n = len;
    *keep = seq; /* the slices point into its items */
    return 0;
}

/* Serialise a Response-like object (status_code, raw_headers, body). 0 or -1 (exception set). */
/* New reference to a field of the response: read directly from a ResponseBase, else (or
 * when never set, for the AttributeError) by attribute. */
static PyObject *response_attr(pn_state_t *st, PyObject *resp, int field, PyObject *name)
{
    if (PyObject_TypeCheck(resp, st->ResponseType)) {
        PyObject *v = pn_response_field(resp, field);
        if (v != NULL) {
            return Py_NewRef(v);
        }
    }
    return PyObject_GetAttr(resp, name);
}

static int write_response(PnConnObject *c, PyObject *resp)
{
    pn_state_t *st = c->server->st;
    PyObject *status_o = NULL, *headers_o = NULL, *body_o = NULL, *keep = NULL;
    pn_header_t stack[32];
    pn_header_t *hs = stack;
    Py_ssize_t n = 0;
    Py_buffer body = {0};
    int rc = -1;

    status_o = response_attr(st, resp, PN_RESPONSE_STATUS, st->str_status_code);
    if (status_o == NULL) {
        goto error;
    }
    long status = PyLong_AsLong(status_o);
    if (status == -1 && PyErr_Occurred()) {
        goto error;
    }
    body_o = response_attr(st, resp, PN_RESPONSE_BODY, st->str_body);
    if (body_o == NULL || PyObject_GetBuffer(body_o, &body, PyBUF_SIMPLE) < 0) {
        goto error;
    }
    headers_o = response_attr(st, resp, PN_RESPONSE_HEADERS, st->str_raw_headers);
    if (headers_o == NULL ||
        pn_headers_from_seq(headers_o, stack, sizeof(stack) / sizeof(stack[0]), &hs, &n, &keep) < 0) {
        goto error;
    }
    int w = pn_conn_response_simple(&c->engine, (int)status, hs, (size_t)n, body.buf,
                                    (size_t)body.len);
    if (w == PN_EUSAGE || w == PN_ENOMEM) {
        pn_conn_check(c, w);
        goto error;
    }
    rc = 0; /* PN_ECLOSED: the connection is gone; nothing to report */
error:
    if (body.obj != NULL) {
        PyBuffer_Release(&body);
    }
    if (hs != stack) {
        PyMem_Free(hs);
    }
    Py_XDECREF(status_o);
    Py_XDECREF(headers_o);
    Py_XDECREF(body_o);
    Py_XDECREF(keep);
    return rc;
}

static void access_log(PnConnObject *c, PyObject *req)
{
    PnServerObject *srv = c->server;
    if (srv->access_log == NULL || req == NULL) {
        return;
    }
    PyObject *client = PyObject_GetAttrString(req, "client");
    PyObject *method = PyObject_GetAttrString(req, "method");
    PyObject *target = PyObject_GetAttrString(req, "target");
    PyObject *version = PyObject_GetAttrString(req, "http_version");
    PyObject *r = NULL;
    if (client && method && target && version) {
        PyObject *cs = client == Py_None ? PyUnicode_FromString("-")
                                         : PyUnicode_FromFormat("%S:%S",
                                                                PyTuple_GET_ITEM(client, 0),
                                                                PyTuple_GET_ITEM(client, 1));
        if (cs) {
            r = PyObject_CallFunction(srv->access_log, "OOOOiK", cs, method, target, version,
                                      c->engine.status, (unsigned long long)c->engine.body_sent);
            Py_DECREF(cs);
        }
    }
    if (r == NULL) {
        PyErr_WriteUnraisable(srv->access_log);
    }
    Py_XDECREF(r);
    Py_XDECREF(client);
    Py_XDECREF(method);
    Py_XDECREF(target);
    Py_XDECREF(version);
}

/* Nothing of the current response has been written yet. */
static int resp_pending(PnConnObject *c)
{
    return !c->closed && c->engine.state == PN_CONN_REQUEST && !c->engine.resp_started;
}

/* The current response was started but not finished. */
static int resp_partial(PnConnObject *c)
{
    return !c->closed && c->engine.state == PN_CONN_REQUEST && c->engine.resp_started &&
           !c->engine.resp_ended;
}

static void on_task_done(PyObject *owner, PnTaskObject *task);

static void on_background_done(PyObject *owner, PnTaskObject *task)
{
    PyObject *r = pn_task_outcome(task);
    if (r == NULL) {
        pn_server_log_exception((PnServerObject *)owner, "Exception in background task");
    }
    Py_XDECREF(r);
}

/* Run response.background (if any) now that the response is written. */
static void run_background(PnConnObject *c, PyObject *response)
{
    PnServerObject *srv = c->server;
    PyObject *bg = response_attr(srv->st, response, PN_RESPONSE_BACKGROUND,
                                 srv->st->str_background);
    if (bg == NULL) {
        PyErr_Clear();
        return;
    }
    if (bg == Py_None) {
        Py_DECREF(bg);
        return;
    }
    PyObject *res = PyObject_CallNoArgs(bg);
    Py_DECREF(bg);
    if (res == NULL) {
        pn_server_log_exception(srv, "Exception in background task");
        return;
    }
    PyTypeObject *tp = Py_TYPE(res);
    if (tp->tp_as_async != NULL && tp->tp_as_async->am_send != NULL) {
        PyObject *loop = srv->loop ? Py_NewRef(srv->loop) : PyObject_CallNoArgs(srv->st->get_running_loop);
        PyObject *ctx = loop ? PyContext_CopyCurrent() : NULL;
        PnTaskObject *t = ctx ? pn_task_new(srv->st, loop, res, ctx, (PyObject *)srv,
                                            on_background_done)
                              : NULL;
        Py_XDECREF(loop);
        Py_XDECREF(ctx);
        if (t == NULL) {
            pn_server_log_exception(srv, "Cannot start background task");
        } else {
            pn_task_start(t);
            Py_DECREF(t);
        }
    }
    Py_DECREF(res);
}

/* A response object whose body Python streams itself (response._stream(request)). */
static int start_stream(PnConnObject *c, PyObject *response)
{
    PnServerObject *srv = c->server;
    PyObject *coro = PyObject_CallMethodOneArg(response, srv->st->str_stream, c->request);
    if (coro == NULL) {
        return -1;
    }
    PyObject *loop = srv->loop ? Py_NewRef(srv->loop) : PyObject_CallNoArgs(srv->st->get_running_loop);
    PyObject *ctx = loop ? PyContext_CopyCurrent() : NULL;
    PnTaskObject *t = ctx ? pn_task_new(srv->st, loop, coro, ctx, (PyObject *)c, on_task_done)
                          : NULL;
    Py_DECREF(coro);
    Py_XDECREF(loop);
    Py_XDECREF(ctx);
    if (t == NULL) {
        return -1;
    }
    if (c->pending != NULL) {
        pn_task_disown((PnTaskObject *)c->pending);
    }
    Py_XSETREF(c->pending, (PyObject *)t);
    c->stream_response = Py_NewRef(response);
    int was = c->dispatching;
    c->dispatching = 1; /* our caller flushes and resumes processing */
    pn_task_start(t);
    c->dispatching = was;
    return 0;
}

/*
 * The handler finished. response is the object it produced, or NULL with an
 * exception set. Writes the response (or a 500) and clears the request —
 * unless the response streams its body from Python, which then runs first.
 */
void pn_conn_handler_done(PnConnObject *c, PyObject *response)
{
    PnServerObject *srv = c->server;
    PyObject *finished = NULL; /* the response to run background tasks of */
    if (response == NULL) {
        if (PyErr_ExceptionMatches(srv->st->ClientDisconnect) ||
            PyErr_ExceptionMatches(srv->st->ProtocolError)) {
            PyErr_Clear(); /* the engine already answered or the peer is gone */
        } else {
            pn_server_log_exception(srv, "Exception in request handler");
        }
        if (resp_pending(c)) {
            write_error(c, 500);
        } else if (resp_partial(c)) {
            pn_conn_abort(&c->engine);
        }
    } else if (c->ws != NULL) {
        pn_ws_on_handler_done((PnWSObject *)c->ws); /* close normally if the handler did not */
    } else if (c->streamed || c->stream_response != NULL) {
        /* The response was streamed through Request._start/_write/_end. */
        if (resp_partial(c) || resp_pending(c)) {
            PyErr_SetString(PyExc_RuntimeError, "response ended before its body was complete");
            pn_server_log_exception(srv, "Incomplete streamed response");
            if (resp_pending(c)) {
                write_error(c, 500);
            } else {
                pn_conn_abort(&c->engine);
            }
        }
        finished = c->stream_response;
        c->stream_response = NULL;
    } else if (!c->closed) {
        PyObject *flag = PyObject_GetAttr(response, srv->st->str_streaming);
        int streaming = flag != NULL && PyObject_IsTrue(flag) == 1;
        Py_XDECREF(flag);
        PyErr_Clear();
        if (streaming && resp_pending(c)) {
            if (start_stream(c, response) == 0) {
                return; /* completes through on_task_done */
            }
            pn_server_log_exception(srv, "Cannot stream the response");
            write_error(c, 500);
        } else if (write_response(c, response) < 0) {
            pn_server_log_exception(srv, "Invalid response from request handler");
            if (resp_pending(c)) {
                write_error(c, 500);
            } else if (resp_partial(c)) {
                pn_conn_abort(&c->engine);
            }
        } else {
            finished = Py_NewRef(response);
        }
    }
    PyObject *req = c->request;
    c->request = NULL;
    if (c->pending != NULL) {
        pn_task_disown((PnTaskObject *)c->pending);
        Py_CLEAR(c->pending);
    }
    Py_CLEAR(c->stream_response);
    c->in_handler = 0;
    c->streamed = 0;
    srv->active--;
    c->served++;
    if (req != NULL) {
        access_log(c, req);
        pn_request_detach(req);
        Py_DECREF(req);
    }
    if (c->body_waiter) {
        pn_conn_wake_waiter(c, srv->st->ClientDisconnect);
    }
    wake(c, &c->disc_waiter, NULL);
    if (finished != NULL) {
        Py_INCREF(c);
        run_background(c, finished);
        Py_DECREF(finished);
        Py_DECREF(c);
    }
}

/* ---- driving handlers ---- */

/* The HandlerTask of the current request (handler or response stream) finished. */
static void on_task_done(PyObject *owner, PnTaskObject *task)
{
    PnConnObject *c = (PnConnObject *)owner;
    if ((PyObject *)task != c->pending || !c->in_handler) {
        return;
    }
    Py_INCREF(c);
    PyObject *res = pn_task_outcome(task);
    pn_conn_handler_done(c, res);
    Py_XDECREF(res);
    if (!c->dispatching && !c->closed) {
        pn_conn_flush(c);
        pn_conn_process(c);
    }
    Py_DECREF(c);
}

static PyObject *running_loop(PnServerObject *srv)
{
    if (srv->loop != NULL) {
        return Py_NewRef(srv->loop);
    }
    PyObject *loop = PyObject_CallNoArgs(srv->st->get_running_loop);
    if (loop == NULL) {
        PyErr_Clear(); /* no loop: a handler that never waits still works */
    }
    return loop;
}

/* A sync handler call held the event loop for `held` seconds: tell the app. */
static void report_slow(PnServerObject *srv, PyObject *req, double held)
{
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb); /* the handler's own error, if any, is kept */
    PyObject *r = PyObject_CallFunction(srv->slow_handler, "Od", req, held);
    if (r == NULL) {
        PyErr_WriteUnraisable(srv->slow_handler);
    }
    Py_XDECREF(r);
    PyErr_Restore(et, ev, etb);
}

/* The router's endpoint for req, else the app's handler. */
static PyObject *call_app(PnServerObject *srv, PyObject *req)
{
    if (srv->router != NULL && !(pn_request_flags(req) & PN_REQ_UPGRADE)) {
        PyObject *path = pn_request_path(req);
        PyObject *method = path ? pn_request_method(req) : NULL;
        PyObject *res = method ? pn_routerobj_dispatch(srv->router, req, path, method) : NULL;
        Py_XDECREF(path);
        Py_XDECREF(method);
        if (res != Py_NotImplemented) {
            return res;
        }
        Py_DECREF(res);
    }
    return PyObject_CallOneArg(srv->handler, req);
}

/* Run the handler for a new request. Returns when it finished or suspended. */
static void dispatch(PnConnObject *c, const pn_event_t *ev)
{
    PnServerObject *srv = c->server;
    c->serial++;
    c->streamed = 0;
    PyObject *req = pn_request_new(c, ev);
    c->in_handler = 1;
    c->started = pn_monotonic();
    srv->active++;
    if (req == NULL) {
        pn_conn_handler_done(c, NULL);
        return;
    }
    c->request = req;

    PyObject *ctx = PyContext_CopyCurrent();
    if (ctx == NULL || PyContext_Enter(ctx) < 0) {
        Py_XDECREF(ctx);
        pn_conn_handler_done(c, NULL);
        return;
    }
    PyObject *res = call_app(srv, req);
    PyContext_Exit(ctx);
    PyTypeObject *tp = res ? Py_TYPE(res) : NULL;
    int awaitable = tp != NULL && tp->tp_as_async != NULL && tp->tp_as_async->am_send != NULL;
    if (srv->slow_handler != NULL && !awaitable) {
        double held = pn_monotonic() - c->started;
        if (held > srv->slow_threshold) {
            report_slow(srv, req, held);
        }
    }
    if (tp != NULL && tp->tp_as_async != NULL && tp->tp_as_async->am_send != NULL) {
        PyObject *loop = running_loop(srv);
        PnTaskObject *task = pn_task_new(srv->st, loop, res, ctx, (PyObject *)c, on_task_done);
        Py_XDECREF(loop);
        Py_DECREF(res);
        Py_DECREF(ctx);
        if (task == NULL) {
            pn_conn_handler_done(c, NULL);
            return;
        }
        c->pending = (PyObject *)task;
        c->dispatching = 1;
        pn_task_start(task); /* completes the request through on_task_done if it never waits */
        c->dispatching = 0;
        return;
    }
    Py_DECREF(ctx);
    pn_conn_handler_done(c, res);
    Py_XDECREF(res);
}

/* Deadlines: which timeout applies now (see server.c's sweep). */
static void refresh_deadline(PnConnObject *c)
{
    PnServerObject *srv = c->server;
    if (c->in_handler || c->engine.state == PN_CONN_REQUEST || c->engine.state == PN_CONN_UPGRADED) {
        c->deadline_kind = PN_DEADLINE_NONE;
        c->deadline = 0;
    } else if (pn_conn_idle(&c->engine) && c->served > 0) {
        if (c->deadline_kind != PN_DEADLINE_IDLE) {
            c->deadline_kind = PN_DEADLINE_IDLE;
            c->deadline = pn_monotonic() + srv->keep_alive_timeout;
        }
    } else if (c->deadline_kind != PN_DEADLINE_HEAD) {
        c->deadline_kind = PN_DEADLINE_HEAD;
        c->deadline = pn_monotonic() + srv->header_timeout;
    }
}

/* Serve whatever complete requests are buffered, in order. */
void pn_conn_process(PnConnObject *c)
{
    Py_INCREF(c);
    while (!c->closed && !c->in_handler) {
        if (pn_buf_len(&c->engine.out) > HIGH_WATER) {
            if (pn_conn_flush(c) < 0 || pn_buf_len(&c->engine.out) > HIGH_WATER) {
                break; /* resumed from on_writable */
            }
        }
        pn_event_t ev;
        int t = pn_conn_next(&c->engine, &ev);
        if (t == PN_EV_REQUEST) {
            dispatch(c, &ev);
            continue;
        }
        if (t == PN_EV_NONE || t == PN_EV_ERROR) {
            break;
        }
    }
    if (!c->closed) {
        pn_conn_flush(c);
    }
    if (!c->closed) {
        refresh_deadline(c);
        if (c->peer_eof && !c->in_handler && pn_buf_len(&c->engine.out) == 0) {
            pn_conn_close(c);
        }
    }
    Py_DECREF(c);
}

/* Bytes arrived (memory transport or socket). */
static void on_data(PnConnObject *c, const char *data, size_t n)
{
    if (pn_conn_feed(&c->engine, data, n) < 0) {
        pn_conn_close(c);
        return;
    }
    if (c->ws != NULL) {
        pn_ws_on_input((PnWSObject *)c->ws);
        return;
    }
    if (c->in_handler) {
        if (c->body_waiter) {
            pn_conn_wake_waiter(c, NULL);
        }
        if (c->fd >= 0 && pn_buf_len(&c->engine.in) > PAUSE_INPUT && !c->reading_paused) {
            c->reading_paused = 1;
            pn_server_update_interest(c->server, c);
        }
        return;
    }
    pn_conn_process(c);
}

static void on_eof(PnConnObject *c)
{
    if (c->ws != NULL) {
        pn_conn_close(c); /* a WebSocket peer that hangs up ends the session (1006) */
        return;
    }
    c->peer_eof = 1;
    pn_conn_feed_eof(&c->engine);
    if (c->fd >= 0) {
        c->reading_paused = 1; /* level-triggered EOF would fire forever */
        pn_server_update_interest(c->server, c);
    }
    if (c->in_handler) {
        pn_conn_wake_waiter(c, c->server->st->ClientDisconnect);
        wake(c, &c->disc_waiter, NULL); /* the client went away (or half-closed) */
        return;
    }
    pn_conn_process(c);
}

void pn_conn_on_readable(PnConnObject *c)
{
    char buf[READ_CHUNK];
    if (c->closed || c->reading_paused) {
        return;
    }
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n > 0) {
        on_data(c, buf, (size_t)n);
    } else if (n == 0) {
        on_eof(c);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        pn_conn_close(c);
    }
}

void pn_conn_on_writable(PnConnObject *c)
{
    if (pn_conn_flush_now(c) < 0) { /* the socket has room: no reason to wait for the batch's end */
        return;
    }
    if (!c->in_handler && pn_buf_len(&c->engine.out) == 0) {
        pn_conn_process(c);
    }
}

/* ---- the Python-visible side of a connection (used by in-memory transports) ---- */

static PyObject *conn_feed(PnConnObject *c, PyObject *arg)
{
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    Py_INCREF(c);
    if (!c->closed) {
        if (b.len == 0) {
            on_eof(c);
        } else {
            on_data(c, b.buf, (size_t)b.len);
        }
    }
    Py_DECREF(c);
    PyBuffer_Release(&b);
    Py_RETURN_NONE;
}

static PyObject *conn_output(PnConnObject *c, PyObject *unused)
{
    pn_slice_t out = pn_conn_output(&c->engine);
    PyObject *b = PyBytes_FromStringAndSize(out.len ? out.base : "", (Py_ssize_t)out.len);
    if (b != NULL) {
        pn_conn_output_done(&c->engine, out.len);
        if (c->drain_waiter != NULL) {
            wake(c, &c->drain_waiter, NULL); /* a writer waited for the reader to take output */
        }
        if (c->fd < 0 && pn_conn_closing(&c->engine)) {
            pn_conn_close(c);
        }
    }
    return b;
}

/* wait_output() -> a future resolved once output is pending or the connection closed. */
static PyObject *conn_wait_output(PnConnObject *c, PyObject *unused)
{
    if (c->output_waiter == NULL) {
        c->output_waiter = pn_conn_new_future(c);
        if (c->output_waiter == NULL) {
            return NULL;
        }
    }
    PyObject *fut = Py_NewRef(c->output_waiter);
    if (pn_buf_len(&c->engine.out) > 0 || pn_conn_closing(&c->engine) || c->closed) {
        wake(c, &c->output_waiter, NULL);
    }
    return fut;
}

static PyObject *conn_close_py(PnConnObject *c, PyObject *unused)
{
    pn_conn_close(c);
    Py_RETURN_NONE;
}

static PyObject *conn_get_closed(PnConnObject *c, void *closure)
{
    return PyBool_FromLong(c->closed || (c->fd < 0 && pn_conn_closing(&c->engine) &&
                                         pn_buf_len(&c->engine.out) == 0));
}

static PyObject *conn_get_busy(PnConnObject *c, void *closure)
{
    return PyBool_FromLong(c->in_handler);
}

static int conn_traverse(PnConnObject *c, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(c));
    Py_VISIT(c->server);
    Py_VISIT(c->request);
    Py_VISIT(c->pending);
    Py_VISIT(c->body_waiter);
    Py_VISIT(c->drain_waiter);
    Py_VISIT(c->disc_waiter);
    Py_VISIT(c->output_waiter);
    Py_VISIT(c->client_obj);
    Py_VISIT(c->server_obj);
    Py_VISIT(c->scheme);
    Py_VISIT(c->ws);
    Py_VISIT(c->stream_response);
    return 0;
}

static int conn_clear(PnConnObject *c)
{
    Py_CLEAR(c->request);
    Py_CLEAR(c->pending);
    Py_CLEAR(c->body_waiter);
    Py_CLEAR(c->drain_waiter);
    Py_CLEAR(c->disc_waiter);
    Py_CLEAR(c->output_waiter);
    Py_CLEAR(c->client_obj);
    Py_CLEAR(c->server_obj);
    Py_CLEAR(c->scheme);
    Py_CLEAR(c->ws);
    Py_CLEAR(c->stream_response);
    Py_CLEAR(c->server);
    return 0;
}

static void conn_dealloc(PnConnObject *c)
{
    PyTypeObject *tp = Py_TYPE(c);
    PyObject_GC_UnTrack(c);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    conn_clear(c);
    pn_conn_free(&c->engine);
    PyObject_GC_Del(c);
    Py_DECREF(tp);
}

static PyMethodDef conn_methods[] = {
    {"feed", (PyCFunction)conn_feed, METH_O, "feed received bytes (b'' = peer closed)"},
    {"output", (PyCFunction)conn_output, METH_NOARGS, "take the bytes to send"},
    {"close", (PyCFunction)conn_close_py, METH_NOARGS, "close the connection"},
    {"wait_output", (PyCFunction)conn_wait_output, METH_NOARGS,
     "a future resolved once output is pending or the connection is closed"},
    {NULL},
};

static PyGetSetDef conn_getset[] = {
    {"closed", (getter)conn_get_closed, NULL, "no more bytes will be produced", NULL},
    {"busy", (getter)conn_get_busy, NULL, "a handler is running", NULL},
    {NULL},
};

static PyType_Slot conn_slots[] = {
    {Py_tp_dealloc, conn_dealloc},
    {Py_tp_traverse, conn_traverse},
    {Py_tp_clear, conn_clear},
    {Py_tp_methods, conn_methods},
    {Py_tp_getset, conn_getset},
    {0, NULL},
};

PyType_Spec PnConn_spec = {
    .name = "pronghorn._core.Connection",
    .basicsize = sizeof(PnConnObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = conn_slots,
};
