/*
 * websocket.c — WebSocket sessions (binding of ws.c, utf8.c, wsdeflate.c).
 *
 * Owns: accepting an upgrade (handshake check, permessage-deflate
 * negotiation, the 101 through conn.c's writer), then the session on the
 * upgraded connection: frames in -> messages queued for receive(), send()
 * -> frames out, automatic pongs, server pings with a pong timeout, the
 * close handshake with a timeout, failing the connection with the right
 * close code (1002/1007/1009) on protocol errors, and backpressure both
 * ways (at most max_queue received messages are held; send() returns a
 * future while output is queued).
 *
 * Invariants: after the 101 the connection's input belongs to this session
 * (connection.c routes it here, handler running or not); once a close frame
 * has been sent nothing else is sent; once the close handshake completed
 * (or failed, or timed out) the TCP connection is closed after flushing.
 * Must not know about: routing, the Python WebSocket API (websockets.py).
 */
#include "pymod.h"

#include <string.h>

#include "utf8.h"
#include "ws.h"
#include "wsdeflate.h"

struct PnWSObject {
    PyObject_HEAD
    PnConnObject *conn;       /* strong; NULL once the connection is gone */
    pn_ws_parser_t parser;
    pn_wsdeflate_t *deflate;  /* NULL unless permessage-deflate was agreed */
    pn_buf_t msg;             /* the data message being assembled */
    pn_utf8_t text;           /* UTF-8 state of a compressed text message */
    int msg_opcode;
    int msg_compressed;
    PyObject *queue;          /* list of received items (str, bytes) */
    Py_ssize_t max_queue;
    PyObject *waiter;         /* future for receive(), or NULL */
    PyObject *closed_item;    /* (code, reason) once the session ended, else NULL */
    PyObject *subprotocol;    /* str or None */
    int close_sent;
    int close_received;
    int failed;
    double ping_interval, ping_timeout, close_timeout;
    double next_ping, pong_deadline, close_deadline;
};

static pn_state_t *ws_state(PnWSObject *ws)
{
    return pn_state_from_type(Py_TYPE(ws));
}

/* ---- the request side: checking and accepting the upgrade ---- */

static int ws_token_in(const pn_header_t *h, size_t n, const char *name, const char *token)
{
    for (size_t i = 0; i < n; i++) {
        if (!pn_slice_ieq(h[i].name, name)) {
            continue;
        }
        pn_slice_t v = h[i].value;
        size_t k = 0;
        while (k < v.len) {
            while (k < v.len && (v.base[k] == ' ' || v.base[k] == '\t' || v.base[k] == ',')) {
                k++;
            }
            size_t start = k;
            while (k < v.len && v.base[k] != ',' && v.base[k] != ' ' && v.base[k] != '\t') {
                k++;
            }
            if (pn_slice_ieq((pn_slice_t){v.base + start, k - start}, token)) {
                return 1;
            }
        }
    }
    return 0;
}

PyObject *pn_ws_request_is_websocket(PyObject *req, void *closure)
{
    if (!(pn_request_flags(req) & PN_REQ_UPGRADE)) {
        Py_RETURN_FALSE;
    }
    pn_header_t fields[PN_HTTP1_MAX_HEADERS_CAP];
    pn_http1_request_t q;
    if (pn_request_fields(req, &q, fields) < 0) {
        return NULL;
    }
    return PyBool_FromLong(ws_token_in(fields, q.num_headers, "upgrade", "websocket"));
}

PyObject *pn_ws_request_check(PyObject *req, PyObject *unused)
{
    pn_header_t fields[PN_HTTP1_MAX_HEADERS_CAP];
    pn_http1_request_t q;
    if (pn_request_fields(req, &q, fields) < 0) {
        return NULL;
    }
    pn_ws_handshake_t hs;
    if (pn_ws_handshake_check(q.method, q.minor_version, fields, q.num_headers, &hs) == 0) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(is)", hs.status, hs.reason ? hs.reason : "bad WebSocket handshake");
}

