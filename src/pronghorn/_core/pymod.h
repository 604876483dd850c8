/*
 * pymod.h — shared declarations of the Python binding files (module.c,
 * server.c, connection.c, request.c). Only binding files include this.
 *
 * Module state holds every type, exception and interned string; nothing is
 * global. Binding objects reach it with pn_state_from_type().
 */
#ifndef PN_PYMOD_H
#define PN_PYMOD_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conn.h"

typedef struct {
    PyTypeObject *ServerType;
    PyTypeObject *ConnType;
    PyTypeObject *RequestType;
    PyTypeObject *TaskType;
    PyTypeObject *RouterType;
    PyTypeObject *ChunkedType;
    PyTypeObject *WSType;
    PyObject *uuid_type;        /* uuid.UUID */
    PyObject *ClientDisconnect; /* OSError subclass: the peer went away */
    PyObject *ProtocolError;    /* ValueError subclass: malformed request body */
    PyObject *CancelledError;   /* asyncio.CancelledError */
    PyObject *InvalidStateError;/* asyncio.InvalidStateError */
    PyObject *enter_task, *leave_task, *current_task; /* from asyncio.tasks */
    PyObject *current_tasks;    /* asyncio.tasks._current_tasks: loop -> current task */
    /* interned attribute names */
    PyObject *str_status_code, *str_body, *str_raw_headers;
    PyObject *str_add_reader, *str_remove_reader, *str_call_later, *str_create_future;
    PyObject *str_set_result, *str_set_exception, *str_done, *str_cancel;
    PyObject *str_add_done_callback, *str_result, *str_error, *str_exc_info;
    PyObject *str_call_soon, *str_throw, *str_asyncio_future_blocking;
    PyObject *str_background, *str_streaming, *str_stream;
    PyObject *get_running_loop; /* asyncio.get_running_loop */
    /* the ASGI path (request.c's scope, exchange.c) */
    PyTypeObject *ReadyType, *ExchangeType;
    PyTypeObject *LeanType, *ResponseType;
    PyObject *ASGIProtocolError; /* RuntimeError subclass: the app broke the message order */
    PyObject *ready_none;        /* a Ready of None, shared */
    PyObject *empty_bytes, *empty_tuple;
    PyObject *str_type, *str_more_body, *str_status, *str_headers, *str_HEAD;
    PyObject *str_http, *str_http_request, *str_http_disconnect, *str_http_response_start;
    PyObject *str_http_response_body, *str_http_response_pathsend;
    PyObject *str_receive_wait, *str_drain, *str_pathsend, *str_head_if_idle;
    PyObject *str_asgi, *str_version, *str_spec_version, *str_http_version, *str_method;
    PyObject *str_scheme, *str_path, *str_raw_path, *str_query_string, *str_root_path;
    PyObject *str_client, *str_server, *str_extensions, *str_state, *str_3_0, *str_2_4;
    PyObject *str_GET, *str_POST, *str_PUT, *str_DELETE, *str_PATCH, *str_OPTIONS;
} pn_state_t;

pn_state_t *pn_state_from_type(PyTypeObject *tp);

enum { PN_DEADLINE_NONE = 0, PN_DEADLINE_HEAD, PN_DEADLINE_IDLE };

/* A connection: the engine state plus its socket (or none, in memory). */
typedef struct PnServerObject PnServerObject;

typedef struct PnConnObject {
    PyObject_HEAD
    pn_conn_t engine;
    PnServerObject *server;   /* strong ref */
    int fd;                   /* -1 when closed or in-memory */
    int closed;
    int reading_paused;       /* EPOLLIN removed (backpressure) */
    int want_write;           /* EPOLLOUT registered */
    int peer_eof;
    double deadline;          /* monotonic seconds; 0 = none */
    int deadline_kind;        /* PN_DEADLINE_* */
    unsigned long served;     /* responses completed */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    PyObject *request;        /* current request (strong) or NULL */
    PyObject *pending;        /* the HandlerTask running the current handler, or NULL */
    int dispatching;          /* inside dispatch(): completion must not re-enter process() */
    PyObject *body_waiter;    /* future awaited by request._read(), or NULL */
    unsigned long serial;     /* request counter, to detect stale Request objects */
    PyObject *drain_waiter;   /* future resolved when queued output drops below LOW_WATER */
    PyObject *disc_waiter;    /* future resolved when the exchange ends (response done or peer gone) */
    PyObject *output_waiter;  /* in memory: future resolved when output is pending or closed */
    PyObject *client_obj;     /* the peer's address tuple (given to memory_connection() in
                                 memory, else made at the first use), or NULL */
    PyObject *server_obj;     /* the local address tuple, likewise, or NULL */
    PyObject *scheme;         /* "http" unless set (memory_connection(scheme=...)), or NULL */
    PyObject *ws;             /* the WebSocket session after an upgrade, or NULL */
    int file_fd;              /* file being sent with sendfile(2), or -1 */
    off_t file_off;
    uint64_t file_left;
    int in_handler;           /* a handler for the current request has not finished */
    int streamed;             /* the handler wrote its response through Request._start */
    PyObject *stream_response;/* response object whose _stream() task is running, or NULL */
    double started;           /* monotonic time the current request started */
    int flush_queued;         /* in the server's flush queue (sent when the epoll batch ends) */
} PnConnObject;

