/*
 * lean.c — _core.LeanSolver: the keyword arguments of an endpoint whose plan
 * is request parameters only (extraction.lean_solver), read in C.
 *
 * Owns: per parameter, the fast reading of the two common shapes — a path
 * parameter, or a single query parameter with an ASCII name — as a str
 * (no validation) or an int (plain decimal digits, what int() reads exactly).
 * Everything else (other sources and types, a missing value, an int written
 * "1_000" or " 5 ", a request the engine did not make, a query string of
 * more than MAX_QUERY_FIELDS fields) is read by the parameter's Python
 * extractor, the one that also reports errors.
 *
 * Invariants: the fast reading gives exactly the value the extractor would
 * (request.path_params.get(alias), the last value of the query field as
 * request.query_params decodes it, int() of plain digits); when an extractor
 * raises `invalid`, on_invalid(request) is called to raise the error of the
 * whole request (it re-reads every parameter in Python).
 *
 * Must not know about: validation rules beyond plain digits, error shapes,
 * dependencies, bodies.
 */
#include "pymod.h"

#include <string.h>

#include "url.h"

enum { LEAN_PY, LEAN_PATH, LEAN_QUERY };
enum { LEAN_STR, LEAN_INT };

#define MAX_QUERY_FIELDS 1000 /* requests.Request.query_params answers 400 past this */
#define MAX_ALIAS 64

typedef struct {
    PyObject *name;    /* the keyword */
    PyObject *extract; /* extract(request): the Python reading */
    PyObject *alias;   /* str (fast sources only) */
    int source, kind;
} lean_item_t;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    Py_ssize_t n;
    lean_item_t *items;
    PyObject *request_names; /* tuple of str: parameters that receive the request itself */
    PyObject *invalid;       /* the exception type an extractor raises for bad input */
    PyObject *on_invalid;    /* on_invalid(request): raises the request's validation error */
    PyObject *request_type;  /* the engine's Request type */
    PyObject *query_params;  /* "query_params": a request whose __dict__ has it is read in Python */
} PnLeanObject;

/* int() of an ASCII [+-]?[0-9]{1,18} str, else NULL without an exception. */
static PyObject *plain_int(PyObject *s)
{
    if (!PyUnicode_CheckExact(s) || !PyUnicode_IS_ASCII(s)) {
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    const char *p = (const char *)PyUnicode_DATA(s);
    int neg = 0;
    if (n > 0 && (p[0] == '-' || p[0] == '+')) {
        neg = p[0] == '-';
        p++;
        n--;
    }
    if (n < 1 || n > 18) {
        return NULL;
    }
    long long v = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return NULL;
        }
        v = v * 10 + (p[i] - '0');
    }
    return PyLong_FromLongLong(neg ? -v : v);
}

/* The alias as the raw name of a query field: equal after percent-decoding. */
static int name_is(pn_slice_t raw, const char *alias, size_t alias_len)
{
    if (raw.len < alias_len || raw.len > 3 * alias_len) {
        return 0;
    }
    if (raw.len == alias_len && memcmp(raw.base, alias, alias_len) == 0) {
        return 1;
    }
    char buf[3 * MAX_ALIAS];
    size_t n = pn_url_unquote_plus(raw.base, raw.len, buf);
    return n == alias_len && memcmp(buf, alias, n) == 0;
}

/* New reference to the last value of query field alias, NULL without an exception when
 * absent or when the query must be read in Python, NULL with one on error. */
static PyObject *query_value(PyObject *req, PyObject *alias)
{
    pn_slice_t q;
    if (pn_request_query_slice(req, &q) < 0) {
        return NULL;
    }
    Py_ssize_t alias_len;
    const char *a = PyUnicode_AsUTF8AndSize(alias, &alias_len);
    if (a == NULL) {
        return NULL;
    }
    size_t pos = 0, fields = 0;
    pn_slice_t name, value, found = {NULL, 0};
    int have = 0;
    while (pn_url_next_field(q.base, q.len, &pos, &name, &value)) {
        if (++fields > MAX_QUERY_FIELDS) {
            return NULL;
        }
        if (name_is(name, a, (size_t)alias_len)) {
            found = value;
            have = 1;
        }
    }
    return !have ? NULL : pn_url_decode_str(found, 1);
}

/* New reference to the fast reading of item, or NULL (with an exception only on error). */
static PyObject *read_fast(PnLeanObject *self, const lean_item_t *it, PyObject *req)
{
    PyObject *raw;
    if (it->source == LEAN_PATH) {
        PyObject *params = pn_request_path_params_borrowed(req);
        raw = params ? PyDict_GetItemWithError(params, it->alias) : NULL;
        Py_XINCREF(raw);
    } else {
        PyObject *d = pn_request_dict_borrowed(req);
        if (d != NULL && PyDict_Contains(d, self->query_params) != 0) {
            return NULL; /* already read (or replaced): the Python reading uses that */
        }
        raw = query_value(req, it->alias);
    }
    if (raw == NULL) {
        return NULL;
    }
    PyObject *v;
    if (it->kind == LEAN_INT) {
        v = PyLong_CheckExact(raw) ? Py_NewRef(raw) : plain_int(raw);
    } else {
        v = PyUnicode_CheckExact(raw) ? Py_NewRef(raw) : NULL;
    }
    Py_DECREF(raw);
    return v;
}

