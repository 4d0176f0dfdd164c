/* pmi.c - PMI-1 wire protocol client.
 *
 * Lines are "cmd=NAME key=value ...\n".  The launcher gives us either an
 * inherited socket (PMI_FD, hydra and lamellar-run) or a TCP address
 * (PMI_PORT=host:port + PMI_ID).  Every read is a poll() bounded by
 * ROFI_TIMEOUT so a dead or confused launcher becomes ROFI_EPMI /
 * ROFI_ETIMEDOUT, never a hang. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rofi_internal.h"

struct kv {               /* singleton key-value store */
    char *key, *value;
    struct kv *next;
};

static struct {
    int up, singleton, finalized, atexit_set;
    int fd, rank, size;
    int keylen_max, vallen_max;
    char kvsname[256];
    char buf[8192];       /* received bytes not yet consumed as lines */
    size_t buflen;
    struct kv *local;
} pmi = { .fd = -1 };

/* ---- line I/O ---------------------------------------------------------- */

static int pmi_send(const char *line)
{
    size_t len = strlen(line), done = 0;
    while (done < len) {
        /* MSG_NOSIGNAL: a launcher that went away must give an error, not
         * SIGPIPE.  write() covers a PMI_FD that is a pipe, not a socket. */
        ssize_t n = send(pmi.fd, line + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(pmi.fd, line + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return rofi_error(ROFI_EPMI, "PMI: write to launcher failed: %s",
                              strerror(errno));
        done += (size_t)n;
    }
    return 0;
}

/* Read one '\n'-terminated line (without the newline) into out. */
static int pmi_recv_line(char *out, size_t cap)
{
    double deadline = rofi_now() + rofi_timeout_s();
    for (;;) {
        char *nl = memchr(pmi.buf, '\n', pmi.buflen);
        if (nl) {
            size_t n = (size_t)(nl - pmi.buf);
            if (n >= cap)
                return rofi_error(ROFI_EPMI, "PMI: reply line too long");
            memcpy(out, pmi.buf, n);
            out[n] = '\0';
            pmi.buflen -= n + 1;
            memmove(pmi.buf, nl + 1, pmi.buflen);
            return 0;
        }
        if (pmi.buflen == sizeof pmi.buf)
            return rofi_error(ROFI_EPMI, "PMI: reply without newline");
        double left = deadline - rofi_now();
        if (left <= 0)
            return rofi_error(ROFI_ETIMEDOUT,
                              "PMI: no reply from launcher within %.0f s",
                              rofi_timeout_s());
        struct pollfd p = { .fd = pmi.fd, .events = POLLIN };
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return rofi_error(ROFI_EPMI, "PMI: poll failed: %s", strerror(errno));
        if (r == 0)
            continue; /* deadline check above */
        ssize_t n = read(pmi.fd, pmi.buf + pmi.buflen, sizeof pmi.buf - pmi.buflen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return rofi_error(ROFI_EPMI, "PMI: launcher closed the connection");
        pmi.buflen += (size_t)n;
    }
}

/* Value of field `key` in a reply line ("k=v" tokens separated by spaces). */
static int pmi_field(const char *line, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    const char *p = line;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *end = p + strcspn(p, " ");
        if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t n = (size_t)(end - p) - klen - 1;
            if (n >= cap)
                return -1;
            memcpy(out, p + klen + 1, n);
            out[n] = '\0';
            return 0;
        }
        p = end;
    }
    return -1;
}

/* Send `request` (may be NULL) and read the reply, which must be cmd=`want`
 * with rc=0 when an rc is present.  Stray "cmd=set" lines are skipped. */
static int pmi_call(const char *request, const char *want, char *reply, size_t cap)
{
    char cmd[64], rc[32], msg[256];
    if (request && pmi_send(request))
        return ROFI_EPMI;
    for (;;) {
        int err = pmi_recv_line(reply, cap);
        if (err)
            return err;
        if (pmi_field(reply, "cmd", cmd, sizeof cmd))
            return rofi_error(ROFI_EPMI, "PMI: malformed reply '%s'", reply);
        if (strcmp(cmd, "set") == 0 && strcmp(want, "set") != 0)
            continue;
        break;
    }
    if (strcmp(cmd, want) != 0)
        return rofi_error(ROFI_EPMI, "PMI: expected cmd=%s, got '%s'", want, reply);
    if (pmi_field(reply, "rc", rc, sizeof rc) == 0 && atoi(rc) != 0) {
        if (pmi_field(reply, "msg", msg, sizeof msg))
            strcpy(msg, "(no message)");
        return rofi_error(ROFI_EPMI, "PMI: %s failed: rc=%s %s", want, rc, msg);
    }
    return 0;
}

static int env_int(const char *name, int *out)
{
    const char *s = getenv(name);
    char *end;
    if (!s)
        return -1;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0 || v > 1 << 24)
        return -1;
    *out = (int)v;
    return 0;
}

/* PMI_PORT=host:port: connect, then the "initack" handshake with PMI_ID,
 * after which the server sends cmd=set size=.. / rank=.. / debug=.. */