PyObject *pn_ws_request_subprotocols(PyObject *req, PyObject *unused)
{
    pn_header_t fields[PN_HTTP1_MAX_HEADERS_CAP];
    pn_http1_request_t q;
    if (pn_request_fields(req, &q, fields) < 0) {
        return NULL;
    }
    pn_slice_t found[32];
    ssize_t n = pn_ws_subprotocols(fields, q.num_headers, found, 32);
    if (n < 0) {
        return PyList_New(0);
    }
    if (n > 32) {
        n = 32;
    }
    PyObject *list = PyList_New(n);
    for (ssize_t i = 0; list && i < n; i++) {
        PyObject *s = PyUnicode_DecodeLatin1(found[i].base, (Py_ssize_t)found[i].len, NULL);
        if (s == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, s);
    }
    return list;
}

static void ws_flush(PnWSObject *ws);

/* Queue a frame; returns 0 or -1 (exception set). */
static int ws_put(PnWSObject *ws, unsigned opcode, unsigned flags, const char *data, size_t len)
{
    PnConnObject *c = ws->conn;
    if (c == NULL || c->closed) {
        PyErr_SetString(ws_state(ws)->ClientDisconnect, "WebSocket connection closed");
        return -1;
    }
    uint8_t head[PN_WS_MAX_HEADER];
    size_t hl = pn_ws_write_header(head, opcode, flags, len, NULL);
    if (pn_buf_append(&c->engine.out, head, hl) < 0 ||
        pn_buf_append(&c->engine.out, data, len) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* End the session: record why, wake receive(), and close TCP once the output is flushed. */
static void ws_finish(PnWSObject *ws, unsigned code, const char *reason, size_t reason_len)
{
    if (ws->closed_item == NULL) {
        ws->closed_item = Py_BuildValue("(Is#)", code, reason ? reason : "", (Py_ssize_t)reason_len);
        if (ws->closed_item == NULL) {
            PyErr_Clear();
            ws->closed_item = Py_BuildValue("(Is)", code, "");
        }
    }
    if (ws->waiter != NULL) {
        PyObject *fut = ws->waiter;
        ws->waiter = NULL;
        PyObject *r = PyObject_CallMethod(fut, "done", NULL);
        if (r != NULL && r == Py_False) {
            Py_XDECREF(PyObject_CallMethod(fut, "set_result", "O", Py_None));
        }
        Py_XDECREF(r);
        PyErr_Clear();
        Py_DECREF(fut);
    }
}

static void ws_send_close(PnWSObject *ws, unsigned code, const char *reason, size_t len)
{
    if (ws->close_sent || ws->conn == NULL || ws->conn->closed) {
        return;
    }
    uint8_t frame[PN_WS_MAX_CONTROL_FRAME];
    ssize_t n = pn_ws_write_close(frame, code, reason, len, NULL);
    if (n < 0) {
        n = pn_ws_write_close(frame, PN_WS_CLOSE_INTERNAL_ERROR, NULL, 0, NULL);
    }
    if (n > 0 && pn_buf_append(&ws->conn->engine.out, frame, (size_t)n) == 0) {
        ws->close_sent = 1;
        ws->close_deadline = pn_monotonic() + ws->close_timeout;
    }
}

/* Close the TCP connection once our output is flushed (close handshake done or failed). */
static void ws_hang_up(PnWSObject *ws)
{
    if (ws->conn != NULL && !ws->conn->closed) {
        pn_conn_abort(&ws->conn->engine); /* flush, then close */
    }
}

static void ws_fail(PnWSObject *ws, const pn_ws_error_t *err)
{
    ws->failed = 1;
    ws_send_close(ws, err->close_code, err->reason, err->reason ? strlen(err->reason) : 0);
    ws_finish(ws, err->close_code, err->reason, err->reason ? strlen(err->reason) : 0);
    ws_hang_up(ws);
}

static int ws_enqueue(PnWSObject *ws, PyObject *item)
{
    if (item == NULL) {
        return -1;
    }
    int rc = PyList_Append(ws->queue, item);
    Py_DECREF(item);
    if (rc == 0 && ws->waiter != NULL) {
        PyObject *fut = ws->waiter;
        ws->waiter = NULL;
        Py_XDECREF(PyObject_CallMethod(fut, "set_result", "O", Py_None));
        PyErr_Clear();
        Py_DECREF(fut);
    }
    return rc;
}

/* A complete data message is in ws->msg. */
static int ws_message_done(PnWSObject *ws)
{
    const char *p = pn_buf_len(&ws->msg) ? pn_buf_ptr(&ws->msg) : "";
    Py_ssize_t n = (Py_ssize_t)pn_buf_len(&ws->msg);
    PyObject *item = ws->msg_opcode == PN_WS_OP_TEXT ? PyUnicode_DecodeUTF8(p, n, "strict")
                                                      : PyBytes_FromStringAndSize(p, n);
    pn_buf_consume(&ws->msg, pn_buf_len(&ws->msg));
    if (ws->msg.cap > 64 * 1024) {
        pn_buf_free(&ws->msg); /* don't keep a large message's buffer around */
    }
    return ws_enqueue(ws, item);
}

/* Parse what the peer sent. */
void pn_ws_on_input(PnWSObject *ws)
{
    PnConnObject *c = ws->conn;
    if (c == NULL) {
        return;
    }
    Py_INCREF(ws);
    while (!c->closed && !ws->failed && !ws->close_received) {
        if (PyList_GET_SIZE(ws->queue) >= ws->max_queue) {
            if (c->fd >= 0 && !c->reading_paused) {
                c->reading_paused = 1; /* resumed by receive() */
                pn_server_update_interest(c->server, c);
            }
            break;
        }
        pn_slice_t in = pn_conn_input(&c->engine);
        if (in.len == 0) {
            break;
        }
        pn_ws_event_t ev;
        ssize_t used = pn_ws_parse(&ws->parser, (char *)in.base, in.len, &ev);
        if (used == PN_INCOMPLETE) {
            break;
        }
        if (used < 0) {
            ws_fail(ws, &ws->parser.error);
            break;
        }
        pn_conn_input_done(&c->engine, (size_t)used);
        if (ev.opcode == PN_WS_OP_PING) {
            uint8_t frame[PN_WS_MAX_CONTROL_FRAME];
            ssize_t n = pn_ws_write_pong(frame, ev.data.base, ev.data.len, NULL);
            if (!ws->close_sent && n > 0) {
                (void)pn_buf_append(&c->engine.out, frame, (size_t)n);
            }
            continue;
        }
        if (ev.opcode == PN_WS_OP_PONG) {
            ws->pong_deadline = 0;
            continue;
        }
        if (ev.opcode == PN_WS_OP_CLOSE) {
            ws->close_received = 1;
            unsigned code = ev.close_code;
            if (code == PN_WS_CLOSE_NO_STATUS) {
                ws_send_close(ws, 0, NULL, 0);
            } else {
                ws_send_close(ws, code, ev.data.base, ev.data.len);
            }
            ws_finish(ws, code, ev.data.base, ev.data.len);
            ws_hang_up(ws);
            break;
        }
        /* data frames, in pieces */
        if (ev.flags & PN_WS_EV_MESSAGE_START) {
            ws->msg_opcode = ev.message_opcode;
            ws->msg_compressed = (ev.flags & PN_WS_EV_COMPRESSED) != 0;
            pn_utf8_init(&ws->text);
        }
        int end = (ev.flags & PN_WS_EV_MESSAGE_END) != 0;
        int rc = 0;
        if (ws->msg_compressed && ws->deflate != NULL) {
            rc = pn_wsdeflate_decompress(ws->deflate, ev.data.base, ev.data.len, end, &ws->msg,
                                         ws->msg_opcode == PN_WS_OP_TEXT ? &ws->text : NULL);
            if (rc == PN_EPROTO) {
                ws_fail(ws, pn_wsdeflate_error(ws->deflate));
                break;
            }
        } else if (ev.data.len) {
            rc = pn_buf_append(&ws->msg, ev.data.base, ev.data.len);
        }
        if (rc < 0) {
            pn_ws_error_t e = {PN_WS_CLOSE_INTERNAL_ERROR, "out of memory", 0};
            ws_fail(ws, &e);
            break;
        }
        if (end && ws_message_done(ws) < 0) {
            PyErr_Clear();
            pn_ws_error_t e = {PN_WS_CLOSE_INTERNAL_ERROR, "cannot deliver the message", 0};
            ws_fail(ws, &e);
            break;
        }
    }
    ws_flush(ws);
    Py_DECREF(ws);
}

/* The connection went away (EOF, error, server close). */
void pn_ws_on_close(PnWSObject *ws)
{
    if (ws->closed_item == NULL) {
        ws_finish(ws, PN_WS_CLOSE_ABNORMAL, "connection closed", 17);
    }
    Py_CLEAR(ws->conn);
}

/* The handler returned: close normally if it did not. */
void pn_ws_on_handler_done(PnWSObject *ws)
{
    if (ws->conn == NULL) {
        return;
    }
    if (!ws->close_sent) {
        ws_send_close(ws, PN_WS_CLOSE_NORMAL, NULL, 0);
    }
    if (ws->close_received || ws->failed) {
        ws_hang_up(ws);
    }
    ws_flush(ws);
}

/* Graceful shutdown: 1001 (or 1012 on reload). */
void pn_ws_on_shutdown(PnWSObject *ws, unsigned code)
{
    if (ws->conn != NULL && !ws->close_sent) {
        ws_send_close(ws, code, NULL, 0);
        ws_flush(ws);
    }
}

/* Timers: server pings, pong timeout, close-handshake timeout. */
void pn_ws_tick(PnWSObject *ws, double now)
{
    if (ws->conn == NULL || ws->conn->closed) {
        return;
    }
    if (ws->close_sent && ws->close_deadline > 0 && now > ws->close_deadline) {
        ws_finish(ws, PN_WS_CLOSE_ABNORMAL, "close handshake timed out", 25);
        pn_conn_close(ws->conn);
        return;
    }
    if (ws->pong_deadline > 0 && now > ws->pong_deadline) {
        pn_ws_error_t e = {PN_WS_CLOSE_INTERNAL_ERROR, "keepalive ping timeout", 0}; /* 1011, as websockets and uvicorn */
        ws_fail(ws, &e);
        ws_flush(ws);
        return;
    }
    if (ws->ping_interval > 0 && !ws->close_sent && now > ws->next_ping) {
        uint8_t frame[PN_WS_MAX_CONTROL_FRAME];
        ssize_t n = pn_ws_write_ping(frame, "pronghorn", 9, NULL);
        if (n > 0 && pn_buf_append(&ws->conn->engine.out, frame, (size_t)n) == 0) {
            ws->next_ping = now + ws->ping_interval;
            if (ws->ping_timeout > 0 && ws->pong_deadline == 0) {
                ws->pong_deadline = now + ws->ping_timeout;
            }
            ws_flush(ws);
        }
    }
}

static void ws_flush(PnWSObject *ws)
{
    if (ws->conn != NULL && !ws->conn->closed) {
        PnConnObject *c = (PnConnObject *)Py_NewRef(ws->conn);
        pn_conn_flush(c);
        Py_DECREF(c);
    }
}

PyObject *pn_ws_request_accept(PyObject *req, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"subprotocol", "headers", "max_message_size", "max_queue",
                             "compression", "ping_interval", "ping_timeout", "close_timeout",
                             NULL};
    PyObject *subprotocol = Py_None, *headers = Py_None;
    unsigned long long max_message = PN_WS_DEFAULT_MAX_MESSAGE;
    Py_ssize_t max_queue = 32;
    int compression = 1;
    double ping_interval = 20.0, ping_timeout = 20.0, close_timeout = 10.0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO$Knpddd", kwlist, &subprotocol, &headers,
                                     &max_message, &max_queue, &compression, &ping_interval,
                                     &ping_timeout, &close_timeout)) {
        return NULL;
    }
    PnConnObject *c = pn_request_conn(req);
    pn_state_t *st = pn_state_from_type(Py_TYPE(req));
    if (c == NULL || c->closed) {
        PyErr_SetString(st->ClientDisconnect, "client disconnected");
        return NULL;
    }
    if (c->engine.state != PN_CONN_REQUEST || c->engine.resp_started) {
        PyErr_SetString(PyExc_RuntimeError, "the response of this request already started");
        return NULL;
    }
    if (max_queue < 1) {
        PyErr_SetString(PyExc_ValueError, "max_queue must be at least 1");
        return NULL;
    }
    pn_header_t fields[PN_HTTP1_MAX_HEADERS_CAP];
    pn_http1_request_t q;
    if (pn_request_fields(req, &q, fields) < 0) {
        return NULL;
    }
    pn_ws_handshake_t hs;
    if (pn_ws_handshake_check(q.method, q.minor_version, fields, q.num_headers, &hs) != 0) {
        PyErr_Format(PyExc_ValueError, "not a valid WebSocket handshake: %s", hs.reason);
        return NULL;
    }
    pn_slice_t proto = {"", 0};
    if (subprotocol != Py_None) {
        Py_ssize_t plen;
        const char *p = PyUnicode_AsUTF8AndSize(subprotocol, &plen);
        if (p == NULL) {
            return NULL;
        }
        proto = (pn_slice_t){p, (size_t)plen};
        /* RFC 6455 §4.2.2: a token (pn_ws_subprotocols splits and checks tokens). */
        pn_header_t probe = {PN_SLICE_LIT("sec-websocket-protocol"), proto};
        pn_slice_t one[2];
        if (plen == 0 || pn_ws_subprotocols(&probe, 1, one, 2) != 1 || one[0].len != proto.len) {
            PyErr_Format(PyExc_ValueError, "invalid WebSocket subprotocol %R: not a token",
                         subprotocol);
            return NULL;
        }
    }
    pn_wsdeflate_params_t params;
    char ext[PN_WSDEFLATE_RESPONSE_MAX];
    size_t ext_len = 0;
    int deflate = 0;
    if (compression) {
        pn_wsdeflate_config_t cfg = {0, 0, 0, 0};
        deflate = pn_wsdeflate_negotiate(&cfg, fields, q.num_headers, &params, ext, &ext_len);
        if (deflate < 0) {
            PyErr_SetString(PyExc_ValueError, "invalid Sec-WebSocket-Extensions header");
            return NULL;
        }
    }
    /* 101 head: the codec's fields, then the app's extra headers, through conn.c's writer. */
    pn_header_t stack[36];
    size_t nf = pn_ws_response_fields(hs.accept, proto, (pn_slice_t){ext, deflate ? ext_len : 0},
                                      stack);
    PyObject *keep = NULL;
    pn_header_t *extra = NULL;
    Py_ssize_t nextra = 0;
    if (headers != Py_None &&
        pn_headers_from_seq(headers, stack + nf, 32, &extra, &nextra, &keep) < 0) {
        return NULL;
    }
    if (extra != NULL && extra != stack + nf) {
        Py_XDECREF(keep);
        PyMem_Free(extra);
        PyErr_SetString(PyExc_ValueError, "too many extra headers (at most 32)");
        return NULL;
    }
    int rc = pn_conn_response_start(&c->engine, 101, stack, nf + (size_t)nextra, -1);
    if (rc == 0) {
        rc = pn_conn_response_end(&c->engine);
    }
    Py_XDECREF(keep);
    if (pn_conn_check(c, rc) < 0) {
        return NULL;
    }
    PnWSObject *ws = PyObject_GC_New(PnWSObject, st->WSType);
    if (ws == NULL) {
        return NULL;
    }
    ws->conn = (PnConnObject *)Py_NewRef(c);
    pn_ws_parser_init(&ws->parser, max_message, deflate ? PN_WS_F_DEFLATE : 0);
    ws->deflate = NULL;
    memset(&ws->msg, 0, sizeof(ws->msg));
    pn_utf8_init(&ws->text);
    ws->msg_opcode = ws->msg_compressed = 0;
    ws->queue = PyList_New(0);
    ws->max_queue = max_queue;
    ws->waiter = ws->closed_item = NULL;
    ws->subprotocol = Py_NewRef(subprotocol);
    ws->close_sent = ws->close_received = ws->failed = 0;
    ws->ping_interval = ping_interval;
    ws->ping_timeout = ping_timeout;
    ws->close_timeout = close_timeout;
    ws->next_ping = pn_monotonic() + ping_interval;
    ws->pong_deadline = ws->close_deadline = 0;
    PyObject_GC_Track(ws);
    if (ws->queue == NULL) {
        Py_DECREF(ws);
        return NULL;
    }
    if (deflate) {
        pn_wsdeflate_options_t opts = {0, 0, max_message, NULL};
        ws->deflate = pn_wsdeflate_new(&params, PN_WSDEFLATE_SERVER, &opts);
        if (ws->deflate == NULL) {
            Py_DECREF(ws);
            return PyErr_NoMemory();
        }
    }
    c->streamed = 1;
    Py_XSETREF(c->ws, (PyObject *)Py_NewRef(ws));
    ws_flush(ws);
    pn_ws_on_input(ws); /* frames that came right behind the upgrade request */
    return (PyObject *)ws;
}