struct PnServerObject {
    PyObject_HEAD
    pn_state_t *st;
    PyObject *handler;
    PyObject *router;         /* a Router consulted before handler, or NULL */
    PyObject *slow_handler;   /* callable(request, seconds) for handler calls that held the loop */
    double slow_threshold;    /* seconds */
    PyObject *app;            /* exposed as request.app, or NULL */
    PyObject *request_class;
    PyObject *access_log;     /* callable or NULL */
    PyObject *logger;         /* logging.Logger for errors */
    PyObject *loop;
    PyObject *reader_cb;      /* bound C callback given to loop.add_reader */
    PyObject *sweep_cb;
    PyObject *sweep_handle;   /* TimerHandle or NULL */
    int epfd;
    int *listen_fds;
    Py_ssize_t n_listen;
    int accepting;
    int shutting_down;
    PnConnObject **conns;     /* indexed by fd */
    Py_ssize_t conns_cap;
    Py_ssize_t n_conns;
    Py_ssize_t active;
    double header_timeout, keep_alive_timeout;
    pn_conn_config_t cfg;
    pn_header_t *scratch;
    char date[32];
    long date_second;
    struct sockaddr_storage local;
    socklen_t local_len;
    int batching;             /* inside on_epoll: socket writes wait for the batch's end */
    PnConnObject **flushq;    /* connections with output queued in this batch (strong refs) */
    Py_ssize_t n_flushq, cap_flushq;
    PyObject *flush_cb;       /* bound C callback: send what the loop iteration queued */
    int flush_scheduled;      /* flush_cb is in the loop's ready queue */
};

/* connection.c */
PnConnObject *pn_conn_new(PnServerObject *srv, int fd);
void pn_conn_process(PnConnObject *c);
void pn_conn_on_readable(PnConnObject *c);
void pn_conn_on_writable(PnConnObject *c);
void pn_conn_close(PnConnObject *c);
int pn_conn_flush(PnConnObject *c);
/* Write now, not at the end of the batch or loop turn: for output that must leave before
 * the connection is closed. Returns 0, or -1 if the connection got closed. */
int pn_conn_flush_now(PnConnObject *c);
/* Send what the epoll batch queued (server.c calls it when the batch ends). */
void pn_conn_flush_batch(PnServerObject *srv);
/* Have the loop call pn_conn_flush_batch soon (once per iteration). -1 with exception. */
int pn_server_schedule_flush(PnServerObject *srv);
/* Raw headers sequence -> array (stack if it fits, else PyMem). -1 with exception set. */
int pn_headers_from_seq(PyObject *seq, pn_header_t *stack, size_t stack_n, pn_header_t **out,
                        Py_ssize_t *n, PyObject **keep);
/* Map a writer return code to a Python exception; 0 if ok. */
int pn_conn_check(PnConnObject *c, int rc);
/* A new future on the server's loop (or the running loop). */
PyObject *pn_conn_new_future(PnConnObject *c);
/* None, or a future resolved once the output buffer drained (backpressure). */
PyObject *pn_conn_drained(PnConnObject *c);
/* Start sending count bytes of fd from offset after the queued output. */
PyObject *pn_conn_sendfile(PnConnObject *c, int fd, off_t offset, uint64_t count);
void pn_conn_wake_waiter(PnConnObject *c, PyObject *exc_type);
void pn_conn_handler_done(PnConnObject *c, PyObject *response);
extern PyType_Spec PnConn_spec;

/* task.c */
typedef struct PnTaskObject PnTaskObject;
/* Called once when the task finishes (not if disowned); owner is borrowed. */
typedef void (*pn_task_done_fn)(PyObject *owner, PnTaskObject *task);
extern PyType_Spec PnTask_spec;
/* A task for coro, stepped in context; loop may be NULL (no waiting possible). */
PnTaskObject *pn_task_new(pn_state_t *st, PyObject *loop, PyObject *coro, PyObject *context,
                          PyObject *owner, pn_task_done_fn on_done);
/* Run the first step now. */
void pn_task_start(PnTaskObject *t);
int pn_task_done(PnTaskObject *t);
/* New reference to the result, or NULL with the task's exception set. */
PyObject *pn_task_outcome(PnTaskObject *t);
void pn_task_disown(PnTaskObject *t);

