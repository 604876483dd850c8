/*
 * test_http1_corpus.c — replays third-party request corpora through the
 * parser and the chunked decoder: llhttp's Markdown request cases and
 * gunicorn's .http/.py cases, read at run time from $PN_TESTDATA (default
 * ../shared/testdata; see its README.md for both formats). gunicorn's .py
 * expectations are pre-converted by gen_gunicorn.py into
 * tests/c/data/gunicorn_expect.txt ($PN_GUNICORN_EXPECT overrides the path).
 *
 * Each case is replayed whole, byte by byte and at random split points, in
 * front of a guard page (http1_replay.h), and must give the same outcome
 * every time; then that outcome is compared with the corpus: for llhttp
 * "request" cases the parsed heads, bodies and how the input ends; llhttp
 * "request-lenient-*" cases must be rejected; gunicorn valid cases must give
 * the listed requests, invalid ones the mapped status.
 *
 * Where this strict parser deliberately differs from a corpus, the case is in
 * a skip table below with its reason (printed as TAP "# SKIP"); it is still
 * replayed for split invariance. One systematic rule instead of many skips:
 * llhttp and gunicorn accept HTTP/1.1 requests without Host, we reject them
 * (RFC 9112 §3.2). When a replay ends in "missing Host", the test inserts
 * "Host: h" after that request-line and replays again, so the rest of the case
 * is still compared (the inserted field is left out of comparisons).
 */
#include <dirent.h>

#include "http1_replay.h"

/* ---- corpus: common ------------------------------------------------------ */

static const char *testdata_dir(void)
{
    const char *env = getenv("PN_TESTDATA");
    return env ? env : "../shared/testdata";
}

/* Inserts "Host: h\r\n" after the request-line of the message starting at start. */
static void insert_host(bbuf_t *in, size_t start)
{
    size_t p = start;
    while (p + 1 < in->n && in->p[p] == '\r' && in->p[p + 1] == '\n') {
        p += 2;
    }
    const char *lf = memchr(in->p + p, '\n', in->n - p);
    size_t at = lf ? (size_t)(lf - in->p) + 1 : in->n;
    bbuf_t out = {0};
    bb_put(&out, in->p, at);
    bb_puts(&out, "Host: h\r\n");
    bb_put(&out, in->p + at, in->n - at);
    bb_free(in);
    *in = out;
}

/*
 * Replays a corpus input: split invariance (one TAP line), with the Host rule
 * from the file comment applied first. On return *o is the whole-input
 * outcome, *injected has bit i set for each message given a Host.
 */
static void corpus_replay(const char *name, bbuf_t *in, const pn_http1_limits_t *lim, outcome_t *o,
                          unsigned *injected, int *n_injected)
{
    *injected = 0;
    for (int round = 0; round < MAX_MSGS; round++) {
        replay_whole(in->p, in->n, lim, o);
        if (o->end != END_ERROR || strcmp(o->reason, "missing Host") != 0) {
            break;
        }
        *injected |= 1u << o->nmsg;
        ++*n_injected;
        insert_host(in, o->fail_start);
    }
    ok(split_invariant(in->p, in->n, lim, o), "%s: same outcome whole, byte by byte, split", name);
}

/* Header i of message m as the corpus sees it (skipping an inserted Host). */
static size_t visible_headers(const tmsg_t *m, int injected, size_t *first)
{
    *first = injected ? 1 : 0;
    return m->nh - *first;
}

/* ---- corpus: llhttp ------------------------------------------------------ */

/* llhttp cases (file, title) where the strict parser deliberately differs. */
static const struct {
    const char *file, *title, *reason;
} llhttp_skips[] = {
    {"sample.md", "No HTTP version", "HTTP/0.9 request-lines are rejected (400)"},
    {"invalid.md", "Invalid HTTP version",
     "the version is judged at its CR (HTTP/5.6 vs HTTP/5.60); the input ends before it"},
    {"method.md", "SOURCE request with ICE", "only HTTP/1.x is accepted, not ICE/1.0"},
    {"method.md", "OPTIONS request with RTSP", "only HTTP/1.x is accepted, not RTSP/1.0"},
    {"method.md", "ANNOUNCE request with RTSP", "only HTTP/1.x is accepted, not RTSP/1.0"},
    {"method.md", "M-SEARCH request", "asterisk-form target only with OPTIONS (RFC 9112 3.2.4)"},
    {"method.md", "PRI request HTTP2", "asterisk-form target only with OPTIONS; no h2 preface"},
    {"method.md", "CONNECT with body", "a CONNECT request with content is rejected (400)"},
    {"invalid.md", "HTTP protocol and ANNOUNCE method",
     "any token is a method (RFC 9110 9.1); llhttp has a fixed list"},
    {"invalid.md", "Invalid method",
     "any token is a method (RFC 9110 9.1); llhttp has a fixed list"},
    {"transfer-encoding.md", "POST with `chunked` as last transfer-encoding",
     "codings other than chunked are not decoded: 501"},
    {"transfer-encoding.md", "POST with `chunked` as last transfer-encoding (multiple headers)",
     "codings other than chunked are not decoded: 501"},
    {"content-length.md", "Content-Length reset when no body is received",
     "skipBody is an llhttp callback feature"},
};

