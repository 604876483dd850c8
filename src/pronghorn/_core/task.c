/*
 * task.c — the task that runs an `async def` handler (binding).
 *
 * Owns: stepping a handler's coroutine, from C, with asyncio's task
 * semantics. The first step runs at once (eagerly) inside the request
 * dispatch; a coroutine that finishes there never touches the event loop.
 * One that waits on a future resumes from that future's done callback, a
 * bare `yield` (asyncio.sleep(0)) through loop.call_soon — exactly what an
 * asyncio.Task would do, without the Task's per-request scheduling cost.
 *
 * While a step runs, the task is asyncio's current task (_enter_task /
 * _leave_task) and the request's contextvars Context is entered, so
 * asyncio.current_task(), asyncio.timeout(), cancellation and context
 * variables behave as in a Task: the object offers cancel(), cancelling(),
 * uncancel(), done(), cancelled(), result(), exception(), get_coro(),
 * get_loop(), get_context(), get_name()/set_name(), add_done_callback(),
 * remove_done_callback() and the _fut_waiter/_must_cancel attributes that
 * asyncio-aware libraries read.
 *
 * Must not know about: HTTP or connections. Completion is reported to the
 * owner through a C callback.
 */
#include "pymod.h"

#include <string.h>

enum { TASK_PENDING = 0, TASK_FINISHED, TASK_CANCELLED };

struct PnTaskObject {
    PyObject_HEAD
    PyObject *coro;
    PyObject *loop;
    PyObject *context;
    PyObject *fut_waiter;
    PyObject *result;
    PyObject *exception;
    PyObject *cancel_msg;
    PyObject *callbacks; /* list of callables, or NULL */
    PyObject *name;
    PyObject *weakreflist;
    PyObject *owner;
    pn_task_done_fn on_done;
    int state;
    int must_cancel;
    int num_cancels_requested;
    int running;
};

static pn_state_t *task_state(PnTaskObject *t)
{
    return pn_state_from_type(Py_TYPE(t));
}

static PyMethodDef step_def;
static PyMethodDef wakeup_def;

/* The task is done: tell the owner, then schedule Python done callbacks. */
static void finish(PnTaskObject *t)
{
    Py_CLEAR(t->fut_waiter);
    pn_task_done_fn cb = t->on_done;
    PyObject *owner = t->owner;
    t->on_done = NULL;
    t->owner = NULL;
    if (cb != NULL) {
        cb(owner, t);
    }
    Py_XDECREF(owner);
    if (t->callbacks != NULL) {
        PyObject *cbs = t->callbacks;
        t->callbacks = NULL;
        pn_state_t *st = task_state(t);
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(cbs); i++) {
            PyObject *r = PyObject_CallMethodObjArgs(t->loop, st->str_call_soon,
                                                     PyList_GET_ITEM(cbs, i), (PyObject *)t, NULL);
            if (r == NULL) {
                PyErr_WriteUnraisable((PyObject *)t);
            }
            Py_XDECREF(r);
        }
        Py_DECREF(cbs);
    }
}

/* Set the outcome from the current exception (StopIteration -> result). */
static void settle_from_error(PnTaskObject *t)
{
    pn_state_t *st = task_state(t);
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL) {
        PyException_SetTraceback(value, tb);
    }
    if (type != NULL && PyErr_GivenExceptionMatches(type, PyExc_StopIteration)) {
        t->result = value ? PyObject_GetAttrString(value, "value") : Py_NewRef(Py_None);
        if (t->result == NULL) {
            PyErr_Clear();
            t->result = Py_NewRef(Py_None);
        }
        t->state = TASK_FINISHED;
        Py_XDECREF(value);
    } else if (type != NULL && PyErr_GivenExceptionMatches(type, st->CancelledError)) {
        t->exception = value;
        t->state = TASK_CANCELLED;
    } else {
        t->exception = value;
        t->state = TASK_FINISHED;
    }
    Py_XDECREF(type);
    Py_XDECREF(tb);
}