/* routerobj.c */
typedef struct PnRouterObject PnRouterObject;
extern PyType_Spec PnRouter_spec;
/* Route req by path/method to its endpoint and call it; Py_NotImplemented
 * (new ref) when the app's fallback handler must answer. */
PyObject *pn_routerobj_dispatch(PyObject *router, PyObject *req, PyObject *path, PyObject *method);

/* websocket.c */
typedef struct PnWSObject PnWSObject;
extern PyType_Spec PnWS_spec;
PyObject *pn_ws_request_is_websocket(PyObject *req, void *closure);
PyObject *pn_ws_request_check(PyObject *req, PyObject *unused);
PyObject *pn_ws_request_subprotocols(PyObject *req, PyObject *unused);
PyObject *pn_ws_request_accept(PyObject *req, PyObject *args, PyObject *kw);
void pn_ws_on_input(PnWSObject *ws);
void pn_ws_on_close(PnWSObject *ws);
void pn_ws_on_handler_done(PnWSObject *ws);
void pn_ws_on_shutdown(PnWSObject *ws, unsigned code);
void pn_ws_tick(PnWSObject *ws, double now);

/* exchange.c */
extern PyType_Spec PnReady_spec, PnExchange_spec;
int pn_exchange_init_state(pn_state_t *st); /* after the types and strings exist */

/* responseobj.c */
typedef struct PnResponseObject PnResponseObject;
extern PyType_Spec PnResponse_spec;
enum { PN_RESPONSE_STATUS, PN_RESPONSE_BODY, PN_RESPONSE_HEADERS, PN_RESPONSE_BACKGROUND };
/* Borrowed: a field of a ResponseBase instance (resp must be one), NULL when never set. */
PyObject *pn_response_field(PyObject *resp, int field);

/* lean.c */
extern PyType_Spec PnLean_spec;

/* chunkedobj.c */
extern PyType_Spec PnChunked_spec;

/* urlparse.c */
/* Percent-decoded s ('+' as a space when plus) as str: UTF-8, U+FFFD for invalid bytes. */
PyObject *pn_url_decode_str(const pn_slice_t s, int plus);
PyObject *pn_py_parse_query(PyObject *mod, PyObject *args, PyObject *kw);
PyObject *pn_py_unquote(PyObject *mod, PyObject *args, PyObject *kw);
PyObject *pn_py_parse_cookies(PyObject *mod, PyObject *args, PyObject *kw);

/* server.c */
extern PyType_Spec PnServer_spec;
double pn_monotonic(void);
void pn_server_update_interest(PnServerObject *srv, PnConnObject *c);
void pn_server_forget(PnServerObject *srv, PnConnObject *c);
void pn_server_log_exception(PnServerObject *srv, const char *msg);

/* request.c */
extern PyType_Spec PnRequest_spec;
PyObject *pn_request_new(PnConnObject *c, const pn_event_t *ev);
/* New references to the request's method (interned) and decoded path. */
PyObject *pn_request_method(PyObject *req);
PyObject *pn_request_path(PyObject *req);
/* Set request.path_params (steals params). */
void pn_request_set_path_params(PyObject *req, PyObject *params);
/* Re-parse the request's head copy: fields[] gets its header fields. -1 with exception. */
int pn_request_fields(PyObject *req, pn_http1_request_t *q, pn_header_t *fields);
unsigned pn_request_flags(PyObject *req);
/* The raw query string (after '?') of a request made by the engine (a slice into its
 * head, valid while req lives); 0, or -1 when req is not the engine's. */
int pn_request_query_slice(PyObject *req, pn_slice_t *out);
/* Borrowed: the request's path_params dict, or NULL when it has none. */
PyObject *pn_request_path_params_borrowed(PyObject *req);
/* Borrowed: the request's instance __dict__, or NULL when it has none yet. */
PyObject *pn_request_dict_borrowed(PyObject *req);
/* The connection the request may still use (borrowed), or NULL. */
PnConnObject *pn_request_conn(PyObject *req);
void pn_request_detach(PyObject *req);
PyObject *pn_addr_tuple(const struct sockaddr_storage *ss, socklen_t len);
/* The streaming primitives, called directly by exchange.c: the methods _receive(),
 * _disconnected(), _start(status, headers, length), _write(data) and _end(). */
PyObject *pn_request_receive(PyObject *req);
PyObject *pn_request_disconnected(PyObject *req);
PyObject *pn_request_start(PyObject *req, int status, PyObject *headers, Py_ssize_t length);
PyObject *pn_request_write(PyObject *req, PyObject *data);
PyObject *pn_request_end(PyObject *req);

#endif