typedef struct {
    bbuf_t method, url, version, body;
    bbuf_t hname[64], hvalue[64];
    size_t nh;
    int head, complete;
} llmsg_t;

typedef struct {
    llmsg_t msg[MAX_MSGS + 1];
    int nmsg;
    int end;
} llexpect_t;

static void llexpect_free(llexpect_t *e)
{
    for (int i = 0; i < MAX_MSGS + 1; i++) {
        llmsg_t *m = &e->msg[i];
        bb_free(&m->method);
        bb_free(&m->url);
        bb_free(&m->version);
        bb_free(&m->body);
        for (size_t h = 0; h < 64; h++) {
            bb_free(&m->hname[h]);
            bb_free(&m->hvalue[h]);
        }
    }
}

/* Decodes an ```http block the way llhttp's test runner does (see file comment). */
static void llhttp_decode(const char *raw, size_t n, bbuf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        char c = raw[i];
        if (c == '\\' && i + 1 < n && raw[i + 1] == '\n') {
            i++; /* escaped newline: no line break */
        } else if (c == '\n') {
            bb_put(out, "\r\n", 2);
        } else if (c == '\\' && i + 1 < n && strchr("rntf", raw[i + 1]) && raw[i + 1]) {
            char e = raw[++i];
            char b = e == 'r' ? '\r' : e == 'n' ? '\n' : e == 't' ? '\t' : '\f';
            bb_put(out, &b, 1);
        } else if (c == '\\' && i + 2 < n && raw[i + 1] == 'x' &&
                   strchr("0123456789abcdefABCDEF", raw[i + 2]) && raw[i + 2]) {
            unsigned v = 0;
            for (i += 2; i < n && raw[i] && strchr("0123456789abcdefABCDEF", raw[i]); i++) {
                v = v * 16 + (unsigned)(raw[i] <= '9' ? raw[i] - '0' : (raw[i] | 0x20) - 'a' + 10);
            }
            i--;
            char b = (char)v;
            bb_put(out, &b, 1);
        } else if (c == '\\' && i + 1 < n && raw[i + 1] >= '0' && raw[i + 1] <= '7') {
            unsigned v = 0;
            int k = 0;
            for (i++; i < n && k < 3 && raw[i] >= '0' && raw[i] <= '7'; i++, k++) {
                v = v * 8 + (unsigned)(raw[i] - '0');
            }
            i--;
            char b = (char)v;
            bb_put(out, &b, 1);
        } else {
            bb_put(out, &c, 1);
        }
    }
}

/* The quoted value of a log span; "\t" and "\f" escapes are decoded. */
static void span_value(const char *line, bbuf_t *out)
{
    const char *eq = strstr(line, "]=");
    if (eq == NULL) {
        return;
    }
    eq += 2;
    if (strcmp(eq, "cr") == 0) {
        bb_put(out, "\r", 1);
        return;
    }
    if (strcmp(eq, "lf") == 0) {
        bb_put(out, "\n", 1);
        return;
    }
    size_t n = strlen(eq);
    if (n < 2 || eq[0] != '"' || eq[n - 1] != '"') {
        return;
    }
    for (size_t i = 1; i + 1 < n; i++) {
        if (eq[i] == '\\' && (eq[i + 1] == 't' || eq[i + 1] == 'f') && i + 2 < n) {
            bb_put(out, eq[i + 1] == 't' ? "\t" : "\f", 1);
            i++;
        } else {
            bb_put(out, &eq[i], 1);
        }
    }
}

