/*
 * server.c — the built-in server (binding): one epoll set owned by C,
 * registered with the running asyncio loop through loop.add_reader().
 *
 * Owns: listening sockets (accept), the fd -> connection table, epoll
 * interest, the cached Date header, and the timer sweep (head timeout,
 * keep-alive timeout). When the epoll fd is readable one C callback drains
 * every ready connection: read, parse, call the handler, write.
 * Must not know about: HTTP syntax (conn.c/http1.c) or app semantics.
 */
#include "pymod.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LISTENER_BIT (1ull << 32)
#define MAX_EVENTS 256

double pn_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void update_date(PnServerObject *srv)
{
    time_t now = time(NULL);
    if (now == srv->date_second) {
        return;
    }
    srv->date_second = now;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(srv->date, sizeof(srv->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

void pn_server_log_exception(PnServerObject *srv, const char *msg)
{
    PyObject *type, *exc, *tb;
    PyErr_Fetch(&type, &exc, &tb);
    if (type == NULL) {
        return;
    }
    PyErr_NormalizeException(&type, &exc, &tb);
    if (tb != NULL) {
        PyException_SetTraceback(exc, tb);
    }
    PyObject *r = NULL;
    if (srv->logger != NULL) {
        PyObject *m = PyUnicode_FromString(msg);
        PyObject *kw = m ? Py_BuildValue("{OO}", srv->st->str_exc_info, exc) : NULL;
        PyObject *args = m ? PyTuple_Pack(1, m) : NULL;
        PyObject *meth = PyObject_GetAttr(srv->logger, srv->st->str_error);
        if (kw && args && meth) {
            r = PyObject_Call(meth, args, kw);
        }
        Py_XDECREF(m);
        Py_XDECREF(kw);
        Py_XDECREF(args);
        Py_XDECREF(meth);
    }
    if (r == NULL) {
        if (PyErr_Occurred()) {
            PyErr_Clear();
        }
        PyErr_Restore(type, exc, tb);
        PyErr_WriteUnraisable(NULL);
    } else {
        Py_XDECREF(type);
        Py_XDECREF(exc);
        Py_XDECREF(tb);
        Py_DECREF(r);
    }
}

void pn_server_update_interest(PnServerObject *srv, PnConnObject *c)
{
    if (c->fd < 0 || c->closed) {
        return;
    }
    struct epoll_event ev = {0};
    ev.events = (c->reading_paused ? 0 : (EPOLLIN | EPOLLRDHUP)) | (c->want_write ? EPOLLOUT : 0);
    ev.data.u64 = (uint64_t)c->fd;
    epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* The connection's fd is about to be closed: drop it from epoll and the table. */
void pn_server_forget(PnServerObject *srv, PnConnObject *c)
{
    int fd = c->fd;
    if (fd < 0 || fd >= srv->conns_cap || srv->conns[fd] != c) {
        return;
    }
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, fd, NULL);
    srv->conns[fd] = NULL;
    srv->n_conns--;
    Py_DECREF(c); /* the table's reference; the caller holds its own */
}

static int table_reserve(PnServerObject *srv, int fd)
{
    if (fd < srv->conns_cap) {
        return 0;
    }
    Py_ssize_t cap = srv->conns_cap ? srv->conns_cap : 1024;
    while (cap <= fd) {
        cap *= 2;
    }
    PnConnObject **t = PyMem_Realloc(srv->conns, sizeof(*t) * (size_t)cap);
    if (t == NULL) {
        return -1;
    }
    memset(t + srv->conns_cap, 0, sizeof(*t) * (size_t)(cap - srv->conns_cap));
    srv->conns = t;
    srv->conns_cap = cap;
    return 0;
}

static void accept_ready(PnServerObject *srv, int lfd)
{
    for (int i = 0; i < 64 && srv->accepting; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            return; /* EAGAIN, or EMFILE & co.: try again on the next wake-up */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        PnConnObject *c = NULL;
        if (table_reserve(srv, fd) < 0 || (c = pn_conn_new(srv, fd)) == NULL) {
            PyErr_Clear();
            close(fd);
            continue;
        }
        memcpy(&c->peer, &peer, plen);
        c->peer_len = plen;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)fd};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            c->fd = -1;
            close(fd);
            Py_DECREF(c);
            continue;
        }
        srv->conns[fd] = c; /* the table owns the new reference */
        srv->n_conns++;
        c->deadline_kind = PN_DEADLINE_HEAD;
        c->deadline = pn_monotonic() + srv->header_timeout;
        if (srv->local_len == 0) {
            srv->local_len = sizeof(srv->local);
            getsockname(fd, (struct sockaddr *)&srv->local, &srv->local_len);
        }
        /* Data often arrives with the connection: try it now. */
        Py_INCREF(c);
        pn_conn_on_readable(c);
        Py_DECREF(c);
    }
}

