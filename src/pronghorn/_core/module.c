/*
 * module.c — pronghorn._core: module definition, per-module state,
 * exception types, and the parse_request() test binding of the parser.
 * Multi-phase init (PEP 489); every type is a heap type created here.
 */
#include "pymod.h"

#include <string.h>

static struct PyModuleDef core_module;

pn_state_t *pn_state_from_type(PyTypeObject *tp)
{
    PyObject *mod = PyType_GetModuleByDef(tp, &core_module);
    return mod ? (pn_state_t *)PyModule_GetState(mod) : NULL;
}

static pn_state_t *get_state(PyObject *mod)
{
    return (pn_state_t *)PyModule_GetState(mod);
}

/*
 * parse_request(data, *, max_request_line, max_head, max_headers, max_body)
 *   -> (head_len, method, target, minor, headers, body_kind, content_length, flags)
 * Raises ProtocolError(status, reason) or returns None if incomplete.
 * For tests and differential checks: the same parser the server uses.
 */
static PyObject *parse_request(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "max_request_line", "max_head", "max_headers", "max_body",
                             NULL};
    Py_buffer buf;
    Py_ssize_t max_line = PN_HTTP1_DEFAULT_MAX_REQUEST_LINE, max_head = PN_HTTP1_DEFAULT_MAX_HEAD;
    Py_ssize_t max_headers = PN_HTTP1_DEFAULT_MAX_HEADERS;
    unsigned long long max_body = PN_HTTP1_DEFAULT_MAX_BODY;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|$nnnK", kwlist, &buf, &max_line, &max_head,
                                     &max_headers, &max_body)) {
        return NULL;
    }
    if (max_headers < 1 || max_headers > PN_HTTP1_MAX_HEADERS_CAP) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "max_headers out of range");
        return NULL;
    }
    pn_header_t fields[PN_HTTP1_MAX_HEADERS_CAP];
    pn_http1_request_t req;
    memset(&req, 0, sizeof(req));
    req.headers = fields;
    pn_http1_limits_t lim = {(size_t)max_line, (size_t)max_head, (size_t)max_headers, max_body};
    pn_http1_error_t err = {0, NULL, 0};
    ssize_t r = pn_http1_parse_request(buf.buf, (size_t)buf.len, &lim, &req, &err);
    PyObject *result = NULL;
    if (r == PN_INCOMPLETE) {
        result = Py_NewRef(Py_None);
    } else if (r < 0) {
        PyObject *e = Py_BuildValue("(is)", err.status, err.reason ? err.reason : "");
        if (e) {
            PyErr_SetObject(get_state(mod)->ProtocolError, e);
            Py_DECREF(e);
        }
    } else {
        PyObject *hs = PyList_New((Py_ssize_t)req.num_headers);
        for (size_t i = 0; hs && i < req.num_headers; i++) {
            PyObject *t = Py_BuildValue("(y#y#)", fields[i].name.base,
                                        (Py_ssize_t)fields[i].name.len, fields[i].value.base,
                                        (Py_ssize_t)fields[i].value.len);
            if (t == NULL) {
                Py_CLEAR(hs);
                break;
            }
            PyList_SET_ITEM(hs, (Py_ssize_t)i, t);
        }
        if (hs) {
            result = Py_BuildValue("(ny#y#iNiKI)", (Py_ssize_t)r, req.method.base,
                                   (Py_ssize_t)req.method.len, req.target.base,
                                   (Py_ssize_t)req.target.len, req.minor_version, hs,
                                   req.body_kind, (unsigned long long)req.content_length,
                                   req.flags);
        }
    }
    PyBuffer_Release(&buf);
    return result;
}

/*
 * decode_chunked(data, *, max_body) -> (body, consumed, done)
 * Feeds data to the chunked decoder in one call sequence. Raises ProtocolError.
 */