static void llhttp_expect(char **lines, size_t nlines, llexpect_t *e)
{
    llmsg_t *m = NULL;
    e->end = END_INCOMPLETE;
    for (size_t i = 0; i < nlines; i++) {
        const char *l = lines[i];
        const char *ev = strchr(l, ' ');
        ev = ev ? ev + 1 : l;
        if (strncmp(ev, "len=", 4) == 0) {
            ev = strchr(ev, ' ') ? strchr(ev, ' ') + 1 : ev;
        }
        e->end = END_INCOMPLETE;
        if (strcmp(ev, "message begin") == 0) {
            if (e->nmsg == MAX_MSGS + 1) {
                return;
            }
            m = &e->msg[e->nmsg++];
        } else if (m == NULL) {
            continue;
        } else if (strncmp(ev, "span[method]", 12) == 0) {
            span_value(ev, &m->method);
        } else if (strncmp(ev, "span[url]", 9) == 0) {
            span_value(ev, &m->url);
        } else if (strncmp(ev, "span[version]", 13) == 0) {
            span_value(ev, &m->version);
        } else if (strncmp(ev, "span[header_field]", 18) == 0 && m->nh < 64 && !m->head) {
            span_value(ev, &m->hname[m->nh]);
        } else if (strncmp(ev, "span[header_value]", 18) == 0 && m->nh < 64 && !m->head) {
            span_value(ev, &m->hvalue[m->nh]);
        } else if (strcmp(ev, "header_value complete") == 0 && m->nh < 64 && !m->head) {
            m->nh++; /* trailer fields (after the head) are not compared */
        } else if (strncmp(ev, "span[body]", 10) == 0) {
            span_value(ev, &m->body);
        } else if (strncmp(ev, "headers complete", 16) == 0) {
            m->head = 1;
        } else if (strcmp(ev, "message complete") == 0) {
            m->complete = 1;
            e->end = END_CLEAN;
        } else if (strncmp(ev, "error code=", 11) == 0) {
            int code = atoi(ev + 11);
            e->end = code == 22 || code == 23 ? END_UPGRADE
                     : code == 5              ? END_CLOSE_DATA
                                              : END_ERROR;
        }
    }
}

/* Expected bytes; llhttp's log shows a \xNN input byte as the UTF-8 of U+00NN. */
static int llhttp_bytes_eq(const bbuf_t *want, const bbuf_t *got)
{
    if (bb_eq(want, got)) {
        return 1;
    }
    bbuf_t latin = {0};
    for (size_t i = 0; i < want->n; i++) {
        unsigned char c = (unsigned char)want->p[i];
        if ((c == 0xc2 || c == 0xc3) && i + 1 < want->n) {
            char b = (char)(((c & 0x03) << 6) | (want->p[++i] & 0x3f));
            bb_put(&latin, &b, 1);
        } else {
            bb_put(&latin, &want->p[i], 1);
        }
    }
    int eq = bb_eq(&latin, got);
    bb_free(&latin);
    return eq;
}

/*
 * Compares parsed heads, bodies and how the replay ended. When both end in an
 * error, only the complete messages before it are compared: whether the
 * failing message's head counts as parsed depends on where each parser checks
 * a rule (llhttp rejects an unknown coding after the head, we at the field).
 */
