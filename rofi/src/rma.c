/* rma.c - put and get, blocking and non-blocking.
 *
 * Completion level: puts are issued with FI_DELIVERY_COMPLETE, so their CQ
 * entry means the data is in the target's memory.  That makes rofi_quiet()
 * "every counted op has its CQ entry" and lets a target poll a flag written
 * after a payload without any barrier.  (On shm it is also the fast path:
 * the default level measures the target draining its queue.)  Gets
 * complete when the data is local, by definition of fi_read. */
#include <string.h>

#include "rofi_internal.h"

/* Issue one RMA on a resolved target: raddr/key at the peer, or `peer`, its
 * node-local mapping (split into max_msg pieces, each its own CQ entry).
 * No checks: the callers made them. */
ROFI_INLINE int rma_post(int is_put, char *local, uint64_t raddr, uint64_t key, char *peer,
                         size_t size, int pe, int counted, struct rofi_op **out)
{
    const char *fn = is_put ? "rofi_put" : "rofi_get";
    void *desc;
    int rc;

    *out = NULL;
    if (peer) {
        /* Node-local: the copy is the whole op, complete (locally and
         * remotely) when it returns; a handle only if one is asked for. */
        if (is_put)
            memcpy(peer, local, size);
        else
            memcpy(local, peer, size);
        if (counted == OP_COUNTED && !(*out = rofi_op_done()))
            return rofi_error(ROFI_ENOMEM, "%s: out of memory", fn);
        return 0;
    }
    struct rofi_op *op = rofi_op_new(counted);
    if (!op)
        return rofi_error(ROFI_ENOMEM, "%s: out of memory", fn);
    *out = op;
    op->pe = pe;
    if (size == 0) {
        rofi_op_fail(op, 0, 1); /* nothing to move: complete at once */
        return 0;
    }
    if ((rc = rofi_op_desc(op, local, size, &desc))) {
        rofi_op_fail(op, rc, 1);
        return rc;
    }
    /* (not size + max - 1: max_msg is often SIZE_MAX; no division for the
     * common one-part case) */
    int parts = size <= rofi.max_msg ? 1
                                     : (int)(size / rofi.max_msg + (size % rofi.max_msg != 0));
    op->remaining = parts;
    for (int i = 0; i < parts; i++) {
        size_t off = (size_t)i * rofi.max_msg;
        size_t len = size - off < rofi.max_msg ? size - off : rofi.max_msg;
        struct iovec iov = { .iov_base = local + off, .iov_len = len };
        struct fi_rma_iov riov = { .addr = raddr + off, .len = len, .key = key };
        struct fi_msg_rma msg = {
            .msg_iov = &iov, .desc = &desc, .iov_count = 1, .addr = rofi.addrs[pe],
            .rma_iov = &riov, .rma_iov_count = 1, .context = op,
        };
        ssize_t frc;
        if (is_put)
            ROFI_POST(frc, fi_writemsg(rofi.ep, &msg, FI_COMPLETION | FI_DELIVERY_COMPLETE));
        else
            ROFI_POST(frc, fi_readmsg(rofi.ep, &msg, FI_COMPLETION));
        if (frc) {
            rc = rofi_fi_error_pe(is_put ? "fi_writemsg" : "fi_readmsg", frc, pe);
            rofi_op_fail(op, rc, parts - i); /* the posted parts still complete */
            return rc;
        }
    }
    return 0;
}

/* Check a request against ROFI's state and allocations, then issue it. */
ROFI_INLINE int rma_issue(int is_put, char *local, const void *sym, size_t size, int pe,
                          int counted, struct rofi_op **out)
{
    const char *fn = is_put ? "rofi_put" : "rofi_get";
    uint64_t raddr = 0, key = 0;
    char *peer = NULL;
    int rc;

    *out = NULL;
    ROFI_CHECK_INIT();
    if (pe < 0 || pe >= rofi.size)
        return rofi_error(ROFI_EINVAL, "%s: PE %d out of range [0, %d)", fn, pe, rofi.size);
    if (size && !local)
        return rofi_error(ROFI_EINVAL, "%s: NULL local buffer", fn);
    if (size && (rc = rofi_translate(sym, size, pe, &raddr, &key, &peer)))
        return rc;
    return rma_post(is_put, local, raddr, key, peer, size, pe, counted, out);
}

/* Blocking form: issue, then wait (the op is freed either way). */
static int rma_blocking(int is_put, char *local, const void *sym, size_t size, int pe)
{
    struct rofi_op *op;
    int rc = rma_issue(is_put, local, sym, size, pe, OP_COUNTED_IF_ORPHANED, &op);
    if (!op)
        return rc;
    int wrc = rofi_op_wait(op);
    return rc ? rc : wrc;
}

/* Non-blocking form: a failed issue is reported now and the handle freed. */
static int rma_nb(int is_put, char *local, const void *sym, size_t size, int pe,
                  rofi_op_t **handle)
{
    struct rofi_op *op;
    if (!handle)
        return rofi_error(ROFI_EINVAL, "%s: NULL handle", is_put ? "rofi_put_nb" : "rofi_get_nb");
    *handle = NULL;
    int rc = rma_issue(is_put, local, sym, size, pe, OP_COUNTED, &op);
    if (rc) {
        if (op)
            rofi_op_wait(op);
        return rc;
    }
    *handle = op;
    return 0;
}

int rofi_put(void *dst, const void *src, size_t size, int pe)
{
    return rma_blocking(1, (char *)src, dst, size, pe);
}

int rofi_put_nb(void *dst, const void *src, size_t size, int pe, rofi_op_t **op)
{
    return rma_nb(1, (char *)src, dst, size, pe, op);
}

int rofi_get(void *dst, const void *src, size_t size, int pe)
{
    return rma_blocking(0, dst, src, size, pe);
}

int rofi_get_nb(void *dst, const void *src, size_t size, int pe, rofi_op_t **op)
{
    return rma_nb(0, dst, src, size, pe, op);
}

/* The trusted entries (rofi.h): the request was checked by the caller. A
 * NULL `op` makes the call blocking. */
static int rma_at(int is_put, const rofi_target_t *t, size_t off, char *local, size_t size,
                  rofi_op_t **op)
{
    struct rofi_op *h;
    int rc = rma_post(is_put, local, t->raddr + off, t->key, t->local ? t->local + off : NULL,
                      size, t->pe, op ? OP_COUNTED : OP_COUNTED_IF_ORPHANED, &h);
    return rofi_op_finish(rc, h, op);
}

int rofi_put_at(const rofi_target_t *t, size_t off, const void *src, size_t size, rofi_op_t **op)
{
    return rma_at(1, t, off, (char *)src, size, op);
}

int rofi_get_at(const rofi_target_t *t, size_t off, void *dst, size_t size, rofi_op_t **op)
{
    return rma_at(0, t, off, dst, size, op);
}