/* ---- session methods ---- */

static PyObject *ws_receive(PnWSObject *ws, PyObject *unused)
{
    if (PyList_GET_SIZE(ws->queue) > 0) {
        PyObject *item = Py_NewRef(PyList_GET_ITEM(ws->queue, 0));
        if (PySequence_DelItem(ws->queue, 0) < 0) {
            Py_DECREF(item);
            return NULL;
        }
        PnConnObject *c = ws->conn;
        if (c != NULL && c->reading_paused && !c->peer_eof &&
            PyList_GET_SIZE(ws->queue) < ws->max_queue) {
            c->reading_paused = 0;
            pn_server_update_interest(c->server, c);
            pn_ws_on_input(ws); /* input that waited for room in the queue */
        }
        return item;
    }
    if (ws->closed_item != NULL) {
        return Py_NewRef(ws->closed_item);
    }
    if (ws->waiter == NULL) {
        ws->waiter = pn_conn_new_future(ws->conn);
        if (ws->waiter == NULL) {
            return NULL;
        }
    }
    return Py_NewRef(ws->waiter);
}

static PyObject *ws_send(PnWSObject *ws, PyObject *data)
{
    if (ws->close_sent || ws->conn == NULL || ws->conn->closed) {
        PyErr_SetString(ws_state(ws)->ClientDisconnect,
                        ws->close_sent ? "WebSocket close frame already sent"
                                       : "WebSocket connection closed");
        return NULL;
    }
    unsigned opcode;
    const char *p;
    Py_ssize_t n;
    if (PyUnicode_Check(data)) {
        opcode = PN_WS_OP_TEXT;
        p = PyUnicode_AsUTF8AndSize(data, &n);
        if (p == NULL) {
            return NULL;
        }
    } else if (PyBytes_Check(data)) {
        opcode = PN_WS_OP_BINARY;
        p = PyBytes_AS_STRING(data);
        n = PyBytes_GET_SIZE(data);
    } else {
        PyErr_SetString(PyExc_TypeError, "send() takes str (text) or bytes (binary)");
        return NULL;
    }
    int rc;
    if (ws->deflate != NULL) {
        pn_buf_t z = {0};
        int zr = pn_wsdeflate_compress(ws->deflate, p, (size_t)n, &z);
        if (zr < 0) {
            pn_buf_free(&z);
            PyErr_SetString(PyExc_RuntimeError, "permessage-deflate compression failed");
            return NULL;
        }
        rc = ws_put(ws, opcode, PN_WS_FIN | PN_WS_RSV1, pn_buf_len(&z) ? pn_buf_ptr(&z) : "",
                    pn_buf_len(&z));
        pn_buf_free(&z);
    } else {
        rc = ws_put(ws, opcode, PN_WS_FIN, p, (size_t)n);
    }
    if (rc < 0) {
        return NULL;
    }
    PnConnObject *c = (PnConnObject *)Py_NewRef(ws->conn);
    pn_conn_flush(c);
    PyObject *res = c->closed ? Py_NewRef(Py_None) : pn_conn_drained(c);
    Py_DECREF(c);
    return res;
}