/* loop.add_reader callback: drain every ready fd of our epoll set. */
static PyObject *on_epoll(PnServerObject *srv, PyObject *unused)
{
    struct epoll_event evs[MAX_EVENTS];
    int n = epoll_wait(srv->epfd, evs, MAX_EVENTS, 0);
    if (n <= 0) {
        Py_RETURN_NONE;
    }
    update_date(srv);
    Py_INCREF(srv);
    srv->batching = 1;
    for (int i = 0; i < n; i++) {
        uint64_t data = evs[i].data.u64;
        int fd = (int)(data & 0xffffffffu);
        if (data & LISTENER_BIT) {
            accept_ready(srv, fd);
            continue;
        }
        if (fd >= srv->conns_cap || srv->conns[fd] == NULL) {
            continue;
        }
        PnConnObject *c = (PnConnObject *)Py_NewRef(srv->conns[fd]);
        uint32_t e = evs[i].events;
        if (e & EPOLLERR) {
            pn_conn_close(c);
        } else {
            if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
                pn_conn_on_readable(c);
            }
            if ((e & EPOLLOUT) && !c->closed) {
                pn_conn_on_writable(c);
            }
        }
        Py_DECREF(c);
    }
    srv->batching = 0;
    pn_conn_flush_batch(srv);
    Py_DECREF(srv);
    if (PyErr_Occurred()) {
        PyErr_WriteUnraisable((PyObject *)srv);
    }
    Py_RETURN_NONE;
}

static double sweep_interval(PnServerObject *srv)
{
    double t = srv->header_timeout < srv->keep_alive_timeout ? srv->header_timeout
                                                             : srv->keep_alive_timeout;
    t /= 4;
    return t < 0.05 ? 0.05 : (t > 1.0 ? 1.0 : t);
}

static int schedule_sweep(PnServerObject *srv)
{
    PyObject *delay = PyFloat_FromDouble(sweep_interval(srv));
    if (delay == NULL) {
        return -1;
    }
    PyObject *h = PyObject_CallMethodObjArgs(srv->loop, srv->st->str_call_later, delay,
                                             srv->sweep_cb, NULL);
    Py_DECREF(delay);
    if (h == NULL) {
        return -1;
    }
    Py_XSETREF(srv->sweep_handle, h);
    return 0;
}

/* Timer: enforce head and keep-alive timeouts. */
static PyObject *on_sweep(PnServerObject *srv, PyObject *unused)
{
    double now = pn_monotonic();
    update_date(srv);
    Py_INCREF(srv);
    for (Py_ssize_t fd = 0; fd < srv->conns_cap; fd++) {
        PnConnObject *c = srv->conns[fd];
        if (c != NULL && c->ws != NULL) {
            Py_INCREF(c);
            pn_ws_tick((PnWSObject *)c->ws, now);
            Py_DECREF(c);
            continue;
        }
        if (c == NULL || c->deadline == 0 || c->deadline > now) {
            continue;
        }
        Py_INCREF(c);
        if (c->deadline_kind == PN_DEADLINE_HEAD && pn_buf_len(&c->engine.in) > 0) {
            pn_conn_fail(&c->engine, 408, "request head not received in time");
            c->deadline = 0;
            pn_conn_flush_now(c); /* the 408 must leave before the close */
            if (!c->closed) {
                pn_conn_close(c);
            }
        } else {
            pn_conn_close(c);
        }
        Py_DECREF(c);
    }
    if (srv->loop != NULL && srv->sweep_cb != NULL && schedule_sweep(srv) < 0) {
        PyErr_WriteUnraisable((PyObject *)srv);
    }
    Py_DECREF(srv);
    Py_RETURN_NONE;
}


