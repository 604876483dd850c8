/*
 * routerobj.c — the Router type (binding of router.c).
 *
 * Owns: a pn_router_t plus, per route id, the Python object registered with
 * it (for the app: the dict {method: endpoint caller} of one path pattern),
 * and the conversion of matched parameter text into Python values by the
 * pattern's converter (str, int, float, uuid.UUID, path).
 * The server consults it before calling into Python (pn_routerobj_dispatch),
 * so a routed request costs one C lookup and one call of the endpoint.
 * Must not know about: responses, 404/405 policy (the app's fallback handler).
 */
#include "pymod.h"

#include <string.h>

#include "router.h"

struct PnRouterObject {
    PyObject_HEAD
    pn_router_t *router;
    PyObject *targets; /* list: route id -> registered object */
};

static PyObject *convert(pn_state_t *st, const pn_route_param_t *p)
{
    switch (p->kind) {
    case PN_ROUTER_CONV_INT: {
        char buf[64];
        if (p->value.len < sizeof(buf)) {
            memcpy(buf, p->value.base, p->value.len);
            buf[p->value.len] = 0;
            return PyLong_FromString(buf, NULL, 10);
        }
        PyObject *s = PyUnicode_DecodeASCII(p->value.base, (Py_ssize_t)p->value.len, NULL);
        PyObject *r = s ? PyLong_FromUnicodeObject(s, 10) : NULL;
        Py_XDECREF(s);
        return r;
    }
    case PN_ROUTER_CONV_FLOAT: {
        PyObject *s = PyUnicode_DecodeASCII(p->value.base, (Py_ssize_t)p->value.len, NULL);
        PyObject *r = s ? PyFloat_FromString(s) : NULL;
        Py_XDECREF(s);
        return r;
    }
    case PN_ROUTER_CONV_UUID: {
        PyObject *s = PyUnicode_DecodeASCII(p->value.base, (Py_ssize_t)p->value.len, NULL);
        PyObject *r = s ? PyObject_CallOneArg(st->uuid_type, s) : NULL;
        Py_XDECREF(s);
        return r;
    }
    default:
        return PyUnicode_DecodeUTF8(p->value.base, (Py_ssize_t)p->value.len, "surrogateescape");
    }
}