static PyObject *decode_chunked(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"data", "max_body", NULL};
    Py_buffer buf;
    unsigned long long max_body = PN_HTTP1_DEFAULT_MAX_BODY;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|$K", kwlist, &buf, &max_body)) {
        return NULL;
    }
    pn_chunked_t ch;
    pn_chunked_init(&ch, max_body, 4096, PN_HTTP1_DEFAULT_MAX_HEAD);
    pn_buf_t out = {0};
    size_t pos = 0;
    PyObject *result = NULL;
    while (pos < (size_t)buf.len && !pn_chunked_done(&ch)) {
        pn_slice_t d;
        pn_http1_error_t err = {0, NULL, 0};
        ssize_t n = pn_chunked_feed(&ch, (const char *)buf.buf + pos, (size_t)buf.len - pos, &d,
                                    &err);
        if (n < 0) {
            PyObject *e = Py_BuildValue("(is)", err.status, err.reason ? err.reason : "");
            if (e) {
                PyErr_SetObject(get_state(mod)->ProtocolError, e);
                Py_DECREF(e);
            }
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
    result = Py_BuildValue("(y#nO)", pn_buf_len(&out) ? pn_buf_ptr(&out) : "", (Py_ssize_t)pn_buf_len(&out),
                           (Py_ssize_t)pos, pn_chunked_done(&ch) ? Py_True : Py_False);
done:
    pn_buf_free(&out);
    PyBuffer_Release(&buf);
    return result;
}

static PyMethodDef core_methods[] = {
    {"parse_request", (PyCFunction)(void (*)(void))parse_request, METH_VARARGS | METH_KEYWORDS,
     "parse one request head with the server's parser (tests)"},
    {"decode_chunked", (PyCFunction)(void (*)(void))decode_chunked, METH_VARARGS | METH_KEYWORDS,
     "decode a chunked body with the server's decoder (tests)"},
    {"parse_query", (PyCFunction)(void (*)(void))pn_py_parse_query, METH_VARARGS | METH_KEYWORDS,
     "parse_query(data, *, max_fields=1000) -> [(name, value)] (urlencoded, '+' is space)"},
    {"unquote", (PyCFunction)(void (*)(void))pn_py_unquote, METH_VARARGS | METH_KEYWORDS,
     "unquote(data, *, plus=False) -> str (percent-decoding, UTF-8 with replacement)"},
    {"parse_cookies", (PyCFunction)(void (*)(void))pn_py_parse_cookies,
     METH_VARARGS | METH_KEYWORDS, "parse_cookies(data, *, max_cookies=200) -> {name: value}"},
    {NULL},
};

#define INTERN(field, text)                                                                    \
    do {                                                                                       \
        st->field = PyUnicode_InternFromString(text);                                          \
        if (st->field == NULL) {                                                               \
            return -1;                                                                         \
        }                                                                                      \
    } while (0)

static int add_type(PyObject *mod, PyType_Spec *spec, PyObject *base, PyTypeObject **out)
{
    PyObject *t = PyType_FromModuleAndSpec(mod, spec, base);
    if (t == NULL) {
        return -1;
    }
    *out = (PyTypeObject *)t;
    const char *dot = strrchr(spec->name, '.');
    return PyModule_AddObjectRef(mod, dot ? dot + 1 : spec->name, t);
}

static int core_exec(PyObject *mod)
{
    pn_state_t *st = get_state(mod);
    if (add_type(mod, &PnServer_spec, NULL, &st->ServerType) < 0 ||
        add_type(mod, &PnConn_spec, NULL, &st->ConnType) < 0 ||
        add_type(mod, &PnRequest_spec, NULL, &st->RequestType) < 0 ||
        add_type(mod, &PnTask_spec, NULL, &st->TaskType) < 0 ||
        add_type(mod, &PnRouter_spec, NULL, &st->RouterType) < 0 ||
        add_type(mod, &PnChunked_spec, NULL, &st->ChunkedType) < 0 ||
        add_type(mod, &PnWS_spec, NULL, &st->WSType) < 0 ||
        add_type(mod, &PnReady_spec, NULL, &st->ReadyType) < 0 ||
        add_type(mod, &PnExchange_spec, NULL, &st->ExchangeType) < 0 ||
        add_type(mod, &PnLean_spec, NULL, &st->LeanType) < 0 ||
        add_type(mod, &PnResponse_spec, NULL, &st->ResponseType) < 0) {
        return -1;
    }
    st->ClientDisconnect = PyErr_NewExceptionWithDoc(
        "pronghorn._core.ClientDisconnect", "The client went away before the exchange ended.",
        PyExc_ConnectionError, NULL);
    st->ProtocolError = PyErr_NewExceptionWithDoc(
        "pronghorn._core.ProtocolError",
        "The peer broke HTTP/1.1 framing; args are (status, reason).", PyExc_ValueError, NULL);
    st->ASGIProtocolError = PyErr_NewExceptionWithDoc(
        "pronghorn.asgi.ASGIProtocolError",
        "The application sent ASGI messages out of order or malformed.", PyExc_RuntimeError, NULL);
    if (st->ClientDisconnect == NULL || st->ProtocolError == NULL || st->ASGIProtocolError == NULL ||
        PyModule_AddObjectRef(mod, "ASGIProtocolError", st->ASGIProtocolError) < 0 ||
        PyModule_AddObjectRef(mod, "ClientDisconnect", st->ClientDisconnect) < 0 ||
        PyModule_AddObjectRef(mod, "ProtocolError", st->ProtocolError) < 0) {
        return -1;
    }
    INTERN(str_status_code, "status_code");
    INTERN(str_body, "body");
    INTERN(str_raw_headers, "raw_headers");
    INTERN(str_add_reader, "add_reader");
    INTERN(str_remove_reader, "remove_reader");
    INTERN(str_call_later, "call_later");
    INTERN(str_create_future, "create_future");
    INTERN(str_set_result, "set_result");
    INTERN(str_set_exception, "set_exception");
    INTERN(str_done, "done");
    INTERN(str_cancel, "cancel");
    INTERN(str_add_done_callback, "add_done_callback");
    INTERN(str_result, "result");
    INTERN(str_error, "error");
    INTERN(str_exc_info, "exc_info");
    INTERN(str_call_soon, "call_soon");
    INTERN(str_background, "background");
    INTERN(str_streaming, "_streaming");
    INTERN(str_stream, "_stream");
    INTERN(str_throw, "throw");
    INTERN(str_asyncio_future_blocking, "_asyncio_future_blocking");
    INTERN(str_type, "type");
    INTERN(str_more_body, "more_body");
    INTERN(str_status, "status");
    INTERN(str_headers, "headers");
    INTERN(str_HEAD, "HEAD");
    INTERN(str_http, "http");
    INTERN(str_http_request, "http.request");
    INTERN(str_http_disconnect, "http.disconnect");
    INTERN(str_http_response_start, "http.response.start");
    INTERN(str_http_response_body, "http.response.body");
    INTERN(str_http_response_pathsend, "http.response.pathsend");
    INTERN(str_receive_wait, "_receive_wait");
    INTERN(str_drain, "_drain");
    INTERN(str_pathsend, "_pathsend");
    INTERN(str_head_if_idle, "_head_if_idle");
    INTERN(str_asgi, "asgi");
    INTERN(str_version, "version");
    INTERN(str_spec_version, "spec_version");
    INTERN(str_http_version, "http_version");
    INTERN(str_GET, "GET");
    INTERN(str_POST, "POST");
    INTERN(str_PUT, "PUT");
    INTERN(str_DELETE, "DELETE");
    INTERN(str_PATCH, "PATCH");
    INTERN(str_OPTIONS, "OPTIONS");
    INTERN(str_method, "method");
    INTERN(str_scheme, "scheme");
    INTERN(str_path, "path");
    INTERN(str_raw_path, "raw_path");
    INTERN(str_query_string, "query_string");
    INTERN(str_root_path, "root_path");
    INTERN(str_client, "client");
    INTERN(str_server, "server");
    INTERN(str_extensions, "extensions");
    INTERN(str_state, "state");
    INTERN(str_3_0, "3.0");
    INTERN(str_2_4, "2.4");
    st->empty_bytes = PyBytes_FromStringAndSize("", 0);
    st->empty_tuple = PyTuple_New(0);
    if (st->empty_bytes == NULL || st->empty_tuple == NULL || pn_exchange_init_state(st) < 0) {
        return -1;
    }
    PyObject *asyncio = PyImport_ImportModule("asyncio");
    if (asyncio == NULL) {
        return -1;
    }
    st->get_running_loop = PyObject_GetAttrString(asyncio, "get_running_loop");
    Py_DECREF(asyncio);
    if (st->get_running_loop == NULL) {
        return -1;
    }
    PyObject *uuid = PyImport_ImportModule("uuid");
    if (uuid == NULL) {
        return -1;
    }
    st->uuid_type = PyObject_GetAttrString(uuid, "UUID");
    Py_DECREF(uuid);
    if (st->uuid_type == NULL) {
        return -1;
    }
    PyObject *aio = PyImport_ImportModule("asyncio");
    if (aio == NULL) {
        return -1;
    }
    PyObject *aio_tasks = PyImport_ImportModule("asyncio.tasks");
    if (aio_tasks == NULL) {
        Py_DECREF(aio);
        return -1;
    }
    st->CancelledError = PyObject_GetAttrString(aio, "CancelledError");
    st->InvalidStateError = PyObject_GetAttrString(aio, "InvalidStateError");
    st->enter_task = PyObject_GetAttrString(aio_tasks, "_enter_task");
    st->leave_task = PyObject_GetAttrString(aio_tasks, "_leave_task");
    st->current_task = PyObject_GetAttrString(aio_tasks, "current_task");
    st->current_tasks = PyObject_GetAttrString(aio_tasks, "_current_tasks");
    Py_DECREF(aio);
    Py_DECREF(aio_tasks);
    if (st->CancelledError == NULL || st->InvalidStateError == NULL || st->enter_task == NULL ||
        st->leave_task == NULL || st->current_task == NULL ||
        st->current_tasks == NULL || !PyDict_Check(st->current_tasks)) {
        return -1;
    }
    if (PyModule_AddIntConstant(mod, "BODY_NONE", PN_BODY_NONE) < 0 ||
        PyModule_AddIntConstant(mod, "BODY_LENGTH", PN_BODY_LENGTH) < 0 ||
        PyModule_AddIntConstant(mod, "BODY_CHUNKED", PN_BODY_CHUNKED) < 0 ||
        PyModule_AddIntConstant(mod, "REQ_KEEP_ALIVE", PN_REQ_KEEP_ALIVE) < 0 ||
        PyModule_AddIntConstant(mod, "REQ_UPGRADE", PN_REQ_UPGRADE) < 0 ||
        PyModule_AddIntConstant(mod, "REQ_EXPECT_CONTINUE", PN_REQ_EXPECT_CONTINUE) < 0) {
        return -1;
    }
    return 0;
}

static int core_traverse(PyObject *mod, visitproc visit, void *arg)
{
    pn_state_t *st = get_state(mod);
    Py_VISIT(st->ServerType);
    Py_VISIT(st->ConnType);
    Py_VISIT(st->RequestType);
    Py_VISIT(st->TaskType);
    Py_VISIT(st->RouterType);
    Py_VISIT(st->LeanType);
    Py_VISIT(st->ResponseType);
    Py_VISIT(st->ChunkedType);
    Py_VISIT(st->WSType);
    Py_VISIT(st->uuid_type);
    Py_VISIT(st->CancelledError);
    Py_VISIT(st->InvalidStateError);
    Py_VISIT(st->enter_task);
    Py_VISIT(st->leave_task);
    Py_VISIT(st->current_task);
    Py_VISIT(st->current_tasks);
    Py_VISIT(st->ClientDisconnect);
    Py_VISIT(st->ProtocolError);
    Py_VISIT(st->get_running_loop);
    Py_VISIT(st->ReadyType);
    Py_VISIT(st->ExchangeType);
    Py_VISIT(st->ASGIProtocolError);
    Py_VISIT(st->ready_none);
    return 0;
}

static int core_clear(PyObject *mod)
{
    pn_state_t *st = get_state(mod);
    Py_CLEAR(st->ServerType);
    Py_CLEAR(st->ConnType);
    Py_CLEAR(st->RequestType);
    Py_CLEAR(st->TaskType);
    Py_CLEAR(st->RouterType);
    Py_CLEAR(st->LeanType);
    Py_CLEAR(st->ResponseType);
    Py_CLEAR(st->ChunkedType);
    Py_CLEAR(st->WSType);
    Py_CLEAR(st->uuid_type);
    Py_CLEAR(st->CancelledError);
    Py_CLEAR(st->InvalidStateError);
    Py_CLEAR(st->enter_task);
    Py_CLEAR(st->leave_task);
    Py_CLEAR(st->current_task);
    Py_CLEAR(st->current_tasks);
    Py_CLEAR(st->str_call_soon);
    Py_CLEAR(st->str_background);
    Py_CLEAR(st->str_streaming);
    Py_CLEAR(st->str_stream);
    Py_CLEAR(st->str_throw);
    Py_CLEAR(st->str_asyncio_future_blocking);
    Py_CLEAR(st->ClientDisconnect);
    Py_CLEAR(st->ProtocolError);
    Py_CLEAR(st->str_status_code);
    Py_CLEAR(st->str_body);
    Py_CLEAR(st->str_raw_headers);
    Py_CLEAR(st->str_add_reader);
    Py_CLEAR(st->str_remove_reader);
    Py_CLEAR(st->str_call_later);
    Py_CLEAR(st->str_create_future);
    Py_CLEAR(st->str_set_result);
    Py_CLEAR(st->str_set_exception);
    Py_CLEAR(st->str_done);
    Py_CLEAR(st->str_cancel);
    Py_CLEAR(st->str_add_done_callback);
    Py_CLEAR(st->str_result);
    Py_CLEAR(st->str_error);
    Py_CLEAR(st->str_exc_info);
    Py_CLEAR(st->get_running_loop);
    Py_CLEAR(st->ReadyType);
    Py_CLEAR(st->ExchangeType);
    Py_CLEAR(st->ASGIProtocolError);
    Py_CLEAR(st->ready_none);
    Py_CLEAR(st->empty_bytes);
    Py_CLEAR(st->empty_tuple);
    Py_CLEAR(st->str_type);
    Py_CLEAR(st->str_more_body);
    Py_CLEAR(st->str_status);
    Py_CLEAR(st->str_headers);
    Py_CLEAR(st->str_HEAD);
    Py_CLEAR(st->str_http);
    Py_CLEAR(st->str_http_request);
    Py_CLEAR(st->str_http_disconnect);
    Py_CLEAR(st->str_http_response_start);
    Py_CLEAR(st->str_http_response_body);
    Py_CLEAR(st->str_http_response_pathsend);
    Py_CLEAR(st->str_receive_wait);
    Py_CLEAR(st->str_drain);
    Py_CLEAR(st->str_pathsend);
    Py_CLEAR(st->str_head_if_idle);
    Py_CLEAR(st->str_asgi);
    Py_CLEAR(st->str_version);
    Py_CLEAR(st->str_spec_version);
    Py_CLEAR(st->str_http_version);
    Py_CLEAR(st->str_GET);
    Py_CLEAR(st->str_POST);
    Py_CLEAR(st->str_PUT);
    Py_CLEAR(st->str_DELETE);
    Py_CLEAR(st->str_PATCH);
    Py_CLEAR(st->str_OPTIONS);
    Py_CLEAR(st->str_method);
    Py_CLEAR(st->str_scheme);
    Py_CLEAR(st->str_path);
    Py_CLEAR(st->str_raw_path);
    Py_CLEAR(st->str_query_string);
    Py_CLEAR(st->str_root_path);
    Py_CLEAR(st->str_client);
    Py_CLEAR(st->str_server);
    Py_CLEAR(st->str_extensions);
    Py_CLEAR(st->str_state);
    Py_CLEAR(st->str_3_0);
    Py_CLEAR(st->str_2_4);
    return 0;
}

static void core_free(void *mod)
{
    core_clear((PyObject *)mod);
}

static PyModuleDef_Slot core_slots[] = {
    {Py_mod_exec, core_exec},
    {0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pronghorn._core",
    .m_doc = "pronghorn's C engine: HTTP/1.1 parser, connection engine and server.",
    .m_size = sizeof(pn_state_t),
    .m_methods = core_methods,
    .m_slots = core_slots,
    .m_traverse = core_traverse,
    .m_clear = core_clear,
    .m_free = core_free,
};

PyMODINIT_FUNC PyInit__core(void)
{
    return PyModuleDef_Init(&core_module);
}
