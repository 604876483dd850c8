/*
 * responseobj.c — _core.ResponseBase: the storage of pronghorn.Response.
 *
 * Owns: the four fields the response writer reads — status_code, body,
 * raw_headers, background — as C members, so the writer (connection.c)
 * reads them without attribute lookups. Construction, validation and every
 * behaviour stay in Python (responses.Response subclasses this type).
 *
 * Invariants: a field never set reads as AttributeError (like a __slots__
 * slot); the type has no __new__ of its own, so object.__new__(cls) makes one.
 *
 * Must not know about: HTTP, what the fields must hold (the writer checks).
 */
#include "pymod.h"

#include <stddef.h>

struct PnResponseObject {
    PyObject_HEAD
    PyObject *status_code;
    PyObject *body;
    PyObject *raw_headers;
    PyObject *background;
};

PyObject *pn_response_field(PyObject *resp, int field)
{
    PnResponseObject *r = (PnResponseObject *)resp;
    switch (field) {
    case PN_RESPONSE_STATUS:
        return r->status_code;
    case PN_RESPONSE_BODY:
        return r->body;
    case PN_RESPONSE_HEADERS:
        return r->raw_headers;
    default:
        return r->background;
    }
}

static int resp_traverse(PnResponseObject *r, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(r));
    Py_VISIT(r->status_code);
    Py_VISIT(r->body);
    Py_VISIT(r->raw_headers);
    Py_VISIT(r->background);
    return 0;
}

static int resp_clear(PnResponseObject *r)
{
    Py_CLEAR(r->status_code);
    Py_CLEAR(r->body);
    Py_CLEAR(r->raw_headers);
    Py_CLEAR(r->background);
    return 0;
}

static void resp_dealloc(PnResponseObject *r)
{
    PyTypeObject *tp = Py_TYPE(r);
    PyObject_GC_UnTrack(r);
    resp_clear(r);
    tp->tp_free((PyObject *)r);
    Py_DECREF(tp);
}

static PyMemberDef resp_members[] = {
    {"status_code", T_OBJECT_EX, offsetof(PnResponseObject, status_code), 0, "the status, an int"},
    {"body", T_OBJECT_EX, offsetof(PnResponseObject, body), 0, "the body bytes"},
    {"raw_headers", T_OBJECT_EX, offsetof(PnResponseObject, raw_headers), 0,
     "list of (lowercased name, value) bytes pairs"},
    {"background", T_OBJECT_EX, offsetof(PnResponseObject, background), 0,
     "what runs after the response is sent, or None"},
    {NULL},
};

static PyType_Slot resp_slots[] = {
    {Py_tp_dealloc, resp_dealloc},
    {Py_tp_traverse, resp_traverse},
    {Py_tp_clear, resp_clear},
    {Py_tp_members, resp_members},
    {Py_tp_doc, "The fields of a response the engine writes (pronghorn.Response's base)."},
    {0, NULL},
};

PyType_Spec PnResponse_spec = {
    .name = "pronghorn._core.ResponseBase",
    .basicsize = sizeof(PnResponseObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = resp_slots,
};