static PyObject *ws_close(PnWSObject *ws, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"code", "reason", NULL};
    unsigned int code = PN_WS_CLOSE_NORMAL;
    const char *reason = "";
    Py_ssize_t rlen = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Is#", kwlist, &code, &reason, &rlen)) {
        return NULL;
    }
    if (!pn_ws_close_code_sendable(code)) {
        PyErr_Format(PyExc_ValueError, "invalid WebSocket close code %u", code);
        return NULL;
    }
    ws_send_close(ws, code, reason, (size_t)rlen);
    if (ws->close_received) {
        ws_hang_up(ws);
    }
    ws_flush(ws);
    Py_RETURN_NONE;
}

static PyObject *ws_ping(PnWSObject *ws, PyObject *args)
{
    Py_buffer b = {0};
    if (!PyArg_ParseTuple(args, "|y*", &b)) {
        return NULL;
    }
    uint8_t frame[PN_WS_MAX_CONTROL_FRAME];
    ssize_t n = pn_ws_write_ping(frame, b.buf, (size_t)b.len, NULL);
    if (b.obj != NULL) {
        PyBuffer_Release(&b);
    }
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "a ping payload is at most 125 bytes");
        return NULL;
    }
    if (ws->close_sent || ws->conn == NULL || ws->conn->closed) {
        PyErr_SetString(ws_state(ws)->ClientDisconnect, "WebSocket connection closed");
        return NULL;
    }
    if (pn_buf_append(&ws->conn->engine.out, frame, (size_t)n) < 0) {
        return PyErr_NoMemory();
    }
    ws_flush(ws);
    Py_RETURN_NONE;
}

