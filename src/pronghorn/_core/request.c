/*
 * request.c — the Request type (binding).
 *
 * Owns: a copy of the request head (one bytes object) plus the offsets of
 * method and target; everything else (path, query, headers, client) is turned
 * into Python objects only when first touched, by re-reading that copy.
 * The body is reached through the connection while this request is the
 * connection's current one; afterwards reading it raises.
 * Must not know about: routing or response types (the Python layer's job).
 */
#include "pymod.h"

#include <arpa/inet.h>
#include <string.h>

#include "url.h"

typedef struct {
    PyObject_HEAD
    PnConnObject *conn; /* strong; NULL once detached */
    unsigned long serial;
    PyObject *head;     /* bytes: the raw head */
    uint32_t method_off, method_len, target_off, target_len;
    int minor;
    unsigned flags; /* PN_REQ_* of the head */
    int body_eof;
    PyObject *method, *path, *raw_path, *query, *headers, *client, *server, *path_params;
    PyObject *scheme;
    PyObject *dict;
} PnRequestObject;

static int is_current(PnRequestObject *r);

static pn_state_t *req_state(PnRequestObject *r)
{
    return pn_state_from_type(Py_TYPE(r));
}

/* New reference to the interned str of a common method, else NULL (made when asked). */
static PyObject *known_method(pn_state_t *st, pn_slice_t m)
{
    PyObject *found = NULL;
    switch (m.len) {
    case 3:
        found = memcmp(m.base, "GET", 3) == 0 ? st->str_GET
                : memcmp(m.base, "PUT", 3) == 0 ? st->str_PUT : NULL;
        break;
    case 4:
        found = memcmp(m.base, "POST", 4) == 0 ? st->str_POST
                : memcmp(m.base, "HEAD", 4) == 0 ? st->str_HEAD : NULL;
        break;
    case 5:
        found = memcmp(m.base, "PATCH", 5) == 0 ? st->str_PATCH : NULL;
        break;
    case 6:
        found = memcmp(m.base, "DELETE", 6) == 0 ? st->str_DELETE : NULL;
        break;
    case 7:
        found = memcmp(m.base, "OPTIONS", 7) == 0 ? st->str_OPTIONS : NULL;
        break;
    default:
        break;
    }
    return Py_XNewRef(found);
}

PyObject *pn_request_new(PnConnObject *c, const pn_event_t *ev)
{
    PyTypeObject *tp = (PyTypeObject *)c->server->request_class;
    PnRequestObject *r = (PnRequestObject *)tp->tp_alloc(tp, 0);
    if (r == NULL) {
        return NULL;
    }
    r->head = PyBytes_FromStringAndSize(ev->head.base, (Py_ssize_t)ev->head.len);
    if (r->head == NULL) {
        Py_DECREF(r);
        return NULL;
    }
    const pn_http1_request_t *q = ev->req;
    r->method_off = (uint32_t)(q->method.base - ev->head.base);
    r->method_len = (uint32_t)q->method.len;
    r->target_off = (uint32_t)(q->target.base - ev->head.base);
    r->target_len = (uint32_t)q->target.len;
    r->minor = q->minor_version;
    r->flags = q->flags;
    r->method = known_method(c->server->st, q->method);
    r->conn = (PnConnObject *)Py_NewRef(c);
    r->serial = c->serial;
    return (PyObject *)r;
}

void pn_request_detach(PyObject *req)
{
    PnRequestObject *r = (PnRequestObject *)req;
    Py_CLEAR(r->conn);
}

static const char *head_at(PnRequestObject *r, uint32_t off)
{
    return PyBytes_AS_STRING(r->head) + off;
}

/* The path part of the target (origin-form as is; absolute-form without scheme://authority). */
static pn_slice_t path_part(PnRequestObject *r)
{
    const char *t = head_at(r, r->target_off);
    size_t len = pn_url_query_start(t, r->target_len);
    if (len > 0 && t[0] != '/' && !(len == 1 && t[0] == '*')) {
        const char *s = memchr(t, ':', len);
        if (s && (size_t)(s - t) + 3 <= len && s[1] == '/' && s[2] == '/') {
            const char *p = memchr(s + 3, '/', len - (size_t)(s + 3 - t));
            if (p == NULL) {
                return PN_SLICE_LIT("/");
            }
            return (pn_slice_t){p, len - (size_t)(p - t)};
        }
    }
    return (pn_slice_t){t, len};
}