static PyObject *lean_call(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    PnLeanObject *self = (PnLeanObject *)op;
    if (PyVectorcall_NARGS(nargsf) != 1 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "LeanSolver takes one argument, the request");
        return NULL;
    }
    PyObject *req = args[0];
    int ours = PyObject_TypeCheck(req, (PyTypeObject *)self->request_type);
    PyObject *values = PyDict_New();
    if (values == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < self->n; i++) {
        const lean_item_t *it = &self->items[i];
        PyObject *v = NULL;
        if (ours && it->source != LEAN_PY) {
            v = read_fast(self, it, req);
            if (v == NULL && PyErr_Occurred()) {
                goto error;
            }
        }
        if (v == NULL) {
            v = PyObject_CallOneArg(it->extract, req);
            if (v == NULL) {
                if (PyErr_ExceptionMatches(self->invalid)) {
                    PyErr_Clear();
                    Py_DECREF(values);
                    return PyObject_CallOneArg(self->on_invalid, req);
                }
                goto error;
            }
        }
        int rc = PyDict_SetItem(values, it->name, v);
        Py_DECREF(v);
        if (rc < 0) {
            goto error;
        }
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->request_names); i++) {
        if (PyDict_SetItem(values, PyTuple_GET_ITEM(self->request_names, i), req) < 0) {
            goto error;
        }
    }
    return values;
error:
    Py_DECREF(values);
    return NULL;
}

static int parse_item(PyObject *spec, lean_item_t *it)
{
    /* (name, extract, fast): fast is None or (source, alias, kind) */
    PyObject *fast;
    if (!PyTuple_Check(spec) || !PyArg_ParseTuple(spec, "UOO", &it->name, &it->extract, &fast)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "each item is (name, extract, fast)");
        }
        return -1;
    }
    it->source = LEAN_PY;
    it->kind = LEAN_STR;
    it->alias = NULL;
    if (fast != Py_None) {
        const char *source, *kind;
        PyObject *alias;
        if (!PyArg_ParseTuple(fast, "sUs", &source, &alias, &kind)) {
            return -1;
        }
        int is_path = strcmp(source, "path") == 0, is_query = strcmp(source, "query") == 0;
        int is_int = strcmp(kind, "int") == 0;
        if ((!is_path && !is_query) || (!is_int && strcmp(kind, "str") != 0)) {
            PyErr_Format(PyExc_ValueError, "unknown fast reading (%s, %s)", source, kind);
            return -1;
        }
        /* a query name is compared as bytes: only ASCII names of bounded length */
        if (is_path || (PyUnicode_IS_ASCII(alias) && PyUnicode_GET_LENGTH(alias) <= MAX_ALIAS)) {
            it->source = is_path ? LEAN_PATH : LEAN_QUERY;
            it->kind = is_int ? LEAN_INT : LEAN_STR;
            it->alias = Py_NewRef(alias);
        }
    }
    Py_INCREF(it->name);
    Py_INCREF(it->extract);
    return 0;
}

static PyObject *lean_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"items", "request_names", "invalid", "on_invalid", "request_type",
                             NULL};
    PyObject *items, *names, *invalid, *on_invalid, *request_type;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O!OOO!", kwlist, &PyTuple_Type, &items,
                                     &PyTuple_Type, &names, &invalid, &on_invalid, &PyType_Type,
                                     &request_type)) {
        return NULL;
    }
    PnLeanObject *self = (PnLeanObject *)tp->tp_alloc(tp, 0);
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = lean_call;
    self->request_names = Py_NewRef(names);
    self->invalid = Py_NewRef(invalid);
    self->on_invalid = Py_NewRef(on_invalid);
    self->request_type = Py_NewRef(request_type);
    self->query_params = PyUnicode_InternFromString("query_params");
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    self->items = PyMem_Calloc(n > 0 ? (size_t)n : 1, sizeof(lean_item_t));
    if (self->query_params == NULL || self->items == NULL) {
        Py_DECREF(self);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (parse_item(PyTuple_GET_ITEM(items, i), &self->items[i]) < 0) {
            Py_DECREF(self);
            return NULL;
        }
        self->n = i + 1;
    }
    return (PyObject *)self;
}

static int lean_traverse(PnLeanObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    for (Py_ssize_t i = 0; i < self->n; i++) {
        Py_VISIT(self->items[i].extract);
    }
    Py_VISIT(self->request_names);
    Py_VISIT(self->invalid);
    Py_VISIT(self->on_invalid);
    Py_VISIT(self->request_type);
    return 0;
}

static int lean_clear(PnLeanObject *self)
{
    for (Py_ssize_t i = 0; i < self->n; i++) {
        Py_CLEAR(self->items[i].name);
        Py_CLEAR(self->items[i].extract);
        Py_CLEAR(self->items[i].alias);
    }
    self->n = 0;
    Py_CLEAR(self->request_names);
    Py_CLEAR(self->invalid);
    Py_CLEAR(self->on_invalid);
    Py_CLEAR(self->request_type);
    Py_CLEAR(self->query_params);
    return 0;
}

static void lean_dealloc(PnLeanObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    lean_clear(self);
    PyMem_Free(self->items);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMemberDef lean_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(PnLeanObject, vectorcall), READONLY},
    {NULL},
};

static PyType_Slot lean_slots[] = {
    {Py_tp_new, lean_new},
    {Py_tp_dealloc, lean_dealloc},
    {Py_tp_traverse, lean_traverse},
    {Py_tp_clear, lean_clear},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_members, lean_members},
    {Py_tp_doc, "LeanSolver(items, request_names, invalid, on_invalid, request_type): "
                "solver(request) -> the endpoint's keyword arguments. items: (name, extract, "
                "fast) with fast None or (source 'path'|'query', alias, kind 'str'|'int')."},
    {0, NULL},
};

PyType_Spec PnLean_spec = {
    .name = "pronghorn._core.LeanSolver",
    .basicsize = sizeof(PnLeanObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = lean_slots,
};