static int pmi_connect_port(const char *port)
{
    char host[256], reply[512], val[32], req[128];
    const char *colon = strrchr(port, ':');
    if (!colon || (size_t)(colon - port) >= sizeof host)
        return rofi_error(ROFI_EPMI, "PMI: bad PMI_PORT '%s' (want host:port)", port);
    memcpy(host, port, (size_t)(colon - port));
    host[colon - port] = '\0';

    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc)
        return rofi_error(ROFI_EPMI, "PMI: cannot resolve '%s': %s", port, gai_strerror(rc));
    for (ai = res; ai; ai = ai->ai_next) {
        pmi.fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (pmi.fd >= 0 && connect(pmi.fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (pmi.fd >= 0)
            close(pmi.fd);
        pmi.fd = -1;
    }
    freeaddrinfo(res);
    if (pmi.fd < 0)
        return rofi_error(ROFI_EPMI, "PMI: cannot connect to PMI_PORT '%s'", port);

    const char *id = getenv("PMI_ID");
    if (!id)
        return 0; /* rank/size must then come from PMI_RANK / PMI_SIZE */
    snprintf(req, sizeof req, "cmd=initack pmiid=%s\n", id);
    if ((rc = pmi_call(req, "initack", reply, sizeof reply)))
        return rc;
    int got = 0;
    while (got != 3) {
        if ((rc = pmi_call(NULL, "set", reply, sizeof reply)))
            return rc;
        if (pmi_field(reply, "size", val, sizeof val) == 0)
            pmi.size = atoi(val), got |= 1;
        if (pmi_field(reply, "rank", val, sizeof val) == 0)
            pmi.rank = atoi(val), got |= 2;
    }
    return 0;
}

static void pmi_atexit(void)
{
    /* hydra treats an exit without cmd=finalize as a failure and kills the
     * slower PEs: always say goodbye. */
    rofi_pmi_finalize();
}

int rofi_pmi_init(int *rank, int *size)
{
    char reply[512], val[256];
    int rc;

    if (pmi.up)
        goto done;
    if (pmi.finalized)
        return rofi_error(ROFI_EPMI, "PMI: already finalized (one init per process)");
    pmi.rank = 0;
    pmi.size = -1;

    const char *fd = getenv("PMI_FD"), *port = getenv("PMI_PORT");
    if (!fd && !port) {
        pmi.singleton = 1;
        pmi.size = 1;
        pmi.up = 1;
        goto done;
    }
    if (fd) {
        if (env_int("PMI_FD", &pmi.fd))
            return rofi_error(ROFI_EPMI, "PMI: bad PMI_FD '%s'", fd);
    } else if ((rc = pmi_connect_port(port))) {
        if (pmi.fd >= 0)
            close(pmi.fd);
        pmi.fd = -1;
        return rc;
    }
    if (pmi.size < 0 && (env_int("PMI_RANK", &pmi.rank) || env_int("PMI_SIZE", &pmi.size)))
        return rofi_error(ROFI_EPMI, "PMI: PMI_RANK/PMI_SIZE missing or invalid");
    if (pmi.size < 1 || pmi.rank >= pmi.size)
        return rofi_error(ROFI_EPMI, "PMI: rank %d / size %d invalid", pmi.rank, pmi.size);

    if ((rc = pmi_call("cmd=init pmi_version=1 pmi_subversion=1\n", "response_to_init",
                       reply, sizeof reply)))
        return rc;
    if ((rc = pmi_call("cmd=get_maxes\n", "maxes", reply, sizeof reply)))
        return rc;
    if (pmi_field(reply, "keylen_max", val, sizeof val) ||
        (pmi.keylen_max = atoi(val)) < 16 ||
        pmi_field(reply, "vallen_max", val, sizeof val) ||
        (pmi.vallen_max = atoi(val)) < 32)
        return rofi_error(ROFI_EPMI, "PMI: malformed maxes reply '%s'", reply);
    if ((rc = pmi_call("cmd=get_my_kvsname\n", "my_kvsname", reply, sizeof reply)))
        return rc;
    if (pmi_field(reply, "kvsname", pmi.kvsname, sizeof pmi.kvsname))
        return rofi_error(ROFI_EPMI, "PMI: malformed my_kvsname reply '%s'", reply);
    pmi.up = 1;
    if (!pmi.atexit_set)
        pmi.atexit_set = (atexit(pmi_atexit) == 0);
done:
    *rank = pmi.rank;
    *size = pmi.size;
    return 0;
}

int rofi_pmi_put(const char *key, const char *value)
{
    char req[2048], reply[512];
    if (!pmi.up)
        return rofi_error(ROFI_EPMI, "PMI: not initialized");
    if (pmi.singleton) {
        struct kv *kv = calloc(1, sizeof *kv);
        if (!kv || !(kv->key = strdup(key)) || !(kv->value = strdup(value))) {
            if (kv)
                free(kv->key);
            free(kv);
            return rofi_error(ROFI_ENOMEM, "PMI: out of memory");
        }
        kv->next = pmi.local;
        pmi.local = kv;
        return 0;
    }
    if ((int)strlen(key) >= pmi.keylen_max || (int)strlen(value) >= pmi.vallen_max)
        return rofi_error(ROFI_EPMI, "PMI: key/value too long for launcher");
    if (snprintf(req, sizeof req, "cmd=put kvsname=%s key=%s value=%s\n", pmi.kvsname,
                 key, value) >= (int)sizeof req)
        return rofi_error(ROFI_EPMI, "PMI: put request too long");
    return pmi_call(req, "put_result", reply, sizeof reply);
}

int rofi_pmi_get(const char *key, char *value, size_t cap)
{
    char req[512], reply[2048];
    int rc;
    if (!pmi.up)
        return rofi_error(ROFI_EPMI, "PMI: not initialized");
    if (pmi.singleton) {
        for (struct kv *kv = pmi.local; kv; kv = kv->next)
            if (strcmp(kv->key, key) == 0 && strlen(kv->value) < cap) {
                strcpy(value, kv->value);
                return 0;
            }
        return rofi_error(ROFI_EPMI, "PMI: key '%s' not found", key);
    }
    snprintf(req, sizeof req, "cmd=get kvsname=%s key=%s\n", pmi.kvsname, key);
    if ((rc = pmi_call(req, "get_result", reply, sizeof reply)))
        return rc;
    if (pmi_field(reply, "value", value, cap))
        return rofi_error(ROFI_EPMI, "PMI: get '%s': malformed reply '%s'", key, reply);
    return 0;
}

int rofi_pmi_barrier(void)
{
    char reply[256];
    if (!pmi.up)
        return rofi_error(ROFI_EPMI, "PMI: not initialized");
    if (pmi.singleton)
        return 0;
    return pmi_call("cmd=barrier_in\n", "barrier_out", reply, sizeof reply);
}

int rofi_pmi_finalize(void)
{
    char reply[256];
    int rc = 0;
    if (!pmi.up)
        return 0;
    pmi.up = 0;
    pmi.finalized = 1;
    if (!pmi.singleton) {
        rc = pmi_call("cmd=finalize\n", "finalize_ack", reply, sizeof reply);
        close(pmi.fd);
        pmi.fd = -1;
    }
    while (pmi.local) {
        struct kv *kv = pmi.local;
        pmi.local = kv->next;
        free(kv->key);
        free(kv->value);
        free(kv);
    }
    return rc;
}

/* ---- binary values ---------------------------------------------------- */

/* Hex characters per chunk: even, and leaves room for the terminator. */
static size_t chunk_chars(void)
{
    size_t n = pmi.singleton ? 1024 : (size_t)pmi.vallen_max - 1;
    if (n > 1024)
        n = 1024;
    return n & ~(size_t)1;
}

int rofi_pmi_put_bytes(const char *key, const void *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    char k[256], v[1100];
    size_t per = chunk_chars() / 2;
    int rc;

    snprintf(v, sizeof v, "%zu", len);
    if ((rc = rofi_pmi_put(key, v)))
        return rc;
    for (size_t off = 0, i = 0; off < len; off += per, i++) {
        size_t n = len - off < per ? len - off : per;
        for (size_t j = 0; j < n; j++) {
            v[2 * j] = hex[p[off + j] >> 4];
            v[2 * j + 1] = hex[p[off + j] & 15];
        }
        v[2 * n] = '\0';
        snprintf(k, sizeof k, "%s.%zu", key, i);
        if ((rc = rofi_pmi_put(k, v)))
            return rc;
    }
    return 0;
}

static int unhex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int rofi_pmi_get_bytes(const char *key, void *data, size_t cap, size_t *len)
{
    unsigned char *p = data;
    char k[256], v[1100], *end;
    size_t per = chunk_chars() / 2;
    int rc;

    if ((rc = rofi_pmi_get(key, v, sizeof v)))
        return rc;
    unsigned long long total = strtoull(v, &end, 10);
    if (end == v || *end || total > cap)
        return rofi_error(ROFI_EPMI, "PMI: value '%s' of '%s' bad or too large", v, key);
    for (size_t off = 0, i = 0; off < total; off += per, i++) {
        size_t n = total - off < per ? total - off : per;
        snprintf(k, sizeof k, "%s.%zu", key, i);
        if ((rc = rofi_pmi_get(k, v, sizeof v)))
            return rc;
        if (strlen(v) != 2 * n)
            return rofi_error(ROFI_EPMI, "PMI: chunk '%s' has wrong length", k);
        for (size_t j = 0; j < n; j++) {
            int hi = unhex(v[2 * j]), lo = unhex(v[2 * j + 1]);
            if (hi < 0 || lo < 0)
                return rofi_error(ROFI_EPMI, "PMI: chunk '%s' is not hex", k);
            p[off + j] = (unsigned char)(hi << 4 | lo);
        }
    }
    *len = (size_t)total;
    return 0;
}