static int llhttp_compare(const llexpect_t *e, const outcome_t *o, unsigned injected)
{
    int heads = 0, nmsg = o->nmsg;
    for (int i = 0; i < e->nmsg; i++) {
        heads += e->end == END_ERROR ? e->msg[i].complete : e->msg[i].head;
    }
    if (e->end == END_ERROR && o->end == END_ERROR) {
        while (nmsg > 0 && !o->msg[nmsg - 1].complete) {
            nmsg--;
        }
    }
    if (heads != nmsg) {
        diag("  expected %d parsed head(s), got %d", heads, nmsg);
        return 0;
    }
    if (e->end != o->end) {
        diag("  expected end \"%s\", got \"%s\"", end_names[e->end], end_names[o->end]);
        return 0;
    }
    for (int i = 0; i < nmsg; i++) {
        const llmsg_t *w = &e->msg[i];
        const tmsg_t *g = &o->msg[i];
        size_t first, nh = visible_headers(g, (injected >> i) & 1, &first);
        char ver[4] = {'1', '.', (char)('0' + g->minor), 0};
        if (!bb_eq(&w->method, &g->method) || !llhttp_bytes_eq(&w->url, &g->target) ||
            !mem_eq(w->version.p, w->version.n, ver, 3) || w->nh != nh ||
            w->complete != g->complete || !llhttp_bytes_eq(&w->body, &g->body)) {
            diag("  message %d differs: method %s url %s body \"%s\" (want \"%s\") headers %zu/%zu",
                 i, show(g->method.p, g->method.n), show(g->target.p, g->target.n),
                 show(g->body.p, g->body.n), show(w->body.p, w->body.n), nh, w->nh);
            return 0;
        }
        for (size_t h = 0; h < nh; h++) {
            bbuf_t v = {0};
            size_t a = 0, b = w->hvalue[h].n;
            while (b > 0 && (w->hvalue[h].p[b - 1] == ' ' || w->hvalue[h].p[b - 1] == '\t')) {
                b--;
            }
            while (a < b && (w->hvalue[h].p[a] == ' ' || w->hvalue[h].p[a] == '\t')) {
                a++;
            }
            bb_put(&v, w->hvalue[h].p + a, b - a);
            int same = bb_eq(&w->hname[h], &g->hname[first + h]) &&
                       llhttp_bytes_eq(&v, &g->hvalue[first + h]);
            bb_free(&v);
            if (!same) {
                diag("  message %d header %zu differs: %s: %s", i, h,
                     show(g->hname[first + h].p, g->hname[first + h].n),
                     show(g->hvalue[first + h].p, g->hvalue[first + h].n));
                return 0;
            }
        }
    }
    return 1;
}

typedef struct {
    int cases, skipped, injected;
} corpus_stats_t;

static void llhttp_case(const char *file, const char *title, const char *meta, bbuf_t *raw,
                        char **log, size_t nlog, corpus_stats_t *st)
{
    char name[300];
    snprintf(name, sizeof name, "llhttp/%s: %s", file, title);
    bbuf_t in = {0};
    llhttp_decode(raw->p ? raw->p : "", raw->n, &in);
    const char *type = strstr(meta, "\"type\"");
    char tbuf[64] = "";
    if (type != NULL) {
        const char *q = strchr(type + 6, '"');
        const char *qe = q ? strchr(q + 1, '"') : NULL;
        if (qe && (size_t)(qe - q - 1) < sizeof tbuf) {
            memcpy(tbuf, q + 1, (size_t)(qe - q - 1));
            tbuf[qe - q - 1] = '\0';
        }
    }
    outcome_t *o = outcome_new();
    unsigned injected;
    st->cases++;
    corpus_replay(name, &in, &default_limits, o, &injected, &st->injected);

    const char *why = NULL;
    for (size_t i = 0; i < sizeof llhttp_skips / sizeof *llhttp_skips; i++) {
        if (strcmp(llhttp_skips[i].file, file) == 0 && strcmp(llhttp_skips[i].title, title) == 0) {
            why = llhttp_skips[i].reason;
        }
    }
    if (strstr(meta, "\"pause\"")) {
        why = "llhttp pause API";
    } else if (strcmp(tbuf, "request") != 0 && strncmp(tbuf, "request-lenient-", 16) != 0) {
        why = "not a plain request case (llhttp finish/response API)";
    }
    if (why != NULL) {
        st->skipped++;
        skip(why, "%s: matches llhttp", name);
    } else if (strcmp(tbuf, "request") != 0) {
        int rejected = o->end == END_ERROR || o->end == END_CLOSE_DATA;
        if (!ok(rejected, "%s: lenient case is rejected", name)) {
            describe("got", o);
        }
    } else {
        llexpect_t *e = calloc(1, sizeof *e);
        llhttp_expect(log, nlog, e);
        if (!ok(llhttp_compare(e, o, injected), "%s: matches llhttp", name)) {
            describe("got", o);
            diag("  input: \"%s\"", show(in.p, in.n));
        }
        llexpect_free(e);
        free(e);
    }
    outcome_delete(o);
    bb_free(&in);
}