static PyObject *get_method(PnRequestObject *r, void *closure)
{
    if (r->method == NULL) {
        r->method = PyUnicode_DecodeLatin1(head_at(r, r->method_off), r->method_len, NULL);
        if (r->method == NULL) {
            return NULL;
        }
        PyUnicode_InternInPlace(&r->method);
    }
    return Py_NewRef(r->method);
}

static PyObject *get_raw_path(PnRequestObject *r, void *closure)
{
    if (r->raw_path == NULL) {
        pn_slice_t p = path_part(r);
        r->raw_path = PyBytes_FromStringAndSize(p.base, (Py_ssize_t)p.len);
        if (r->raw_path == NULL) {
            return NULL;
        }
    }
    return Py_NewRef(r->raw_path);
}

static PyObject *get_path(PnRequestObject *r, void *closure)
{
    if (r->path == NULL) {
        pn_slice_t p = path_part(r);
        char stackbuf[512];
        char *out = p.len <= sizeof(stackbuf) ? stackbuf : PyMem_Malloc(p.len);
        if (out == NULL) {
            return PyErr_NoMemory();
        }
        size_t n = pn_url_unquote(p.base, p.len, out);
        r->path = PyUnicode_DecodeUTF8(out, (Py_ssize_t)n, "replace");
        if (out != stackbuf) {
            PyMem_Free(out);
        }
        if (r->path == NULL) {
            return NULL;
        }
    }
    return Py_NewRef(r->path);
}

PyObject *pn_request_method(PyObject *req)
{
    return get_method((PnRequestObject *)req, NULL);
}

PyObject *pn_request_path(PyObject *req)
{
    return get_path((PnRequestObject *)req, NULL);
}

static PyObject *get_query(PnRequestObject *r, void *closure)
{
    if (r->query == NULL) {
        const char *t = head_at(r, r->target_off);
        size_t q = pn_url_query_start(t, r->target_len);
        size_t start = q < r->target_len ? q + 1 : q;
        r->query = PyBytes_FromStringAndSize(t + start, (Py_ssize_t)(r->target_len - start));
        if (r->query == NULL) {
            return NULL;
        }
    }
    return Py_NewRef(r->query);
}

static PyObject *get_target(PnRequestObject *r, void *closure)
{
    return PyUnicode_DecodeLatin1(head_at(r, r->target_off), r->target_len, NULL);
}

static PyObject *get_version(PnRequestObject *r, void *closure)
{
    return PyUnicode_FromString(r->minor ? "1.1" : "1.0");
}

int pn_request_fields(PyObject *req, pn_http1_request_t *q, pn_header_t *fields)
{
    PnRequestObject *r = (PnRequestObject *)req;
    /* Re-parse our copy of the (already validated) head to find the fields. */
    memset(q, 0, sizeof(*q));
    q->headers = fields;
    pn_http1_limits_t lim = {(size_t)-1, (size_t)-1, PN_HTTP1_MAX_HEADERS_CAP, UINT64_MAX};
    pn_http1_error_t err;
    const char *base = PyBytes_AS_STRING(r->head);
    if (pn_http1_parse_request(base, (size_t)PyBytes_GET_SIZE(r->head), &lim, q, &err) < 0) {
        PyErr_SetString(PyExc_RuntimeError, "request head no longer parses");
        return -1;
    }
    return 0;
}

unsigned pn_request_flags(PyObject *req)
{
    return ((PnRequestObject *)req)->flags;
}

int pn_request_query_slice(PyObject *req, pn_slice_t *out)
{
    PnRequestObject *r = (PnRequestObject *)req;
    if (r->head == NULL) {
        return -1;
    }
    const char *t = head_at(r, r->target_off);
    size_t q = pn_url_query_start(t, r->target_len);
    size_t start = q < r->target_len ? q + 1 : q;
    *out = (pn_slice_t){t + start, r->target_len - start};
    return 0;
}