static int call_enter_leave(PnTaskObject *t, PyObject *func)
{
    PyObject *args[2] = {t->loop, (PyObject *)t};
    PyObject *r = PyObject_Vectorcall(func, args, 2, NULL);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static int schedule_step(PnTaskObject *t)
{
    pn_state_t *st = task_state(t);
    PyObject *step = PyCFunction_New(&step_def, (PyObject *)t);
    if (step == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallMethodObjArgs(t->loop, st->str_call_soon, step, NULL);
    Py_DECREF(step);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* Handle what the coroutine yielded: a future to wait on, or None (bare yield). */
static int wait_for(PnTaskObject *t, PyObject *yielded)
{
    pn_state_t *st = task_state(t);
    if (t->loop == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a handler awaited outside of a running event loop");
        return -1;
    }
    if (yielded == Py_None) {
        return schedule_step(t);
    }
    PyObject *blocking = PyObject_GetAttr(yielded, st->str_asyncio_future_blocking);
    if (blocking == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();
    }
    int is_blocking = blocking != NULL && PyObject_IsTrue(blocking) == 1;
    Py_XDECREF(blocking);
    if (!is_blocking) {
        PyErr_Format(PyExc_RuntimeError, "Task got bad yield: %R", yielded);
        return -1;
    }
    if (PyObject_SetAttr(yielded, st->str_asyncio_future_blocking, Py_False) < 0) {
        return -1;
    }
    PyObject *wakeup = PyCFunction_New(&wakeup_def, (PyObject *)t);
    if (wakeup == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallMethodOneArg(yielded, st->str_add_done_callback, wakeup);
    Py_DECREF(wakeup);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    Py_XSETREF(t->fut_waiter, Py_NewRef(yielded));
    if (t->must_cancel) {
        PyObject *c = t->cancel_msg ? PyObject_CallMethodOneArg(yielded, st->str_cancel,
                                                                t->cancel_msg)
                                    : PyObject_CallMethodNoArgs(yielded, st->str_cancel);
        if (c == NULL) {
            return -1;
        }
        if (PyObject_IsTrue(c) == 1) {
            t->must_cancel = 0;
        }
        Py_DECREF(c);
    }
    return 0;
}

/* One step: send None (or throw exc) into the coroutine. Steals nothing. */
static void step(PnTaskObject *t, PyObject *exc)
{
    pn_state_t *st = task_state(t);
    if (t->state != TASK_PENDING) {
        return;
    }
    Py_INCREF(t);
    PyObject *own_exc = NULL;
    if (t->must_cancel) {
        t->must_cancel = 0;
        own_exc = t->cancel_msg ? PyObject_CallOneArg(st->CancelledError, t->cancel_msg)
                                : PyObject_CallNoArgs(st->CancelledError);
        if (own_exc == NULL) {
            goto fail;
        }
        exc = own_exc;
    }
    Py_CLEAR(t->fut_waiter);
    if (PyContext_Enter(t->context) < 0) {
        goto fail;
    }
    /* Become asyncio's current task. If another task is current (a step run
     * from inside a task, e.g. an in-memory test client fed from a test
     * coroutine), it is swapped out for the step and restored after. */
    PyObject *outer = NULL;
    int entered = 0;
    if (t->loop != NULL) {
        /* asyncio's own registry of current tasks (a dict loop -> task): when another
         * task is current, swap it out first instead of provoking _enter_task's error. */
        outer = PyDict_GetItemWithError(st->current_tasks, t->loop);
        Py_XINCREF(outer);
        if (outer != NULL) {
            PyObject *args[2] = {t->loop, outer};
            PyObject *r = PyObject_Vectorcall(st->leave_task, args, 2, NULL);
            Py_XDECREF(r);
            entered = r != NULL && call_enter_leave(t, st->enter_task) == 0;
        } else if (!PyErr_Occurred()) {
            entered = call_enter_leave(t, st->enter_task) == 0;
        }
        if (!entered) {
            Py_XDECREF(outer);
            PyContext_Exit(t->context);
            goto fail;
        }
    }
    t->running = 1;
    PyObject *val = NULL;
    int sr;
    if (exc == NULL) {
        sr = PyIter_Send(t->coro, Py_None, &val);
    } else {
        val = PyObject_CallMethodOneArg(t->coro, st->str_throw, exc);
        sr = val != NULL ? PYGEN_NEXT : PYGEN_ERROR;
    }
    t->running = 0;
    if (entered) {
        /* Keep the step's outcome across _leave_task. */
        PyObject *et, *ev, *etb;
        PyErr_Fetch(&et, &ev, &etb);
        if (call_enter_leave(t, st->leave_task) < 0) {
            PyErr_WriteUnraisable((PyObject *)t);
        }
        if (outer != NULL) {
            PyObject *args[2] = {t->loop, outer};
            PyObject *r = PyObject_Vectorcall(st->enter_task, args, 2, NULL);
            if (r == NULL) {
                PyErr_WriteUnraisable((PyObject *)t);
            }
            Py_XDECREF(r);
        }
        Py_XDECREF(outer);
        PyErr_Restore(et, ev, etb);
    }
    PyContext_Exit(t->context);
    if (sr == PYGEN_RETURN) {
        t->result = val;
        t->state = TASK_FINISHED;
        finish(t);
    } else if (sr == PYGEN_ERROR) {
        settle_from_error(t);
        finish(t);
    } else if (wait_for(t, val) < 0) {
        Py_DECREF(val);
        /* Like asyncio: the error is thrown into the coroutine at the next step. */
        PyObject *et, *ev, *etb;
        PyErr_Fetch(&et, &ev, &etb);
        PyErr_NormalizeException(&et, &ev, &etb);
        Py_XDECREF(et);
        Py_XDECREF(etb);
        if (ev != NULL) {
            step(t, ev);
            Py_DECREF(ev);
        }
    } else {
        Py_DECREF(val);
    }
    Py_XDECREF(own_exc);
    Py_DECREF(t);
    return;
fail:
    settle_from_error(t);
    finish(t);
    Py_XDECREF(own_exc);
    Py_DECREF(t);
}

PnTaskObject *pn_task_new(pn_state_t *st, PyObject *loop, PyObject *coro, PyObject *context,
                          PyObject *owner, pn_task_done_fn on_done)
{
    PnTaskObject *t = PyObject_GC_New(PnTaskObject, st->TaskType);
    if (t == NULL) {
        return NULL;
    }
    t->coro = Py_NewRef(coro);
    t->loop = Py_XNewRef(loop);
    t->context = Py_NewRef(context);
    t->fut_waiter = t->result = t->exception = t->cancel_msg = NULL;
    t->callbacks = t->name = t->weakreflist = NULL;
    t->owner = Py_XNewRef(owner);
    t->on_done = on_done;
    t->state = TASK_PENDING;
    t->must_cancel = t->num_cancels_requested = t->running = 0;
    PyObject_GC_Track(t);
    return t;
}

void pn_task_start(PnTaskObject *t)
{
    step(t, NULL);
}

int pn_task_done(PnTaskObject *t)
{
    return t->state != TASK_PENDING;
}

PyObject *pn_task_outcome(PnTaskObject *t)
{
    if (t->state == TASK_FINISHED && t->exception == NULL) {
        return Py_NewRef(t->result);
    }
    if (t->exception != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(t->exception), t->exception);
    } else {
        PyErr_SetNone(task_state(t)->CancelledError);
    }
    return NULL;
}

/* Detach the owner (its callback is not called any more). */
void pn_task_disown(PnTaskObject *t)
{
    t->on_done = NULL;
    Py_CLEAR(t->owner);
}

/* ---- Python API ---- */

static PyObject *task_step_py(PnTaskObject *t, PyObject *unused)
{
    step(t, NULL);
    Py_RETURN_NONE;
}

static PyObject *task_wakeup(PnTaskObject *t, PyObject *fut)
{
    pn_state_t *st = task_state(t);
    PyObject *r = PyObject_CallMethodNoArgs(fut, st->str_result);
    if (r != NULL) {
        Py_DECREF(r);
        step(t, NULL);
        Py_RETURN_NONE;
    }
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyErr_NormalizeException(&et, &ev, &etb);
    if (etb != NULL && ev != NULL) {
        PyException_SetTraceback(ev, etb);
    }
    step(t, ev);
    Py_XDECREF(et);
    Py_XDECREF(ev);
    Py_XDECREF(etb);
    Py_RETURN_NONE;
}

static PyMethodDef step_def = {"_step", (PyCFunction)task_step_py, METH_NOARGS, NULL};
static PyMethodDef wakeup_def = {"_wakeup", (PyCFunction)task_wakeup, METH_O, NULL};

static PyObject *task_cancel(PnTaskObject *t, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"msg", NULL};
    PyObject *msg = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &msg)) {
        return NULL;
    }
    if (t->state != TASK_PENDING) {
        Py_RETURN_FALSE;
    }
    t->num_cancels_requested++;
    if (t->fut_waiter != NULL) {
        PyObject *r = PyObject_CallMethod(t->fut_waiter, "cancel", "O", msg);
        if (r == NULL) {
            return NULL;
        }
        int done = PyObject_IsTrue(r);
        Py_DECREF(r);
        if (done == 1) {
            return Py_NewRef(Py_True); /* wakeup throws CancelledError into the coroutine */
        }
    }
    t->must_cancel = 1;
    Py_XSETREF(t->cancel_msg, msg == Py_None ? NULL : Py_NewRef(msg));
    Py_RETURN_TRUE;
}