/* call_soon callback: send what handlers resumed by the loop wrote in this iteration. */
static PyObject *on_flush(PnServerObject *srv, PyObject *unused)
{
    srv->flush_scheduled = 0;
    Py_INCREF(srv);
    pn_conn_flush_batch(srv);
    Py_DECREF(srv);
    Py_RETURN_NONE;
}

static PyMethodDef on_flush_def = {"_on_flush", (PyCFunction)on_flush, METH_NOARGS, NULL};

int pn_server_schedule_flush(PnServerObject *srv)
{
    if (srv->flush_scheduled) {
        return 0;
    }
    PyObject *h = PyObject_CallMethodOneArg(srv->loop, srv->st->str_call_soon, srv->flush_cb);
    if (h == NULL) {
        return -1;
    }
    Py_DECREF(h);
    srv->flush_scheduled = 1;
    return 0;
}

static PyMethodDef on_epoll_def = {"_on_epoll", (PyCFunction)on_epoll, METH_NOARGS, NULL};
static PyMethodDef on_sweep_def = {"_on_sweep", (PyCFunction)on_sweep, METH_NOARGS, NULL};

/* ---- Python API ---- */

static int server_init(PnServerObject *srv, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"handler", "max_request_line", "max_head", "max_headers",
                             "max_body", "header_timeout", "keep_alive_timeout", "access_log",
                             "request_class", "app", "router", "slow_handler",
                             "slow_handler_threshold", NULL};
    PyObject *handler, *access_log = Py_None, *request_class = Py_None, *app = Py_None;
    PyObject *router = Py_None, *slow_handler = Py_None;
    double slow_threshold = 0.1;
    Py_ssize_t max_line = PN_HTTP1_DEFAULT_MAX_REQUEST_LINE, max_head = PN_HTTP1_DEFAULT_MAX_HEAD;
    Py_ssize_t max_headers = PN_HTTP1_DEFAULT_MAX_HEADERS;
    unsigned long long max_body = PN_HTTP1_DEFAULT_MAX_BODY;
    double header_timeout = 10.0, keep_alive_timeout = 5.0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$nnnKddOOOOOd", kwlist, &handler,
                                     &max_line, &max_head, &max_headers, &max_body,
                                     &header_timeout, &keep_alive_timeout, &access_log,
                                     &request_class, &app, &router, &slow_handler,
                                     &slow_threshold)) {
        return -1;
    }
    if (srv->handler != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Server already initialised");
        return -1;
    }
    if (!PyCallable_Check(handler)) {
        PyErr_SetString(PyExc_TypeError, "handler must be callable");
        return -1;
    }
    if (max_line < 16 || max_head < 64 || max_headers < 1 ||
        max_headers > PN_HTTP1_MAX_HEADERS_CAP || header_timeout <= 0 ||
        keep_alive_timeout <= 0) {
        PyErr_SetString(PyExc_ValueError, "limits and timeouts must be positive "
                                          "(max_headers at most 256)");
        return -1;
    }
    pn_state_t *st = srv->st;
    if (router != Py_None && !PyObject_TypeCheck(router, st->RouterType)) {
        PyErr_SetString(PyExc_TypeError, "router must be a pronghorn._core.Router");
        return -1;
    }
    if (request_class == Py_None) {
        PyObject *mod = PyImport_ImportModule("pronghorn.requests");
        if (mod == NULL) {
            return -1;
        }
        request_class = PyObject_GetAttrString(mod, "Request");
        Py_DECREF(mod);
        if (request_class == NULL) {
            return -1;
        }
    } else {
        Py_INCREF(request_class);
    }
    if (!PyType_Check(request_class) ||
        !PyType_IsSubtype((PyTypeObject *)request_class, st->RequestType)) {
        Py_DECREF(request_class);
        PyErr_SetString(PyExc_TypeError, "request_class must subclass pronghorn._core.Request");
        return -1;
    }
    srv->request_class = request_class;
    srv->handler = Py_NewRef(handler);
    srv->app = app == Py_None ? NULL : Py_NewRef(app);
    srv->router = router == Py_None ? NULL : Py_NewRef(router);
    srv->slow_handler = slow_handler == Py_None ? NULL : Py_NewRef(slow_handler);
    srv->slow_threshold = slow_threshold;
    srv->access_log = access_log == Py_None ? NULL : Py_NewRef(access_log);
    PyObject *logging = PyImport_ImportModule("logging");
    if (logging == NULL) {
        return -1;
    }
    srv->logger = PyObject_CallMethod(logging, "getLogger", "s", "pronghorn.error");
    Py_DECREF(logging);
    if (srv->logger == NULL) {
        return -1;
    }
    srv->scratch = PyMem_Calloc((size_t)max_headers, sizeof(pn_header_t));
    if (srv->scratch == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    srv->cfg.limits.max_request_line = (size_t)max_line;
    srv->cfg.limits.max_head = (size_t)max_head;
    srv->cfg.limits.max_headers = (size_t)max_headers;
    srv->cfg.limits.max_body = max_body;
    srv->cfg.max_drain = 64 * 1024;
    srv->cfg.date = srv->date;
    srv->cfg.scratch = srv->scratch;
    srv->header_timeout = header_timeout;
    srv->keep_alive_timeout = keep_alive_timeout;
    update_date(srv);
    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv->epfd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    srv->reader_cb = PyCFunction_New(&on_epoll_def, (PyObject *)srv);
    srv->sweep_cb = PyCFunction_New(&on_sweep_def, (PyObject *)srv);
    srv->flush_cb = PyCFunction_New(&on_flush_def, (PyObject *)srv);
    if (srv->reader_cb == NULL || srv->sweep_cb == NULL || srv->flush_cb == NULL) {
        return -1;
    }
    return 0;
}