PyObject *pn_request_path_params_borrowed(PyObject *req)
{
    return ((PnRequestObject *)req)->path_params;
}

PyObject *pn_request_dict_borrowed(PyObject *req)
{
    return ((PnRequestObject *)req)->dict;
}

PnConnObject *pn_request_conn(PyObject *req)
{
    PnRequestObject *r = (PnRequestObject *)req;
    return is_current(r) ? r->conn : NULL;
}

static PyObject *get_headers(PnRequestObject *r, void *closure)
{
    if (r->headers != NULL) {
        return Py_NewRef(r->headers);
    }
    pn_header_t fields[PN_HTTP1_MAX_HEADERS_CAP];
    pn_http1_request_t q;
    if (pn_request_fields((PyObject *)r, &q, fields) < 0) {
        return NULL;
    }
    PyObject *list = PyList_New((Py_ssize_t)q.num_headers);
    if (list == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < q.num_headers; i++) {
        PyObject *name = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)fields[i].name.len);
        if (name == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        char *n = PyBytes_AS_STRING(name);
        for (size_t k = 0; k < fields[i].name.len; k++) {
            char ch = fields[i].name.base[k];
            n[k] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
        }
        PyObject *item = Py_BuildValue("(Ny#)", name, fields[i].value.base,
                                       (Py_ssize_t)fields[i].value.len);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    r->headers = list;
    return Py_NewRef(list);
}

static PyObject *addr_tuple(const struct sockaddr_storage *ss, socklen_t len)
{
    char host[INET6_ADDRSTRLEN];
    if (len == 0) {
        Py_RETURN_NONE;
    }
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        return Py_BuildValue("(si)", host, ntohs(a->sin_port));
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        return Py_BuildValue("(si)", host, ntohs(a->sin6_port));
    }
    Py_RETURN_NONE;
}

PyObject *pn_addr_tuple(const struct sockaddr_storage *ss, socklen_t len)
{
    return addr_tuple(ss, len);
}

static PyObject *get_client(PnRequestObject *r, void *closure)
{
    if (r->client == NULL) {
        if (r->conn == NULL) {
            Py_RETURN_NONE;
        }
        PnConnObject *c = r->conn;
        if (c->client_obj == NULL) {
            c->client_obj = addr_tuple(&c->peer, c->peer_len); /* once per connection */
            if (c->client_obj == NULL) {
                return NULL;
            }
        }
        r->client = Py_NewRef(c->client_obj);
    }
    return Py_NewRef(r->client);
}

static PyObject *get_server(PnRequestObject *r, void *closure)
{
    if (r->server == NULL) {
        if (r->conn == NULL) {
            Py_RETURN_NONE;
        }
        PnConnObject *c = r->conn;
        if (c->server_obj == NULL) {
            c->server_obj = addr_tuple(&c->server->local, c->server->local_len);
            if (c->server_obj == NULL) {
                return NULL;
            }
        }
        r->server = Py_NewRef(c->server_obj);
    }
    return Py_NewRef(r->server);
}

static PyObject *get_app(PnRequestObject *r, void *closure)
{
    if (r->conn == NULL || r->conn->server->app == NULL) {
        Py_RETURN_NONE;
    }
    return Py_NewRef(r->conn->server->app);
}

static PyObject *get_scheme(PnRequestObject *r, void *closure)
{
    if (r->scheme != NULL) {
        return Py_NewRef(r->scheme);
    }
    if (r->conn != NULL && r->conn->scheme != NULL) {
        return Py_NewRef(r->conn->scheme);
    }
    return PyUnicode_FromString("http");
}

/* Proxy support: the scheme and client seen by the app may be set (X-Forwarded-*). */
static int set_scheme(PnRequestObject *r, PyObject *v, void *closure)
{
    if (v != NULL && !PyUnicode_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "scheme must be str");
        return -1;
    }
    Py_XSETREF(r->scheme, Py_XNewRef(v));
    return 0;
}

static int set_client(PnRequestObject *r, PyObject *v, void *closure)
{
    Py_XSETREF(r->client, Py_XNewRef(v));
    return 0;
}