/* Dict of converted parameters of a match. */
static PyObject *params_dict(PnRouterObject *self, pn_state_t *st, int id, const pn_route_match_t *m)
{
    PyObject *d = PyDict_New();
    if (d == NULL) {
        return NULL;
    }
    for (unsigned i = 0; i < m->nparams; i++) {
        pn_slice_t name = pn_router_param_name(self->router, (uint32_t)id, m->params[i].index);
        PyObject *k = PyUnicode_FromStringAndSize(name.base, (Py_ssize_t)name.len);
        PyObject *v = k ? convert(st, &m->params[i]) : NULL;
        if (v == NULL || PyDict_SetItem(d, k, v) < 0) {
            Py_XDECREF(k);
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(k);
        Py_DECREF(v);
    }
    return d;
}

/* Match a str path: -1 with exception, 0 no match, 1 match (*target borrowed, *params new). */
static int match_str(PnRouterObject *self, PyObject *path, PyObject **target, PyObject **params)
{
    Py_ssize_t len;
    const char *p = PyUnicode_AsUTF8AndSize(path, &len);
    if (p == NULL) {
        PyErr_Clear(); /* lone surrogates: no route can match */
        return 0;
    }
    pn_route_match_t m;
    int id = pn_router_match(self->router, p, (size_t)len, &m);
    if (id < 0) {
        return 0;
    }
    *params = params_dict(self, pn_state_from_type(Py_TYPE(self)), id, &m);
    if (*params == NULL) {
        /* A converter refused the text (e.g. float overflow): treat as no match. */
        if (PyErr_ExceptionMatches(PyExc_ValueError) || PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
    *target = PyList_GET_ITEM(self->targets, id);
    return 1;
}

/*
 * Server fast path: route req (its path) and, when the registered object is a
 * dict holding the request method, call that endpoint with the request.
 * Returns the endpoint's result (new ref), NULL with an exception, or
 * Py_NotImplemented (borrowed semantics: new ref) when the app's fallback
 * handler must decide (no route, method not allowed).
 */
PyObject *pn_routerobj_dispatch(PyObject *router, PyObject *req, PyObject *path, PyObject *method)
{
    PnRouterObject *self = (PnRouterObject *)router;
    PyObject *target, *params;
    int r = match_str(self, path, &target, &params);
    if (r < 0) {
        return NULL;
    }
    if (r == 0 || !PyDict_Check(target)) {
        if (r) {
            Py_DECREF(params);
        }
        return Py_NewRef(Py_NotImplemented);
    }
    PyObject *endpoint = PyDict_GetItemWithError(target, method);
    if (endpoint == NULL) {
        Py_DECREF(params);
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_NotImplemented);
    }
    Py_INCREF(endpoint);
    pn_request_set_path_params(req, params); /* steals */
    PyObject *res = PyObject_CallOneArg(endpoint, req);
    Py_DECREF(endpoint);
    return res;
}

static PyObject *router_add(PnRouterObject *self, PyObject *args)
{
    PyObject *pattern, *target;
    if (!PyArg_ParseTuple(args, "UO", &pattern, &target)) {
        return NULL;
    }
    Py_ssize_t len;
    const char *p = PyUnicode_AsUTF8AndSize(pattern, &len);
    if (p == NULL) {
        return NULL;
    }
    Py_ssize_t id = PyList_GET_SIZE(self->targets);
    pn_router_error_t err = {NULL, 0};
    int rc = pn_router_add(self->router, p, (size_t)len, (uint32_t)id, &err);
    if (rc == PN_ENOMEM) {
        return PyErr_NoMemory();
    }
    if (rc < 0) {
        PyErr_Format(PyExc_ValueError, "invalid route path %R: %s (at offset %zu)", pattern,
                     err.reason ? err.reason : "rejected", err.offset);
        return NULL;
    }
    if (PyList_Append(self->targets, target) < 0) {
        return NULL; /* the router keeps an id without target: match_str never returns it */
    }
    return PyLong_FromSsize_t(id);
}

static PyObject *router_match(PnRouterObject *self, PyObject *path)
{
    if (!PyUnicode_Check(path)) {
        PyErr_SetString(PyExc_TypeError, "path must be str");
        return NULL;
    }
    PyObject *target, *params;
    int r = match_str(self, path, &target, &params);
    if (r < 0) {
        return NULL;
    }
    if (r == 0) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(ON)", target, params);
}

static PyObject *router_routes(PnRouterObject *self, PyObject *unused)
{
    size_t n = pn_router_count(self->router);
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < n; i++) {
        const pn_router_route_t *rt = pn_router_route_at(self->router, i);
        if (rt == NULL || (Py_ssize_t)rt->route_id >= PyList_GET_SIZE(self->targets)) {
            continue;
        }
        PyObject *names = PyTuple_New(rt->nparams);
        for (uint16_t k = 0; names && k < rt->nparams; k++) {
            static const char *kinds[] = {"str", "int", "float", "uuid", "path"};
            PyObject *item = Py_BuildValue("(s#s)", rt->params[k].name.base,
                                           (Py_ssize_t)rt->params[k].name.len,
                                           kinds[rt->params[k].kind % PN_ROUTER_CONV_COUNT]);
            if (item == NULL) {
                Py_CLEAR(names);
                break;
            }
            PyTuple_SET_ITEM(names, k, item);
        }
        PyObject *t = names ? Py_BuildValue("(s#NO)", rt->pattern.base, (Py_ssize_t)rt->pattern.len,
                                            names, PyList_GET_ITEM(self->targets, rt->route_id))
                            : NULL;
        if (t == NULL || PyList_Append(list, t) < 0) {
            Py_XDECREF(t);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(t);
    }
    return list;
}

static Py_ssize_t router_len(PnRouterObject *self)
{
    return (Py_ssize_t)pn_router_count(self->router);
}

static PyObject *router_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kw != NULL && PyDict_GET_SIZE(kw) != 0)) {
        PyErr_SetString(PyExc_TypeError, "Router() takes no arguments");
        return NULL;
    }
    PnRouterObject *self = (PnRouterObject *)tp->tp_alloc(tp, 0);
    if (self == NULL) {
        return NULL;
    }
    self->router = pn_router_new();
    self->targets = PyList_New(0);
    if (self->router == NULL || self->targets == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static int router_traverse(PnRouterObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->targets);
    return 0;
}

static int router_clear(PnRouterObject *self)
{
    Py_CLEAR(self->targets);
    return 0;
}

static void router_dealloc(PnRouterObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    router_clear(self);
    pn_router_free(self->router);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef router_methods[] = {
    {"add", (PyCFunction)router_add, METH_VARARGS,
     "add(pattern, target) -> route id; ValueError for an invalid or duplicate pattern"},
    {"match", (PyCFunction)router_match, METH_O,
     "match(path) -> (target, params) or None; params converted by the pattern's converters"},
    {"routes", (PyCFunction)router_routes, METH_NOARGS,
     "[(pattern, ((name, converter), ...), target)] in registration order"},
    {NULL},
};

static PyType_Slot router_slots[] = {
    {Py_tp_doc, "Router(): Starlette-syntax path patterns matched by a C radix tree."},
    {Py_tp_new, router_new},
    {Py_tp_dealloc, router_dealloc},
    {Py_tp_traverse, router_traverse},
    {Py_tp_clear, router_clear},
    {Py_tp_methods, router_methods},
    {Py_mp_length, router_len},
    {0, NULL},
};

PyType_Spec PnRouter_spec = {
    .name = "pronghorn._core.Router",
    .basicsize = sizeof(PnRouterObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = router_slots,
};
