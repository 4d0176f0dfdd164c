/* msg.c - tagged messages: user send/recv and the transport of collectives.
 *
 * The source PE is part of the tag, so receives need no FI_DIRECTED_RECV
 * and match only the intended sender.  Unexpected messages are buffered by
 * the provider until the matching receive is posted. */
#include <string.h>

#include "rofi_internal.h"

#define TAG_KIND_SHIFT 56
#define TAG_SRC_SHIFT 32

uint64_t rofi_tag_user(int src, uint32_t tag)
{
    return (uint64_t)TAG_USER << TAG_KIND_SHIFT |
           ((uint64_t)src & 0xffffff) << TAG_SRC_SHIFT | tag;
}

uint64_t rofi_tag_coll(int kind, int src, uint32_t team, int round, uint32_t seq)
{
    return (uint64_t)kind << TAG_KIND_SHIFT |
           ((uint64_t)src & 0xffffff) << TAG_SRC_SHIFT |
           (uint64_t)(team & 0xfff) << 20 | (uint64_t)(round & 0x3f) << 14 |
           (seq & 0x3fff);
}

int rofi_post_send(struct rofi_op *op, int pe, const void *buf, size_t len, uint64_t tag)
{
    void *desc;
    ssize_t rc = rofi_op_desc(op, buf, len, &desc);
    if (rc) {
        rofi_op_fail(op, (int)rc, 1);
        return (int)rc;
    }
    op->pe = pe;
    ROFI_POST(rc, fi_tsend(rofi.ep, buf, len, desc, rofi.addrs[pe], tag, op));
    if (rc) {
        int err = rofi_fi_error_pe("fi_tsend", rc, pe);
        rofi_op_fail(op, err, 1);
        return err;
    }
    return 0;
}

int rofi_post_recv(struct rofi_op *op, int pe, void *buf, size_t len, uint64_t tag)
{
    void *desc;
    op->pe = pe; /* matched through the tag; named in errors */
    ssize_t rc = rofi_op_desc(op, buf, len, &desc);
    if (rc) {
        rofi_op_fail(op, (int)rc, 1);
        return (int)rc;
    }
    ROFI_POST(rc, fi_trecv(rofi.ep, buf, len, desc, FI_ADDR_UNSPEC, tag, 0, op));
    if (rc) {
        int err = rofi_fi_error("fi_trecv", rc);
        rofi_op_fail(op, err, 1);
        return err;
    }
    return 0;
}

static int check_pe(const char *fn, int pe)
{
    if (pe < 0 || pe >= rofi.size)
        return rofi_error(ROFI_EINVAL, "%s: PE %d out of range [0, %d)", fn, pe, rofi.size);
    return 0;
}

int rofi_send(int pe, const void *buf, size_t size, uint32_t tag)
{
    ROFI_CHECK_INIT();
    int rc = check_pe(__func__, pe);
    if (rc)
        return rc;
    if (!buf && size)
        return rofi_error(ROFI_EINVAL, "rofi_send: NULL buffer");
    struct rofi_op *op = rofi_op_new(OP_COUNTED_IF_ORPHANED); /* blocking */
    if (!op)
        return rofi_error(ROFI_ENOMEM, "rofi_send: out of memory");
    rofi_post_send(op, pe, buf, size, rofi_tag_user(rofi.rank, tag));
    return rofi_op_wait(op);
}

int rofi_recv(int pe, void *buf, size_t size, uint32_t tag, size_t *received)
{
    ROFI_CHECK_INIT();
    int rc = check_pe(__func__, pe);
    if (rc)
        return rc;
    if (!buf && size)
        return rofi_error(ROFI_EINVAL, "rofi_recv: NULL buffer");
    struct rofi_op *op = rofi_op_new(OP_UNCOUNTED);
    if (!op)
        return rofi_error(ROFI_ENOMEM, "rofi_recv: out of memory");
    op->is_recv = 1;
    rofi_post_recv(op, pe, buf, size, rofi_tag_user(pe, tag));
    int orphaned;
    rc = rofi_op_wait_until(op, rofi_now() + rofi_timeout_s(), &orphaned);
    if (!orphaned) {
        if (received)
            *received = op->len;
        rofi_op_wait(op); /* done: frees */
    }
    return rc;
}