static PyObject *get_path_params(PnRequestObject *r, void *closure)
{
    if (r->path_params == NULL) {
        r->path_params = PyDict_New();
        if (r->path_params == NULL) {
            return NULL;
        }
    }
    return Py_NewRef(r->path_params);
}

void pn_request_set_path_params(PyObject *req, PyObject *params)
{
    PnRequestObject *r = (PnRequestObject *)req;
    Py_XSETREF(r->path_params, params);
}

static int set_path_params(PnRequestObject *r, PyObject *v, void *closure)
{
    Py_XSETREF(r->path_params, Py_XNewRef(v));
    return 0;
}

static int is_current(PnRequestObject *r)
{
    return r->conn != NULL && !r->conn->closed && r->conn->request == (PyObject *)r &&
           r->conn->serial == r->serial;
}

/*
 * _read() -> bytes | b"" | Future
 * The next run of body bytes, b"" at the end of the body, or a future to
 * await before calling again. Raises ClientDisconnect / ProtocolError.
 */
static PyObject *req_read(PnRequestObject *r, PyObject *unused)
{
    pn_state_t *st = req_state(r);
    if (r->body_eof) {
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    if (!is_current(r)) {
        if (r->conn != NULL && r->conn->closed) {
            PyErr_SetString(st->ClientDisconnect, "client disconnected");
        } else {
            PyErr_SetString(PyExc_RuntimeError,
                            "the request body can only be read while the request is handled");
        }
        return NULL;
    }
    PnConnObject *c = r->conn;
    if (c->body_waiter != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the request body is already being read");
        return NULL;
    }
    pn_conn_want_body(&c->engine);
    pn_event_t ev;
    int t = pn_conn_next(&c->engine, &ev);
    if (pn_buf_len(&c->engine.out) > 0) {
        Py_INCREF(c);
        pn_conn_flush(c);
        int gone = c->closed;
        Py_DECREF(c);
        if (gone && t != PN_EV_BODY && t != PN_EV_BODY_END) {
            PyErr_SetString(st->ClientDisconnect, "client disconnected");
            return NULL;
        }
    }
    switch (t) {
    case PN_EV_BODY:
        return PyBytes_FromStringAndSize(ev.data.base, (Py_ssize_t)ev.data.len);
    case PN_EV_BODY_END:
        r->body_eof = 1;
        return PyBytes_FromStringAndSize(NULL, 0);
    case PN_EV_ERROR:
        PyErr_Format(st->ProtocolError, "%d %s", ev.error.status,
                     ev.error.reason ? ev.error.reason : "malformed request body");
        return NULL;
    default:
        break;
    }
    if (c->peer_eof || c->closed) {
        PyErr_SetString(st->ClientDisconnect, "client disconnected before the body was complete");
        return NULL;
    }
    PyObject *fut = pn_conn_new_future(c);
    if (fut == NULL) {
        return NULL;
    }
    c->body_waiter = Py_NewRef(fut);
    if (c->reading_paused) {
        c->reading_paused = 0;
        pn_server_update_interest(c->server, c);
    }
    return fut;
}

/* The connection this request may still write to, or NULL with an exception. */
static PnConnObject *writable_conn(PnRequestObject *r)
{
    if (!is_current(r)) {
        if (r->conn != NULL && r->conn->closed) {
            PyErr_SetString(req_state(r)->ClientDisconnect, "client disconnected");
        } else {
            PyErr_SetString(PyExc_RuntimeError, "the response of this request is already complete");
        }
        return NULL;
    }
    return r->conn;
}

/* Write the response head (length -1: the declared Content-Length, else chunked). */
static PyObject *start(PnRequestObject *r, long status, PyObject *headers, long long length)
{
    PnConnObject *c = writable_conn(r);
    if (c == NULL) {
        return NULL;
    }
    pn_header_t stack[32];
    pn_header_t *hs;
    Py_ssize_t n;
    PyObject *keep;
    if (pn_headers_from_seq(headers, stack, 32, &hs, &n, &keep) < 0) {
        return NULL;
    }
    int rc = pn_conn_response_start(&c->engine, (int)status, hs, (size_t)n, length < 0 ? -1 : length);
    if (rc == 0) {
        c->streamed = 1;
    }
    if (hs != stack) {
        PyMem_Free(hs);
    }
    Py_DECREF(keep);
    if (pn_conn_check(c, rc) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* _start(status, headers, content_length=-1): write the response head. */
static PyObject *req_start(PnRequestObject *r, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 2 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "_start(status, headers, content_length=-1)");
        return NULL;
    }
    long status = PyLong_AsLong(args[0]);
    long long length = nargs == 3 ? PyLong_AsLongLong(args[2]) : -1;
    if (PyErr_Occurred()) {
        return NULL;
    }
    return start(r, status, args[1], length);
}

/* _write(data) -> None, or a future to await before writing more (backpressure). */
static PyObject *req_write(PnRequestObject *r, PyObject *data)
{
    PnConnObject *c = writable_conn(r);
    if (c == NULL) {
        return NULL;
    }
    Py_buffer b;
    if (PyObject_GetBuffer(data, &b, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    int rc = pn_conn_response_body(&c->engine, b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    if (pn_conn_check(c, rc) < 0) {
        return NULL;
    }
    Py_INCREF(c);
    pn_conn_flush(c);
    PyObject *res = pn_conn_drained(c);
    Py_DECREF(c);
    return res;
}

/* _sendfile(fd, offset, count) -> None or a future resolved once the file is sent. */
static PyObject *req_sendfile(PnRequestObject *r, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_sendfile(fd, offset, count)");
        return NULL;
    }
    PnConnObject *c = writable_conn(r);
    if (c == NULL) {
        return NULL;
    }
    int fd = PyObject_AsFileDescriptor(args[0]);
    long long off = PyLong_AsLongLong(args[1]);
    long long count = PyLong_AsLongLong(args[2]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (off < 0 || count < 0) {
        PyErr_SetString(PyExc_ValueError, "offset and count must be >= 0");
        return NULL;
    }
    return pn_conn_sendfile(c, fd, (off_t)off, (uint64_t)count);
}

/* _end(): finish the response. */
static PyObject *req_end(PnRequestObject *r, PyObject *unused)
{
    PnConnObject *c = writable_conn(r);
    if (c == NULL) {
        return NULL;
    }
    int rc = pn_conn_response_end(&c->engine);
    Py_INCREF(c);
    pn_conn_flush(c);
    Py_DECREF(c);
    if (pn_conn_check(c, rc) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/*
 * _receive() -> (data, more_body) | Future
 * ASGI-shaped body reads: like _read(), but says whether more body follows.
 */
static PyObject *req_receive(PnRequestObject *r, PyObject *unused)
{
    if (r->body_eof) {
        return PyTuple_Pack(2, req_state(r)->empty_bytes, Py_False);
    }
    PyObject *chunk = req_read(r, NULL);
    if (chunk == NULL || !PyBytes_Check(chunk)) {
        return chunk; /* error, or a future to await */
    }
    int more = PyBytes_GET_SIZE(chunk) > 0 && !(r->conn != NULL && r->conn->engine.body_done &&
                                                r->conn->engine.state == PN_CONN_REQUEST);
    if (!more) {
        r->body_eof = 1;
    }
    PyObject *t = PyTuple_Pack(2, chunk, more ? Py_True : Py_False);
    Py_DECREF(chunk);
    return t;
}

/* _disconnected() -> None if the exchange is over (peer gone or response sent), else a
 * future resolved when it is. */
static PyObject *req_disconnected(PnRequestObject *r, PyObject *unused)
{
    if (!is_current(r) || r->conn->peer_eof) {
        Py_RETURN_NONE;
    }
    PnConnObject *c = r->conn;
    if (c->disc_waiter == NULL) {
        c->disc_waiter = pn_conn_new_future(c);
        if (c->disc_waiter == NULL) {
            return NULL;
        }
    }
    return Py_NewRef(c->disc_waiter);
}

static int set_item(PyObject *d, PyObject *key, PyObject *value)
{
    if (value == NULL) {
        return -1;
    }
    int rc = PyDict_SetItem(d, key, value);
    Py_DECREF(value);
    return rc;
}

/* A new dict of n (interned key, new reference) pairs; NULL if a value is NULL. */
static PyObject *dict_of(int n, PyObject *const *kv)
{
    PyObject *d = PyDict_New();
    for (int i = 0; i < n; i++) {
        if (d != NULL && set_item(d, kv[2 * i], kv[2 * i + 1]) < 0) {
            Py_CLEAR(d);
        } else if (d == NULL) {
            Py_XDECREF(kv[2 * i + 1]);
        }
    }
    return d;
}

/*
 * _asgi_scope(root_path: str, state: dict | None) -> dict
 * The ASGI 3.0 HTTP scope of this request (spec 2.4): path is root_path +
 * the percent-decoded path, raw_path the raw path bytes, headers the
 * lowercased (name, value) pairs in order.
 */
static PyObject *req_asgi_scope(PnRequestObject *r, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_asgi_scope(root_path: str, state: dict | None)");
        return NULL;
    }
    pn_state_t *st = req_state(r);
    PyObject *root_path = args[0], *state = args[1];
    PyObject *path = get_path(r, NULL);
    if (path != NULL && PyUnicode_GET_LENGTH(root_path) > 0) {
        Py_SETREF(path, PyUnicode_Concat(root_path, path));
    }
    PyObject *asgi[] = {st->str_version, Py_NewRef(st->str_3_0),
                        st->str_spec_version, Py_NewRef(st->str_2_4)};
    PyObject *extensions[] = {st->str_http_response_pathsend, PyDict_New()};
    PyObject *kv[] = {
        st->str_type, Py_NewRef(st->str_http),
        st->str_asgi, dict_of(2, asgi),
        st->str_http_version, get_version(r, NULL),
        st->str_method, get_method(r, NULL),
        st->str_scheme, get_scheme(r, NULL),
        st->str_path, path,
        st->str_raw_path, get_raw_path(r, NULL),
        st->str_query_string, get_query(r, NULL),
        st->str_root_path, Py_NewRef(root_path),
        st->str_headers, get_headers(r, NULL),
        st->str_client, get_client(r, NULL),
        st->str_server, get_server(r, NULL),
        st->str_extensions, dict_of(1, extensions),
        st->str_state, state == Py_None ? NULL : PyDict_Copy(state),
    };
    int n = (int)(sizeof(kv) / sizeof(kv[0]) / 2) - (state == Py_None);
    return dict_of(n, kv);
}

/* ---- direct calls for exchange.c ---- */

PyObject *pn_request_receive(PyObject *req)
{
    return req_receive((PnRequestObject *)req, NULL);
}

PyObject *pn_request_disconnected(PyObject *req)
{
    return req_disconnected((PnRequestObject *)req, NULL);
}

PyObject *pn_request_start(PyObject *req, int status, PyObject *headers, Py_ssize_t length)
{
    return start((PnRequestObject *)req, status, headers, length);
}

PyObject *pn_request_write(PyObject *req, PyObject *data)
{
    return req_write((PnRequestObject *)req, data);
}

PyObject *pn_request_end(PyObject *req)
{
    return req_end((PnRequestObject *)req, NULL);
}

static PyObject *req_is_disconnected(PnRequestObject *r, PyObject *unused)
{
    return PyBool_FromLong(r->conn == NULL || r->conn->closed || r->conn->peer_eof);
}

static int req_traverse(PnRequestObject *r, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(r));
    Py_VISIT(r->conn);
    Py_VISIT(r->path_params);
    Py_VISIT(r->dict);
    return 0;
}

static int req_clear(PnRequestObject *r)
{
    Py_CLEAR(r->conn);
    Py_CLEAR(r->head);
    Py_CLEAR(r->method);
    Py_CLEAR(r->path);
    Py_CLEAR(r->raw_path);
    Py_CLEAR(r->query);
    Py_CLEAR(r->headers);
    Py_CLEAR(r->client);
    Py_CLEAR(r->server);
    Py_CLEAR(r->path_params);
    Py_CLEAR(r->scheme);
    Py_CLEAR(r->dict);
    return 0;
}

static void req_dealloc(PnRequestObject *r)
{
    PyTypeObject *tp = Py_TYPE(r);
    PyObject_GC_UnTrack(r);
    req_clear(r);
    tp->tp_free(r);
    Py_DECREF(tp);
}

static PyObject *req_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    PyErr_SetString(PyExc_TypeError, "Request objects are created by the server");
    return NULL;
}

static PyGetSetDef req_getset[] = {
    {"method", (getter)get_method, NULL, "request method, e.g. 'GET'", NULL},
    {"path", (getter)get_path, NULL, "percent-decoded path", NULL},
    {"raw_path", (getter)get_raw_path, NULL, "path bytes as received", NULL},
    {"query_string", (getter)get_query, NULL, "query bytes after '?' (raw)", NULL},
    {"target", (getter)get_target, NULL, "the request-target as received", NULL},
    {"http_version", (getter)get_version, NULL, "'1.0' or '1.1'", NULL},
    {"raw_headers", (getter)get_headers, NULL, "list of (lowercased name, value) bytes pairs", NULL},
    {"app", (getter)get_app, NULL, "the application the server serves", NULL},
    {"is_websocket", (getter)pn_ws_request_is_websocket, NULL,
     "the request asks for an upgrade to WebSocket", NULL},
    {"client", (getter)get_client, (setter)set_client, "(host, port) of the peer", NULL},
    {"server", (getter)get_server, NULL, "(host, port) of the local socket", NULL},
    {"scheme", (getter)get_scheme, (setter)set_scheme, "'http' unless set", NULL},
    {"path_params", (getter)get_path_params, (setter)set_path_params, "path parameters", NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL},
};

static PyMethodDef req_methods[] = {
    {"_read", (PyCFunction)req_read, METH_NOARGS, "next body bytes, b'' at end, or a future"},
    {"_is_disconnected", (PyCFunction)req_is_disconnected, METH_NOARGS, NULL},
    {"_start", (PyCFunction)(void (*)(void))req_start, METH_FASTCALL,
     "_start(status, headers, content_length=-1): write the response head"},
    {"_write", (PyCFunction)req_write, METH_O,
     "_write(data) -> None or a future to await (output backpressure)"},
    {"_sendfile", (PyCFunction)(void (*)(void))req_sendfile, METH_FASTCALL,
     "_sendfile(fd, offset, count) -> None or a future resolved once sent"},
    {"_end", (PyCFunction)req_end, METH_NOARGS, "_end(): finish the response"},
    {"_ws_check", (PyCFunction)pn_ws_request_check, METH_NOARGS,
     "None for a valid WebSocket opening handshake, else (status, reason)"},
    {"_ws_subprotocols", (PyCFunction)pn_ws_request_subprotocols, METH_NOARGS,
     "the subprotocols the client offers, in order"},
    {"_ws_accept", (PyCFunction)(void (*)(void))pn_ws_request_accept,
     METH_VARARGS | METH_KEYWORDS, "accept the WebSocket: write the 101, return a session"},
    {"_receive", (PyCFunction)req_receive, METH_NOARGS,
     "_receive() -> (data, more_body) or a future to await first"},
    {"_disconnected", (PyCFunction)req_disconnected, METH_NOARGS,
     "None if the exchange is over, else a future resolved when it is"},
    {"_asgi_scope", (PyCFunction)(void (*)(void))req_asgi_scope, METH_FASTCALL,
     "_asgi_scope(root_path, state) -> the ASGI HTTP scope dict"},
    {NULL},
};

static PyMemberDef req_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(PnRequestObject, dict), READONLY},
    {NULL},
};

static PyType_Slot req_slots[] = {
    {Py_tp_doc, "An HTTP request (created by the server)."},
    {Py_tp_new, req_new},
    {Py_tp_dealloc, req_dealloc},
    {Py_tp_traverse, req_traverse},
    {Py_tp_clear, req_clear},
    {Py_tp_getset, req_getset},
    {Py_tp_methods, req_methods},
    {Py_tp_members, req_members},
    {0, NULL},
};

PyType_Spec PnRequest_spec = {
    .name = "pronghorn._core.Request",
    .basicsize = sizeof(PnRequestObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = req_slots,
};