static PyObject *server_listen(PnServerObject *srv, PyObject *arg)
{
    long lfd = PyLong_AsLong(arg);
    if (lfd == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (lfd < 0 || lfd > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "invalid file descriptor");
        return NULL;
    }
    int fd = (int)lfd;
    int *fds = PyMem_Realloc(srv->listen_fds, sizeof(int) * (size_t)(srv->n_listen + 1));
    if (fds == NULL) {
        return PyErr_NoMemory();
    }
    srv->listen_fds = fds;
    fds[srv->n_listen++] = fd;
    if (srv->accepting) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = LISTENER_BIT | (uint64_t)fd};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            return PyErr_SetFromErrno(PyExc_OSError);
        }
    }
    Py_RETURN_NONE;
}

static PyObject *server_start(PnServerObject *srv, PyObject *loop)
{
    if (srv->loop != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "server already started");
        return NULL;
    }
    srv->loop = Py_NewRef(loop);
    for (Py_ssize_t i = 0; i < srv->n_listen; i++) {
        struct epoll_event ev = {.events = EPOLLIN,
                                 .data.u64 = LISTENER_BIT | (uint64_t)srv->listen_fds[i]};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->listen_fds[i], &ev) < 0) {
            return PyErr_SetFromErrno(PyExc_OSError);
        }
    }
    srv->accepting = 1;
    PyObject *fd = PyLong_FromLong(srv->epfd);
    if (fd == NULL) {
        return NULL;
    }
    PyObject *r = PyObject_CallMethodObjArgs(loop, srv->st->str_add_reader, fd, srv->reader_cb,
                                             NULL);
    Py_DECREF(fd);
    if (r == NULL) {
        return NULL;
    }
    Py_DECREF(r);
    if (schedule_sweep(srv) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *server_stop_accepting(PnServerObject *srv, PyObject *unused)
{
    if (srv->accepting) {
        for (Py_ssize_t i = 0; i < srv->n_listen; i++) {
            epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->listen_fds[i], NULL);
        }
        srv->accepting = 0;
    }
    Py_RETURN_NONE;
}