static void llhttp_file(const char *dir, const char *file, corpus_stats_t *st)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t len;
    char *text = read_file(path, &len);
    if (text == NULL) {
        ok(0, "read %s", path);
        return;
    }
    size_t nl = 0, cap = 1024;
    char **lines = malloc(cap * sizeof *lines);
    for (char *p = text, *e; p < text + len; p = e + 1) {
        e = memchr(p, '\n', (size_t)(text + len - p));
        e = e ? e : text + len;
        *e = '\0';
        if (nl == cap) {
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        }
        lines[nl++] = p;
    }
    char title[256] = "", meta[256] = "";
    bbuf_t raw = {0};
    int have_http = 0;
    for (size_t i = 0; i < nl; i++) {
        const char *l = lines[i];
        if (l[0] == '#') {
            snprintf(title, sizeof title, "%s", l + strspn(l, "# "));
            meta[0] = '\0';
        } else if (strncmp(l, "<!-- meta=", 10) == 0) {
            snprintf(meta, sizeof meta, "%s", l);
        } else if (strcmp(l, "```http") == 0) {
            bb_free(&raw);
            size_t j = i + 1;
            for (; j < nl && strcmp(lines[j], "```") != 0; j++) {
                if (j > i + 1) {
                    bb_put(&raw, "\n", 1);
                }
                bb_puts(&raw, lines[j]);
            }
            have_http = 1;
            i = j;
        } else if (strcmp(l, "```log") == 0) {
            size_t j = i + 1;
            while (j < nl && strcmp(lines[j], "```") != 0) {
                j++;
            }
            if (have_http) {
                llhttp_case(file, title, meta, &raw, &lines[i + 1], j - i - 1, st);
            }
            have_http = 0;
            i = j;
        }
    }
    bb_free(&raw);
    free(lines);
    free(text);
}