static PyObject *task_cancelling(PnTaskObject *t, PyObject *unused)
{
    return PyLong_FromLong(t->num_cancels_requested);
}

static PyObject *task_uncancel(PnTaskObject *t, PyObject *unused)
{
    if (t->num_cancels_requested > 0) {
        t->num_cancels_requested--;
    }
    return PyLong_FromLong(t->num_cancels_requested);
}

static PyObject *task_done_py(PnTaskObject *t, PyObject *unused)
{
    return PyBool_FromLong(t->state != TASK_PENDING);
}

static PyObject *task_cancelled(PnTaskObject *t, PyObject *unused)
{
    return PyBool_FromLong(t->state == TASK_CANCELLED);
}

static PyObject *task_result(PnTaskObject *t, PyObject *unused)
{
    if (t->state == TASK_PENDING) {
        PyErr_SetString(task_state(t)->InvalidStateError, "Result is not set.");
        return NULL;
    }
    return pn_task_outcome(t);
}

static PyObject *task_exception(PnTaskObject *t, PyObject *unused)
{
    if (t->state == TASK_PENDING) {
        PyErr_SetString(task_state(t)->InvalidStateError, "Exception is not set.");
        return NULL;
    }
    if (t->state == TASK_CANCELLED) {
        PyErr_SetNone(task_state(t)->CancelledError);
        return NULL;
    }
    return Py_NewRef(t->exception ? t->exception : Py_None);
}