static PyObject *ws_get_closed(PnWSObject *ws, void *closure)
{
    return PyBool_FromLong(ws->closed_item != NULL || ws->close_sent);
}

static PyObject *ws_get_close_code(PnWSObject *ws, void *closure)
{
    if (ws->closed_item == NULL) {
        Py_RETURN_NONE;
    }
    return Py_NewRef(PyTuple_GET_ITEM(ws->closed_item, 0));
}

static PyObject *ws_get_subprotocol(PnWSObject *ws, void *closure)
{
    return Py_NewRef(ws->subprotocol);
}

static int ws_traverse(PnWSObject *ws, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(ws));
    Py_VISIT(ws->conn);
    Py_VISIT(ws->queue);
    Py_VISIT(ws->waiter);
    Py_VISIT(ws->closed_item);
    Py_VISIT(ws->subprotocol);
    return 0;
}

static int ws_clear(PnWSObject *ws)
{
    Py_CLEAR(ws->conn);
    Py_CLEAR(ws->queue);
    Py_CLEAR(ws->waiter);
    Py_CLEAR(ws->closed_item);
    Py_CLEAR(ws->subprotocol);
    return 0;
}

static void ws_dealloc(PnWSObject *ws)
{
    PyTypeObject *tp = Py_TYPE(ws);
    PyObject_GC_UnTrack(ws);
    ws_clear(ws);
    pn_wsdeflate_free(ws->deflate);
    pn_buf_free(&ws->msg);
    PyObject_GC_Del(ws);
    Py_DECREF(tp);
}