static void test_llhttp_corpus(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/llhttp", testdata_dir());
    DIR *d = opendir(dir);
    if (d == NULL) {
        skip("corpus not found (set PN_TESTDATA)", "llhttp corpus at %s", dir);
        return;
    }
    char *names[64];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 64) {
        size_t l = strlen(de->d_name);
        if (l > 3 && strcmp(de->d_name + l - 3, ".md") == 0) {
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(d);
    for (int i = 1; i < n; i++) {
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    }
    corpus_stats_t st = {0};
    for (int i = 0; i < n; i++) {
        llhttp_file(dir, names[i], &st);
        free(names[i]);
    }
    ok(st.cases >= 150, "llhttp corpus: %d cases replayed", st.cases);
    diag("llhttp: %d cases, %d skipped, %d Host insertions", st.cases, st.skipped, st.injected);
}

/* ---- corpus: gunicorn ---------------------------------------------------- */

static const struct {
    const char *name, *reason;
} gunicorn_skips[] = {
    {"valid/009",
     "Transfer-Encoding: identity is not a supported coding (501); also with CL (400)"},
    {"valid/025", "codings other than chunked are not decoded: gzip is 501"},
    {"valid/025_line", "codings other than chunked are not decoded: gzip is 501"},
    {"valid/027", "non-ASCII bytes in the request-target are rejected (400)"},
    {"valid/028", "whitespace before the colon is rejected (strip_header_spaces)"},
    {"valid/029", "codings other than chunked are not decoded: identity is 501"},
    {"valid/030", "codings other than chunked are not decoded: identity is 501"},
    {"valid/031compat",
     "methods are case-sensitive tokens, never case-folded (casefold_http_method)"},
    {"valid/040", "fields with underscores are kept, not dropped (header_map dangerous)"},
    {"invalid/003c", "any token is a method (RFC 9110 9.1), including \"-bl\""},
    {"invalid/007", "no per-field size limit; an 8 KiB field fits the 64 KiB max_head"},
    {"invalid/008", "no per-field size limit; a 12 KiB field fits the 64 KiB max_head"},
    {"valid/compat_obs_fold", "obs-fold is rejected (permit_obsolete_folding)"},
    {"valid/compat_obs_fold_huge", "obs-fold is rejected (permit_obsolete_folding)"},
    {"valid/pp_01", "PROXY protocol lines are not HTTP (proxy_protocol)"},
    {"valid/pp_02", "PROXY protocol lines are not HTTP (proxy_protocol)"},
    {"valid/pp_04", "PROXY protocol v2 is not HTTP (proxy_protocol)"},
    {"valid/pp_05", "PROXY protocol v2 is not HTTP (proxy_protocol)"},
    {"valid/rfc9112_smuggle_gzip_chunked_01", "codings other than chunked are not decoded: 501"},
    {"valid/rfc9112_smuggle_te_identity_chunked_01", "identity is not a supported coding: 501"},
    {"invalid/010", "no per-field size limit (limit_request_field_size); max_head bounds the head"},
    {"invalid/012", "no per-field size limit (limit_request_field_size); max_head bounds the head"},
    {"invalid/limit_header_default_01", "no per-field size limit; the 8 KiB field fits max_head"},
    {"invalid/017", "no per-field size limit; an 8 KiB field fits the 64 KiB max_head"},
    {"invalid/019", "X-Forwarded-* trust is the proxy-header layer's job, not the parser's"},
    {"invalid/040", "underscores are token characters (header_map refuse is a WSGI concern)"},
    {"invalid/chunked_07",
     "underscores are token characters (header_map refuse is a WSGI concern)"},
    {"invalid/041", "repeated Content-Type is the application's business, not framing"},
};

typedef struct {
    const char *name;
    int status;
    const char *reason;
} status_override_t;

/*
 * gunicorn invalid cases whose status differs from the class mapping, because
 * a different (earlier) rule of ours rejects them first.
 */
static const status_override_t gunicorn_status_overrides[] = {
    {"invalid/013", 400, "obs-fold is rejected before any size limit"},
    {"invalid/chunked_03", 501, "identity, the first coding, is unsupported"},
    {"invalid/chunked_04", 501, "identity, the first coding, is unsupported"},
    {"invalid/version_02", 505, "HTTP/2.0 is well-formed but unsupported"},
};

typedef struct {
    bbuf_t method, uri, body;
    bbuf_t hname[128], hvalue[128];
    size_t nh;
    int major, minor;
} gmsg_t;

typedef struct {
    char name[128];
    char error[64];
    char cfg[8][96];
    int ncfg;
    gmsg_t msg[MAX_MSGS];
    int nmsg;
} gcase_t;

static void gcase_free(gcase_t *g)
{
    for (int i = 0; i < MAX_MSGS; i++) {
        gmsg_t *m = &g->msg[i];
        bb_free(&m->method);
        bb_free(&m->uri);
        bb_free(&m->body);
        for (size_t h = 0; h < 128; h++) {
            bb_free(&m->hname[h]);
            bb_free(&m->hvalue[h]);
        }
    }
    memset(g, 0, sizeof *g);
}

static void unhex(const char *s, bbuf_t *out)
{
    for (; s[0] && s[1] && s[0] != ' '; s += 2) {
        char b = (char)((s[0] <= '9' ? s[0] - '0' : s[0] - 'a' + 10) << 4 |
                        (s[1] <= '9' ? s[1] - '0' : s[1] - 'a' + 10));
        bb_put(out, &b, 1);
    }
}

/* gunicorn's .http: newlines dropped, then \r\n \n \t \0 \xNN escapes decoded. */
static void gunicorn_decode(const char *raw, size_t n, bbuf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        char c = raw[i];
        if (c == '\n') {
            continue;
        }
        if (c == '\\' && i + 3 < n && raw[i + 1] == 'r' && raw[i + 2] == '\\' &&
            raw[i + 3] == 'n') {
            bb_put(out, "\r\n", 2);
            i += 3;
        } else if (c == '\\' && i + 1 < n &&
                   (raw[i + 1] == 'n' || raw[i + 1] == 't' || raw[i + 1] == '0')) {
            bb_put(out, raw[i + 1] == 'n' ? "\n" : raw[i + 1] == 't' ? "\t" : "", 1);
            i++;
        } else if (c == '\\' && i + 3 < n && raw[i + 1] == 'x' &&
                   strchr("0123456789abcdefABCDEF", raw[i + 2]) && raw[i + 2] &&
                   strchr("0123456789abcdefABCDEF", raw[i + 3]) && raw[i + 3]) {
            char hex[3] = {(char)(raw[i + 2] | 0x20), (char)(raw[i + 3] | 0x20), 0};
            bbuf_t b = {0};
            unhex(hex, &b);
            bb_put(out, b.p, 1);
            bb_free(&b);
            i += 3;
        } else {
            bb_put(out, &c, 1);
        }
    }
}

static long cfg_value(const gcase_t *g, const char *key)
{
    size_t kl = strlen(key);
    for (int i = 0; i < g->ncfg; i++) {
        if (strncmp(g->cfg[i], key, kl) == 0 && g->cfg[i][kl] == ' ') {
            return atol(g->cfg[i] + kl + 1);
        }
    }
    return -1;
}

