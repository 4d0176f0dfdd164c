/* msg.c - tagged messages: user send/recv and the transport of collectives.
 *
 * The source PE is part of the tag, so receives need no FI_DIRECTED_RECV
 * and match only the intended sender; a receive from any PE ignores those
 * tag bits and learns the source from the tag of its completion.
 * Unexpected messages are buffered by the provider until the matching
 * receive is posted. */
#include <string.h>

#include "rofi_internal.h"

#define TAG_KIND_SHIFT 56
#define TAG_SRC_SHIFT 32
#define TAG_SRC_MASK ((uint64_t)0xffffff << TAG_SRC_SHIFT)

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

int rofi_post_recv(struct rofi_op *op, int pe, void *buf, size_t len, uint64_t tag,
                   uint64_t ignore)
{
    void *desc;
    op->pe = pe; /* matched through the tag; named in errors */
    ssize_t rc = rofi_op_desc(op, buf, len, &desc);
    if (rc) {
        rofi_op_fail(op, (int)rc, 1);
        return (int)rc;
    }
    ROFI_POST(rc, fi_trecv(rofi.ep, buf, len, desc, FI_ADDR_UNSPEC, tag, ignore, op));
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
    rofi_post_recv(op, pe, buf, size, rofi_tag_user(pe, tag), 0);
    int orphaned;
    rc = rofi_op_wait_until(op, rofi_now() + rofi_timeout_s(), &orphaned);
    if (!orphaned) {
        if (received)
            *received = op->len;
        rofi_op_wait(op); /* done: frees */
    }
    return rc;
}

int rofi_send_nb(int pe, const void *buf, size_t size, uint32_t tag, rofi_op_t **handle)
{
    ROFI_CHECK_INIT();
    if (!handle)
        return rofi_error(ROFI_EINVAL, "rofi_send_nb: NULL handle");
    *handle = NULL;
    int rc = check_pe(__func__, pe);
    if (rc)
        return rc;
    if (!buf && size)
        return rofi_error(ROFI_EINVAL, "rofi_send_nb: NULL buffer");
    struct rofi_op *op = rofi_op_new(OP_COUNTED);
    if (!op)
        return rofi_error(ROFI_ENOMEM, "rofi_send_nb: out of memory");
    if ((rc = rofi_post_send(op, pe, buf, size, rofi_tag_user(rofi.rank, tag)))) {
        rofi_op_wait(op); /* finished by the failed post: frees */
        return rc;
    }
    *handle = op;
    return 0;
}

int rofi_recv_nb(int pe, void *buf, size_t size, uint32_t tag, int *src, size_t *received,
                 rofi_op_t **handle)
{
    ROFI_CHECK_INIT();
    if (!handle)
        return rofi_error(ROFI_EINVAL, "rofi_recv_nb: NULL handle");
    *handle = NULL;
    int rc = pe == ROFI_ANY_PE ? 0 : check_pe(__func__, pe);
    if (rc)
        return rc;
    /* Under receives that ignore the source's tag bits, libfabric's shm
     * provider loses messages (seen with 1.17: tests/t_msg's stress part):
     * refused rather than offered lossy. */
    if (pe == ROFI_ANY_PE && strcmp(rofi.prov_name, "shm") == 0)
        return rofi_error(ROFI_ENOTSUP, "rofi_recv_nb: receives from any PE are not offered "
                                        "on the shm provider (it loses messages under them)");
    if (!buf && size)
        return rofi_error(ROFI_EINVAL, "rofi_recv_nb: NULL buffer");
    struct rofi_op *op = rofi_op_new(OP_UNCOUNTED);
    if (!op)
        return rofi_error(ROFI_ENOMEM, "rofi_recv_nb: out of memory");
    op->is_recv = 1;
    op->src_out = src;
    op->len_out = received;
    int any = pe == ROFI_ANY_PE;
    if ((rc = rofi_post_recv(op, any ? -1 : pe, buf, size, rofi_tag_user(any ? 0 : pe, tag),
                             any ? TAG_SRC_MASK : 0))) {
        rofi_op_wait(op);
        return rc;
    }
    *handle = op;
    return 0;
}

void rofi_recv_report(const struct rofi_op *op)
{
    if (op->src_out)
        *op->src_out = (int)((op->tag & TAG_SRC_MASK) >> TAG_SRC_SHIFT);
    if (op->len_out)
        *op->len_out = op->len;
}

int rofi_cancel(rofi_op_t *op)
{
    if (!op)
        return rofi_error(ROFI_EINVAL, "rofi_cancel: NULL handle");
    if (!op->is_recv)
        return rofi_error(ROFI_EINVAL, "rofi_cancel: not a posted receive");
    rofi_lock();
    if (atomic_load(&op->state) == OP_PENDING)
        fi_cancel(&rofi.ep->fid, op); /* completes it with FI_ECANCELED */
    rofi_unlock();
    int orphaned;
    int rc = rofi_op_wait_until(op, rofi_now() + rofi_timeout_s(), &orphaned);
    if (orphaned)
        return rc; /* the provider never answered: the op frees itself later */
    int cancelled = op->fi_err == FI_ECANCELED;
    if (rc == 0)
        rofi_recv_report(op);
    rofi_op_wait(op); /* done: frees */
    if (cancelled)
        return 0;
    return rc < 0 ? rc : 1;
}