static PyObject *task_add_done_callback(PnTaskObject *t, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"fn", "context", NULL};
    PyObject *fn, *ctx = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$O", kwlist, &fn, &ctx)) {
        return NULL;
    }
    if (t->state != TASK_PENDING) {
        PyObject *r = PyObject_CallMethodObjArgs(t->loop, task_state(t)->str_call_soon, fn,
                                                 (PyObject *)t, NULL);
        if (r == NULL) {
            return NULL;
        }
        Py_DECREF(r);
        Py_RETURN_NONE;
    }
    if (t->callbacks == NULL && (t->callbacks = PyList_New(0)) == NULL) {
        return NULL;
    }
    if (PyList_Append(t->callbacks, fn) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *task_remove_done_callback(PnTaskObject *t, PyObject *fn)
{
    Py_ssize_t removed = 0;
    if (t->callbacks != NULL) {
        for (Py_ssize_t i = PyList_GET_SIZE(t->callbacks) - 1; i >= 0; i--) {
            int eq = PyObject_RichCompareBool(PyList_GET_ITEM(t->callbacks, i), fn, Py_EQ);
            if (eq < 0) {
                return NULL;
            }
            if (eq && PySequence_DelItem(t->callbacks, i) == 0) {
                removed++;
            }
        }
    }
    return PyLong_FromSsize_t(removed);
}

static PyObject *task_get_coro(PnTaskObject *t, PyObject *unused)
{
    return Py_NewRef(t->coro ? t->coro : Py_None);
}

static PyObject *task_get_loop(PnTaskObject *t, PyObject *unused)
{
    return Py_NewRef(t->loop ? t->loop : Py_None);
}

static PyObject *task_get_context(PnTaskObject *t, PyObject *unused)
{
    return Py_NewRef(t->context);
}

static PyObject *task_get_name(PnTaskObject *t, PyObject *unused)
{
    if (t->name == NULL) {
        return PyUnicode_FromFormat("pronghorn-handler-%p", (void *)t);
    }
    return Py_NewRef(t->name);
}

static PyObject *task_set_name(PnTaskObject *t, PyObject *name)
{
    PyObject *s = PyObject_Str(name);
    if (s == NULL) {
        return NULL;
    }
    Py_XSETREF(t->name, s);
    Py_RETURN_NONE;
}

static PyObject *task_get_fut_waiter(PnTaskObject *t, void *closure)
{
    return Py_NewRef(t->fut_waiter ? t->fut_waiter : Py_None);
}

static PyObject *task_get_must_cancel(PnTaskObject *t, void *closure)
{
    return PyBool_FromLong(t->must_cancel);
}

static PyObject *task_repr(PnTaskObject *t)
{
    static const char *states[] = {"pending", "finished", "cancelled"};
    return PyUnicode_FromFormat("<pronghorn handler task %s coro=%R>", states[t->state],
                                t->coro ? t->coro : Py_None);
}

static int task_traverse(PnTaskObject *t, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(t));
    Py_VISIT(t->coro);
    Py_VISIT(t->loop);
    Py_VISIT(t->context);
    Py_VISIT(t->fut_waiter);
    Py_VISIT(t->result);
    Py_VISIT(t->exception);
    Py_VISIT(t->cancel_msg);
    Py_VISIT(t->callbacks);
    Py_VISIT(t->name);
    Py_VISIT(t->owner);
    return 0;
}