static int expected_status(const char *error)
{
    if (strcmp(error, "LimitRequestLine") == 0) {
        return 414;
    }
    if (strcmp(error, "LimitRequestHeaders") == 0) {
        return 431;
    }
    if (strcmp(error, "NoMoreData") == 0 || strcmp(error, "ChunkMissingTerminator") == 0) {
        return -2; /* the input just ends: incomplete at EOF */
    }
    return 400;
}

/*
 * Cases whose Content-Length is larger than the bytes in the corpus file
 * (gunicorn's test reads the body to EOF): we must wait for more, so the
 * replay ends incomplete and the body read so far is compared.
 */
static const char *const gunicorn_truncated[] = {"valid/099"};

static int gunicorn_compare(const gcase_t *g, const outcome_t *o, unsigned injected)
{
    int truncated = 0;
    for (size_t i = 0; i < sizeof gunicorn_truncated / sizeof *gunicorn_truncated; i++) {
        truncated |= strcmp(gunicorn_truncated[i], g->name) == 0;
    }
    if (o->end != END_CLEAN && o->end != END_CLOSE_DATA && o->end != END_UPGRADE &&
        !(truncated && o->end == END_INCOMPLETE)) {
        diag("  expected acceptance, got %s", end_names[o->end]);
        return 0;
    }
    if (o->nmsg != g->nmsg) {
        diag("  expected %d request(s), got %d", g->nmsg, o->nmsg);
        return 0;
    }
    for (int i = 0; i < g->nmsg; i++) {
        const gmsg_t *w = &g->msg[i];
        const tmsg_t *m = &o->msg[i];
        size_t first, nh = visible_headers(m, (injected >> i) & 1, &first);
        if (!bb_eq(&w->method, &m->method) || !bb_eq(&w->uri, &m->target) || w->major != 1 ||
            w->minor != m->minor || !bb_eq(&w->body, &m->body) || nh != w->nh) {
            diag("  request %d differs: %s %s body %zu/%zu bytes headers %zu/%zu", i,
                 show(m->method.p, m->method.n), show(m->target.p, m->target.n), m->body.n,
                 w->body.n, nh, w->nh);
            return 0;
        }
        for (size_t h = 0; h < nh; h++) {
            const bbuf_t *gn = &m->hname[first + h];
            int same = gn->n == w->hname[h].n && bb_eq(&w->hvalue[h], &m->hvalue[first + h]);
            for (size_t k = 0; same && k < gn->n; k++) {
                char a = gn->p[k];
                same = (a >= 'a' && a <= 'z' ? a - 32 : a) == w->hname[h].p[k];
            }
            if (!same) {
                diag("  request %d header %zu differs: %s: %s", i, h, show(gn->p, gn->n),
                     show(m->hvalue[first + h].p, m->hvalue[first + h].n));
                return 0;
            }
        }
    }
    return 1;
}

static void gunicorn_case(gcase_t *g, corpus_stats_t *st)
{
    char path[600], name[200];
    snprintf(path, sizeof path, "%s/gunicorn/%s.http", testdata_dir(), g->name);
    snprintf(name, sizeof name, "gunicorn/%s", g->name);
    size_t len;
    char *raw = read_file(path, &len);
    if (raw == NULL) {
        ok(0, "%s: read %s", name, path);
        return;
    }
    bbuf_t in = {0};
    gunicorn_decode(raw, len, &in);
    free(raw);
    if (in.p == NULL) {
        in.p = calloc(1, 1);
    }
    /* gunicorn's limits, where they map onto ours */
    pn_http1_limits_t lim = default_limits;
    lim.max_request_line = 4094;
    lim.max_headers = 100;
    long v = cfg_value(g, "limit_request_line");
    if (v >= 0) {
        lim.max_request_line = v == 0 ? PN_HTTP1_DEFAULT_MAX_REQUEST_LINE : (size_t)v;
    }
    v = cfg_value(g, "limit_request_fields");
    if (v >= 0) {
        lim.max_headers = (size_t)v;
    }
    outcome_t *o = outcome_new();
    unsigned injected;
    st->cases++;
    corpus_replay(name, &in, &lim, o, &injected, &st->injected);
    const char *why = NULL;
    for (size_t i = 0; i < sizeof gunicorn_skips / sizeof *gunicorn_skips; i++) {
        if (strcmp(gunicorn_skips[i].name, g->name) == 0) {
            why = gunicorn_skips[i].reason;
        }
    }
    if (why != NULL) {
        st->skipped++;
        skip(why, "%s: matches gunicorn", name);
    } else if (g->error[0] == '\0') {
        if (!ok(gunicorn_compare(g, o, injected), "%s: matches gunicorn", name)) {
            describe("got", o);
        }
    } else {
        int want = expected_status(g->error);
        for (size_t i = 0; i < sizeof gunicorn_status_overrides / sizeof *gunicorn_status_overrides;
             i++) {
            if (strcmp(gunicorn_status_overrides[i].name, g->name) == 0) {
                want = gunicorn_status_overrides[i].status;
            }
        }
        int got = o->end == END_ERROR ? o->status : o->end == END_INCOMPLETE ? -2 : 0;
        if (!ok(got == want, "%s: rejected like gunicorn's %s", name, g->error)) {
            describe("got", o);
            diag("  want status %d", want);
        }
    }
    outcome_delete(o);
    bb_free(&in);
}