static PyObject *server_shutdown(PnServerObject *srv, PyObject *unused)
{
    srv->shutting_down = 1;
    server_stop_accepting(srv, NULL);
    Py_INCREF(srv);
    for (Py_ssize_t fd = 0; fd < srv->conns_cap; fd++) {
        PnConnObject *c = srv->conns[fd];
        if (c == NULL) {
            continue;
        }
        Py_INCREF(c);
        if (c->ws != NULL) {
            pn_ws_on_shutdown((PnWSObject *)c->ws, 1001); /* going away */
        }
        pn_conn_close_soon(&c->engine);
        if (!c->in_handler) {
            pn_conn_flush(c);
        }
        Py_DECREF(c);
    }
    Py_DECREF(srv);
    Py_RETURN_NONE;
}

static void close_everything(PnServerObject *srv)
{
    for (Py_ssize_t fd = 0; fd < srv->conns_cap; fd++) {
        PnConnObject *c = srv->conns[fd];
        if (c != NULL) {
            Py_INCREF(c);
            pn_conn_close(c);
            Py_DECREF(c);
        }
    }
}

static PyObject *server_close_all(PnServerObject *srv, PyObject *unused)
{
    server_stop_accepting(srv, NULL);
    Py_INCREF(srv);
    close_everything(srv);
    if (srv->sweep_handle != NULL) {
        PyObject *r = PyObject_CallMethodNoArgs(srv->sweep_handle, srv->st->str_cancel);
        Py_XDECREF(r);
        Py_CLEAR(srv->sweep_handle);
    }
    if (srv->loop != NULL) {
        PyObject *fd = PyLong_FromLong(srv->epfd);
        PyObject *r = fd ? PyObject_CallMethodOneArg(srv->loop, srv->st->str_remove_reader, fd)
                         : NULL;
        Py_XDECREF(fd);
        Py_XDECREF(r);
        Py_CLEAR(srv->loop);
    }
    Py_DECREF(srv);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* An in-memory connection (no socket) driven with feed()/output(): the test client's transport. */
static PyObject *server_memory_connection(PnServerObject *srv, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"client", "server", "scheme", NULL};
    PyObject *client = Py_None, *server = Py_None, *scheme = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OOU", kwlist, &client, &server, &scheme)) {
        return NULL;
    }
    PnConnObject *c = pn_conn_new(srv, -1);
    if (c == NULL) {
        return NULL;
    }
    /* Reported as given (any host string): request.client, request.server, request.scheme. */
    c->client_obj = client == Py_None ? NULL : PySequence_Tuple(client);
    c->server_obj = server == Py_None ? NULL : PySequence_Tuple(server);
    c->scheme = scheme == Py_None ? NULL : Py_NewRef(scheme);
    if ((client != Py_None && c->client_obj == NULL) ||
        (server != Py_None && c->server_obj == NULL)) {
        Py_DECREF(c);
        return NULL;
    }
    return (PyObject *)c;
}

static PyObject *server_get_connections(PnServerObject *srv, void *closure)
{
    return PyLong_FromSsize_t(srv->n_conns);
}

static PyObject *server_get_active(PnServerObject *srv, void *closure)
{
    return PyLong_FromSsize_t(srv->active);
}

static int server_traverse(PnServerObject *srv, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(srv));
    Py_VISIT(srv->handler);
    Py_VISIT(srv->app);
    Py_VISIT(srv->router);
    Py_VISIT(srv->slow_handler);
    Py_VISIT(srv->request_class);
    Py_VISIT(srv->access_log);
    Py_VISIT(srv->logger);
    Py_VISIT(srv->loop);
    Py_VISIT(srv->reader_cb);
    Py_VISIT(srv->sweep_cb);
    Py_VISIT(srv->flush_cb);
    Py_VISIT(srv->sweep_handle);
    for (Py_ssize_t fd = 0; fd < srv->conns_cap; fd++) {
        Py_VISIT(srv->conns[fd]);
    }
    return 0;
}