static int task_clear(PnTaskObject *t)
{
    Py_CLEAR(t->coro);
    Py_CLEAR(t->loop);
    Py_CLEAR(t->context);
    Py_CLEAR(t->fut_waiter);
    Py_CLEAR(t->result);
    Py_CLEAR(t->exception);
    Py_CLEAR(t->cancel_msg);
    Py_CLEAR(t->callbacks);
    Py_CLEAR(t->name);
    Py_CLEAR(t->owner);
    t->on_done = NULL;
    return 0;
}

static void task_dealloc(PnTaskObject *t)
{
    PyTypeObject *tp = Py_TYPE(t);
    PyObject_GC_UnTrack(t);
    if (t->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)t);
    }
    task_clear(t);
    PyObject_GC_Del(t);
    Py_DECREF(tp);
}

static PyMethodDef task_methods[] = {
    {"cancel", (PyCFunction)(void (*)(void))task_cancel, METH_VARARGS | METH_KEYWORDS, NULL},
    {"cancelling", (PyCFunction)task_cancelling, METH_NOARGS, NULL},
    {"uncancel", (PyCFunction)task_uncancel, METH_NOARGS, NULL},
    {"done", (PyCFunction)task_done_py, METH_NOARGS, NULL},
    {"cancelled", (PyCFunction)task_cancelled, METH_NOARGS, NULL},
    {"result", (PyCFunction)task_result, METH_NOARGS, NULL},
    {"exception", (PyCFunction)task_exception, METH_NOARGS, NULL},
    {"add_done_callback", (PyCFunction)(void (*)(void))task_add_done_callback,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"remove_done_callback", (PyCFunction)task_remove_done_callback, METH_O, NULL},
    {"get_coro", (PyCFunction)task_get_coro, METH_NOARGS, NULL},
    {"get_loop", (PyCFunction)task_get_loop, METH_NOARGS, NULL},
    {"get_context", (PyCFunction)task_get_context, METH_NOARGS, NULL},
    {"get_name", (PyCFunction)task_get_name, METH_NOARGS, NULL},
    {"set_name", (PyCFunction)task_set_name, METH_O, NULL},
    {NULL},
};

static PyGetSetDef task_getset[] = {
    {"_fut_waiter", (getter)task_get_fut_waiter, NULL, "the future the task waits on", NULL},
    {"_must_cancel", (getter)task_get_must_cancel, NULL, "a cancel is pending", NULL},
    {"_coro", (getter)task_get_coro, NULL, "the coroutine", NULL},
    {"_loop", (getter)task_get_loop, NULL, "the event loop (read by anyio)", NULL},
    {NULL},
};

static PyMemberDef task_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(PnTaskObject, weakreflist), READONLY},
    {NULL},
};

static PyType_Slot task_slots[] = {
    {Py_tp_doc, "The task running one async request handler (asyncio.Task semantics)."},
    {Py_tp_repr, task_repr},
    {Py_tp_dealloc, task_dealloc},
    {Py_tp_traverse, task_traverse},
    {Py_tp_clear, task_clear},
    {Py_tp_methods, task_methods},
    {Py_tp_getset, task_getset},
    {Py_tp_members, task_members},
    {0, NULL},
};

PyType_Spec PnTask_spec = {
    .name = "pronghorn._core.HandlerTask",
    .basicsize = sizeof(PnTaskObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = task_slots,
};