static void test_gunicorn_corpus(void)
{
    const char *path = getenv("PN_GUNICORN_EXPECT");
    path = path ? path : "tests/c/data/gunicorn_expect.txt";
    char dir[512];
    snprintf(dir, sizeof dir, "%s/gunicorn", testdata_dir());
    DIR *d = opendir(dir);
    if (d == NULL) {
        skip("corpus not found (set PN_TESTDATA)", "gunicorn corpus at %s", dir);
        return;
    }
    closedir(d);
    size_t len;
    char *text = read_file(path, &len);
    if (!ok(text != NULL, "read %s", path)) {
        return;
    }
    gcase_t *g = calloc(1, sizeof *g);
    corpus_stats_t st = {0};
    gmsg_t *m = NULL;
    for (char *l = text, *e; l < text + len; l = e + 1) {
        e = memchr(l, '\n', (size_t)(text + len - l));
        e = e ? e : text + len;
        *e = '\0';
        if (strncmp(l, "case ", 5) == 0) {
            snprintf(g->name, sizeof g->name, "%s", l + 5);
        } else if (strncmp(l, "cfg ", 4) == 0 && g->ncfg < 8) {
            snprintf(g->cfg[g->ncfg++], sizeof g->cfg[0], "%s", l + 4);
        } else if (strncmp(l, "error ", 6) == 0) {
            snprintf(g->error, sizeof g->error, "%s", l + 6);
        } else if (strcmp(l, "msg") == 0 && g->nmsg < MAX_MSGS) {
            m = &g->msg[g->nmsg++];
        } else if (m && strncmp(l, "method ", 7) == 0) {
            unhex(l + 7, &m->method);
        } else if (m && strncmp(l, "uri ", 4) == 0) {
            unhex(l + 4, &m->uri);
        } else if (m && strncmp(l, "version ", 8) == 0) {
            sscanf(l + 8, "%d %d", &m->major, &m->minor);
        } else if (m && strncmp(l, "header ", 7) == 0 && m->nh < 128) {
            unhex(l + 7, &m->hname[m->nh]);
            const char *sp = strchr(l + 7, ' ');
            unhex(sp ? sp + 1 : "", &m->hvalue[m->nh++]);
        } else if (m && strncmp(l, "body ", 5) == 0) {
            unhex(l + 5, &m->body);
        } else if (strcmp(l, "endcase") == 0) {
            gunicorn_case(g, &st);
            gcase_free(g);
            m = NULL;
        }
    }
    free(g);
    free(text);
    /* the expectation file must cover the corpus (regenerate it with gen_gunicorn.py) */
    int files = 0;
    const char *kinds[] = {"valid", "invalid"};
    for (int k = 0; k < 2; k++) {
        char sub[600];
        snprintf(sub, sizeof sub, "%s/%s", dir, kinds[k]);
        DIR *dd = opendir(sub);
        struct dirent *de;
        while (dd && (de = readdir(dd)) != NULL) {
            size_t l = strlen(de->d_name);
            files += l > 5 && strcmp(de->d_name + l - 5, ".http") == 0;
        }
        if (dd) {
            closedir(dd);
        }
    }
    is_int(st.cases, files, "gunicorn corpus: every .http case has an expectation");
    diag("gunicorn: %d cases, %d skipped, %d Host insertions", st.cases, st.skipped, st.injected);
}

int main(void)
{
    arena_init();
    test_llhttp_corpus();
    test_gunicorn_corpus();
    return tap_done();
}