static int server_clear(PnServerObject *srv)
{
    Py_CLEAR(srv->handler);
    Py_CLEAR(srv->app);
    Py_CLEAR(srv->router);
    Py_CLEAR(srv->slow_handler);
    Py_CLEAR(srv->request_class);
    Py_CLEAR(srv->access_log);
    Py_CLEAR(srv->logger);
    Py_CLEAR(srv->loop);
    Py_CLEAR(srv->reader_cb);
    Py_CLEAR(srv->sweep_cb);
    Py_CLEAR(srv->flush_cb);
    Py_CLEAR(srv->sweep_handle);
    for (Py_ssize_t fd = 0; fd < srv->conns_cap; fd++) {
        PnConnObject *c = srv->conns[fd];
        if (c != NULL) {
            srv->conns[fd] = NULL;
            if (c->fd >= 0) {
                close(c->fd);
                c->fd = -1;
            }
            c->closed = 1;
            Py_DECREF(c);
        }
    }
    srv->n_conns = 0;
    return 0;
}

static void server_dealloc(PnServerObject *srv)
{
    PyTypeObject *tp = Py_TYPE(srv);
    PyObject_GC_UnTrack(srv);
    server_clear(srv);
    if (srv->epfd >= 0) {
        close(srv->epfd);
    }
    PyMem_Free(srv->conns);
    PyMem_Free(srv->flushq);
    PyMem_Free(srv->listen_fds);
    PyMem_Free(srv->scratch);
    tp->tp_free(srv);
    Py_DECREF(tp);
}

static PyObject *server_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    PnServerObject *srv = (PnServerObject *)tp->tp_alloc(tp, 0);
    if (srv == NULL) {
        return NULL;
    }
    srv->st = pn_state_from_type(tp);
    srv->epfd = -1;
    srv->date_second = -1;
    return (PyObject *)srv;
}

static PyMethodDef server_methods[] = {
    {"listen", (PyCFunction)server_listen, METH_O, "serve a bound, listening socket fd"},
    {"start", (PyCFunction)server_start, METH_O, "start serving on the given event loop"},
    {"stop_accepting", (PyCFunction)server_stop_accepting, METH_NOARGS, NULL},
    {"shutdown", (PyCFunction)server_shutdown, METH_NOARGS,
     "graceful: close idle connections, close busy ones after their response"},
    {"close_all", (PyCFunction)server_close_all, METH_NOARGS, "close every connection now"},
    {"memory_connection", (PyCFunction)(void (*)(void))server_memory_connection,
     METH_VARARGS | METH_KEYWORDS, "a socket-less connection driven with feed()/output()"},
    {NULL},
};

static PyGetSetDef server_getset[] = {
    {"connections", (getter)server_get_connections, NULL, "open connections", NULL},
    {"active_requests", (getter)server_get_active, NULL, "requests being handled", NULL},
    {NULL},
};

static PyType_Slot server_slots[] = {
    {Py_tp_doc, "Server(handler, *, max_request_line, max_head, max_headers, max_body, "
                "header_timeout, keep_alive_timeout, access_log, request_class, app, router, "
                "slow_handler, slow_handler_threshold)"},
    {Py_tp_new, server_new},
    {Py_tp_init, server_init},
    {Py_tp_dealloc, server_dealloc},
    {Py_tp_traverse, server_traverse},
    {Py_tp_clear, server_clear},
    {Py_tp_methods, server_methods},
    {Py_tp_getset, server_getset},
    {0, NULL},
};

PyType_Spec PnServer_spec = {
    .name = "pronghorn._core.Server",
    .basicsize = sizeof(PnServerObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = server_slots,
};