static PyMethodDef ws_methods[] = {
    {"receive", (PyCFunction)ws_receive, METH_NOARGS,
     "str | bytes | (code, reason) once closed | an awaitable to await first"},
    {"send", (PyCFunction)ws_send, METH_O, "send(str | bytes) -> None or an awaitable"},
    {"close", (PyCFunction)(void (*)(void))ws_close, METH_VARARGS | METH_KEYWORDS,
     "close(code=1000, reason='')"},
    {"ping", (PyCFunction)ws_ping, METH_VARARGS, "ping(data=b'')"},
    {NULL},
};

static PyGetSetDef ws_getset[] = {
    {"closed", (getter)ws_get_closed, NULL, "a close frame was sent or the session ended", NULL},
    {"close_code", (getter)ws_get_close_code, NULL, "the close code once ended, else None", NULL},
    {"subprotocol", (getter)ws_get_subprotocol, NULL, "the accepted subprotocol", NULL},
    {NULL},
};

static PyType_Slot ws_slots[] = {
    {Py_tp_doc, "A WebSocket session on an upgraded connection (created by Request._ws_accept)."},
    {Py_tp_dealloc, ws_dealloc},
    {Py_tp_traverse, ws_traverse},
    {Py_tp_clear, ws_clear},
    {Py_tp_methods, ws_methods},
    {Py_tp_getset, ws_getset},
    {0, NULL},
};

PyType_Spec PnWS_spec = {
    .name = "pronghorn._core.WebSocketSession",
    .basicsize = sizeof(PnWSObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = ws_slots,
};
