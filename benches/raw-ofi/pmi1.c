/*
 * pmi1.c - PMI-1 over PMI_FD (see pmi1.h).
 *
 * The wire protocol is one line per message, "cmd=NAME key=value ...\n",
 * each request answered by one reply line (barrier_in by barrier_out once
 * every PE has sent it).  Values may not hold spaces or '=', so data goes
 * out hex-encoded, split into pieces that fit the launcher's vallen_max:
 * KEY holds the byte count, KEY.0, KEY.1, ... the pieces.
 */
#include "pmi1.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PMI_LINE_MAX 4096

static struct {
    int fd;
    double timeout_s;
    size_t vallen_max;
    char kvsname[256];
    char pending[PMI_LINE_MAX]; /* bytes read past the last full line */
    size_t npending;
    char error[512];
} pmi = { .fd = -1 };

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pmi.error, sizeof pmi.error, fmt, ap);
    va_end(ap);
    return -1;
}

const char *pmi1_error(void)
{
    return pmi.error;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int write_all(const char *text, size_t len)
{
    while (len > 0) {
        /* MSG_NOSIGNAL: a launcher that has gone must be an error, not a
         * SIGPIPE; a PMI_FD that is a pipe rather than a socket takes write(). */
        ssize_t n = send(pmi.fd, text, len, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(pmi.fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail("PMI: cannot write to the launcher: %s", strerror(errno));
        text += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The next line from the launcher, without its newline. */
static int read_line(char *line, size_t cap)
{
    double deadline = seconds() + pmi.timeout_s;
    for (;;) {
        char *end = memchr(pmi.pending, '\n', pmi.npending);
        if (end) {
            size_t n = (size_t)(end - pmi.pending);
            if (n >= cap)
                return fail("PMI: reply of %zu bytes, more than expected", n);
            memcpy(line, pmi.pending, n);
            line[n] = '\0';
            pmi.npending -= n + 1;
            memmove(pmi.pending, end + 1, pmi.npending);
            return 0;
        }
        if (pmi.npending == sizeof pmi.pending)
            return fail("PMI: reply line longer than %zu bytes", sizeof pmi.pending);
        int wait_ms = (int)((deadline - seconds()) * 1e3);
        if (wait_ms <= 0)
            return fail("PMI: no reply from the launcher within %.0f s (is a PE missing?)",
                        pmi.timeout_s);
        struct pollfd p = { .fd = pmi.fd, .events = POLLIN };
        int ready = poll(&p, 1, wait_ms);
        if (ready < 0 && errno != EINTR)
            return fail("PMI: poll: %s", strerror(errno));
        if (ready <= 0)
            continue;
        ssize_t n = read(pmi.fd, pmi.pending + pmi.npending,
                         sizeof pmi.pending - pmi.npending);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail("PMI: cannot read from the launcher: %s", strerror(errno));
        if (n == 0)
            return fail("PMI: the launcher closed the connection");
        pmi.npending += (size_t)n;
    }
}

/* The value of `key` among the space-separated key=value words of `line`,
 * copied into out; -1 if absent or longer than cap - 1. */
static int field(const char *line, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    for (const char *w = line; *w; ) {
        size_t wlen = strcspn(w, " ");
        if (wlen > klen && w[klen] == '=' && !strncmp(w, key, klen)) {
            size_t vlen = wlen - klen - 1;
            if (vlen >= cap)
                return -1;
            memcpy(out, w + klen + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
        w += wlen;
        w += strspn(w, " ");
    }
    return -1;
}

/* Sends one request line (printf-style, newline added) and reads its reply
 * into `reply`, which must be cmd=`want` and, if it carries rc, rc=0. */
static int call(char *reply, size_t cap, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int call(char *reply, size_t cap, const char *want, const char *fmt, ...)
{
    char request[PMI_LINE_MAX], cmd[64], rc[16], msg[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(request, sizeof request - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof request - 1)
        return fail("PMI: request too long");
    request[n++] = '\n';
    if (write_all(request, (size_t)n) || read_line(reply, cap))
        return -1;
    if (field(reply, "cmd", cmd, sizeof cmd) || strcmp(cmd, want))
        return fail("PMI: wanted cmd=%s, the launcher said '%s'", want, reply);
    if (!field(reply, "rc", rc, sizeof rc) && strcmp(rc, "0")) {
        if (field(reply, "msg", msg, sizeof msg))
            snprintf(msg, sizeof msg, "(no msg)");
        return fail("PMI: %s failed: rc=%s %s", want, rc, msg);
    }
    return 0;
}

static int env_number(const char *name, int *out)
{
    const char *s = getenv(name);
    char *end;
    if (!s || !*s)
        return fail("PMI: %s is not set (run under lamellar-run -n 2 or mpiexec -n 2)", name);
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < 0 || v > 1 << 24)
        return fail("PMI: %s='%s' is not a number", name, s);
    *out = (int)v;
    return 0;
}

int pmi1_init(int *rank, int *size, double timeout_s)
{
    char reply[512], value[256];
    pmi.timeout_s = timeout_s;
    if (!getenv("PMI_FD") && getenv("PMI_PORT"))
        return fail("PMI: the launcher gave PMI_PORT; this client speaks over PMI_FD only "
                    "(lamellar-run, mpiexec.hydra)");
    if (env_number("PMI_FD", &pmi.fd) || env_number("PMI_RANK", rank) ||
        env_number("PMI_SIZE", size))
        return -1;
    if (*rank >= *size)
        return fail("PMI: PMI_RANK=%d is not below PMI_SIZE=%d", *rank, *size);
    if (call(reply, sizeof reply, "response_to_init", "cmd=init pmi_version=1 pmi_subversion=1"))
        return -1;
    if (call(reply, sizeof reply, "maxes", "cmd=get_maxes"))
        return -1;
    /* Room for at least one hex-encoded byte per piece. */
    if (field(reply, "vallen_max", value, sizeof value) || atoi(value) < 3)
        return fail("PMI: no usable vallen_max in '%s'", reply);
    pmi.vallen_max = (size_t)atoi(value);
    if (call(reply, sizeof reply, "my_kvsname", "cmd=get_my_kvsname"))
        return -1;
    if (field(reply, "kvsname", pmi.kvsname, sizeof pmi.kvsname))
        return fail("PMI: no kvsname in '%s'", reply);
    return 0;
}

/* Bytes per piece: two hex digits each, below vallen_max (which some
 * launchers count with a terminating NUL). */
static size_t piece_bytes(void)
{
    size_t n = (pmi.vallen_max - 1) / 2;
    return n < 256 ? n : 256;
}

static int put_text(const char *key, const char *value)
{
    char reply[256];
    return call(reply, sizeof reply, "put_result", "cmd=put kvsname=%s key=%s value=%s",
                pmi.kvsname, key, value);
}

static int get_text(const char *key, char *value, size_t cap)
{
    char reply[PMI_LINE_MAX];
    if (call(reply, sizeof reply, "get_result", "cmd=get kvsname=%s key=%s", pmi.kvsname, key))
        return -1;
    if (field(reply, "value", value, cap))
        return fail("PMI: get %s: no value that fits in '%s'", key, reply);
    return 0;
}

int pmi1_put(const char *key, const void *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *bytes = data;
    char name[128], text[520];
    size_t per = piece_bytes();
    snprintf(text, sizeof text, "%zu", len);
    if (put_text(key, text))
        return -1;
    for (size_t off = 0; off < len; off += per) {
        size_t n = len - off < per ? len - off : per;
        for (size_t i = 0; i < n; i++) {
            text[2 * i] = digits[bytes[off + i] >> 4];
            text[2 * i + 1] = digits[bytes[off + i] & 0xf];
        }
        text[2 * n] = '\0';
        snprintf(name, sizeof name, "%s.%zu", key, off / per);
        if (put_text(name, text))
            return -1;
    }
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int pmi1_get(const char *key, void *data, size_t cap, size_t *len)
{
    unsigned char *bytes = data;
    char name[128], text[520], *end;
    size_t per = piece_bytes();
    if (get_text(key, text, sizeof text))
        return -1;
    unsigned long long total = strtoull(text, &end, 10);
    if (end == text || *end || total > cap)
        return fail("PMI: %s holds '%s', not a size up to %zu", key, text, cap);
    for (size_t off = 0; off < total; off += per) {
        size_t n = total - off < per ? total - off : per;
        snprintf(name, sizeof name, "%s.%zu", key, off / per);
        if (get_text(name, text, sizeof text))
            return -1;
        if (strlen(text) != 2 * n)
            return fail("PMI: %s holds %zu hex digits, want %zu", name, strlen(text), 2 * n);
        for (size_t i = 0; i < n; i++) {
            int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return fail("PMI: %s is not hex", name);
            bytes[off + i] = (unsigned char)(hi << 4 | lo);
        }
    }
    *len = (size_t)total;
    return 0;
}

int pmi1_barrier(void)
{
    char reply[256];
    return call(reply, sizeof reply, "barrier_out", "cmd=barrier_in");
}

int pmi1_finalize(void)
{
    char reply[256];
    if (pmi.fd < 0)
        return 0;
    int rc = call(reply, sizeof reply, "finalize_ack", "cmd=finalize");
    close(pmi.fd);
    pmi.fd = -1;
    return rc;
}
