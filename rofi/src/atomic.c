/* atomic.c - remote atomics through fi_atomic / fi_fetch_atomic /
 * fi_compare_atomic.
 *
 * Support is probed once per (op, type) with the matching *atomicvalid
 * call, and only if the endpoint was opened with FI_ATOMIC (ofi_rxm
 * crashes in fi_fetch_atomicvalid otherwise).  Operand, compare and result
 * live in the op's scratch words, so one descriptor covers them under
 * FI_MR_LOCAL and nothing points at caller memory once the op is issued;
 * the result is copied to the caller's pointer at completion.
 *
 * Completion level: a fetching atomic completes when its result is back,
 * which implies the update happened at the target.  Non-fetching atomics
 * are therefore issued as fetching ones into a scratch result when the
 * provider allows it: the same remote-completion guarantee as
 * FI_DELIVERY_COMPLETE, without relying on that flag for atomics (the shm
 * provider of libfabric 1.17 corrupts memory on fi_atomicmsg with
 * FI_DELIVERY_COMPLETE).  Only if the fetching form is not valid do we use
 * fi_atomicmsg with FI_DELIVERY_COMPLETE. */
#include <string.h>

#include "rofi_internal.h"

enum kind { PLAIN, FETCH, COMPARE };

/* rofi.atomic_ok values: how an (op, type) pair is issued. */
enum { AT_NONE = 0, AT_NATIVE = 1, AT_PLAIN_AS_FETCH = 2 };

static const struct {
    enum kind kind;
    enum fi_op op;
} op_map[ROFI_NUM_ATOMIC_OPS] = {
    [ROFI_ATOMIC_FETCH] = { FETCH, FI_ATOMIC_READ },
    [ROFI_ATOMIC_SET] = { PLAIN, FI_ATOMIC_WRITE },
    [ROFI_ATOMIC_SWAP] = { FETCH, FI_ATOMIC_WRITE },
    [ROFI_ATOMIC_CSWAP] = { COMPARE, FI_CSWAP },
    [ROFI_ATOMIC_FETCH_ADD] = { FETCH, FI_SUM },
    [ROFI_ATOMIC_ADD] = { PLAIN, FI_SUM },
    [ROFI_ATOMIC_FETCH_AND] = { FETCH, FI_BAND },
    [ROFI_ATOMIC_FETCH_OR] = { FETCH, FI_BOR },
    [ROFI_ATOMIC_FETCH_XOR] = { FETCH, FI_BXOR },
    [ROFI_ATOMIC_AND] = { PLAIN, FI_BAND },
    [ROFI_ATOMIC_OR] = { PLAIN, FI_BOR },
    [ROFI_ATOMIC_XOR] = { PLAIN, FI_BXOR },
};

static const enum fi_datatype type_map[ROFI_NUM_TYPES] = {
    [ROFI_INT32] = FI_INT32, [ROFI_UINT32] = FI_UINT32,
    [ROFI_INT64] = FI_INT64, [ROFI_UINT64] = FI_UINT64,
};

static size_t type_size(rofi_type_t t)
{
    return t == ROFI_INT32 || t == ROFI_UINT32 ? 4 : 8;
}

void rofi_atomic_probe(void)
{
    memset(rofi.atomic_ok, 0, sizeof rofi.atomic_ok);
    rofi_lock();
    for (int o = 0; o < ROFI_NUM_ATOMIC_OPS; o++)
        for (int t = 0; t < ROFI_NUM_TYPES; t++) {
            size_t count = 0, fcount = 0;
            enum fi_datatype dt = type_map[t];
            enum fi_op fop = op_map[o].op;
            int ok;
            if (op_map[o].kind == PLAIN) {
                if (fi_fetch_atomicvalid(rofi.ep, dt, fop, &fcount) == 0 && fcount >= 1)
                    ok = AT_PLAIN_AS_FETCH;
                else
                    ok = fi_atomicvalid(rofi.ep, dt, fop, &count) == 0 && count >= 1;
            } else if (op_map[o].kind == FETCH) {
                ok = fi_fetch_atomicvalid(rofi.ep, dt, fop, &count) == 0 && count >= 1;
            } else {
                ok = fi_compare_atomicvalid(rofi.ep, dt, fop, &count) == 0 && count >= 1;
            }
            rofi.atomic_ok[o][t] = (unsigned char)ok;
        }
    rofi_unlock();
}

/* How (op, type) is issued (AT_*), or a negative ROFI error: the check
 * behind rofi_atomic_supported, inline in atomic_issue (a call of the
 * public function was ~20 instructions of every atomic, callgrind). */
static inline int atomic_mode(rofi_atomic_op_t op, rofi_type_t type, const char *fn)
{
    if (!rofi.initialized)
        return rofi_error(ROFI_ESTATE, "%s: ROFI is not initialized", fn);
    if ((unsigned)op >= ROFI_NUM_ATOMIC_OPS || (unsigned)type >= ROFI_NUM_TYPES)
        return rofi_error(ROFI_EINVAL, "%s: bad op %d or type %d", fn, (int)op, (int)type);
    return rofi.has_atomic ? rofi.atomic_ok[op][type] : AT_NONE;
}

int rofi_atomic_supported(rofi_atomic_op_t op, rofi_type_t type)
{
    int mode = atomic_mode(op, type, "rofi_atomic_supported");
    return mode < 0 ? mode : mode != AT_NONE;
}

ROFI_INLINE int atomic_post(rofi_atomic_op_t aop, rofi_type_t type, int mode, uint64_t raddr,
                            uint64_t key, char *peer, const void *operand, const void *compare,
                            void *result, int pe, int counted, struct rofi_op **out);

/* Check an atomic request against ROFI's state and allocations, then issue it. */
ROFI_INLINE int atomic_issue(rofi_atomic_op_t aop, rofi_type_t type, void *dst,
                             const void *operand, const void *compare, void *result, int pe,
                             int counted, struct rofi_op **out)
{
    uint64_t raddr = 0, key = 0;
    char *peer = NULL;
    int rc;

    *out = NULL;
    int mode = atomic_mode(aop, type, "rofi_atomic");
    if (mode <= AT_NONE)
        return mode < 0 ? mode
                        : rofi_error(ROFI_ENOTSUP,
                                     "atomic op %d on type %d not supported by provider %s%s",
                                     (int)aop, (int)type, rofi.prov_name,
                                     rofi.has_atomic ? "" : " (no FI_ATOMIC endpoint)");
    size_t sz = type_size(type);
    enum kind kind = op_map[aop].kind;
    if (pe < 0 || pe >= rofi.size)
        return rofi_error(ROFI_EINVAL, "rofi_atomic: PE %d out of range [0, %d)", pe, rofi.size);
    /* A mask, not `% sz`: sz is known only at run time, so the remainder
     * was a 64-bit division on every atomic. */
    if ((uintptr_t)dst & (sz - 1))
        return rofi_error(ROFI_EINVAL, "rofi_atomic: %p not aligned to %zu bytes", dst, sz);
    if ((aop != ROFI_ATOMIC_FETCH && !operand) || (kind == COMPARE && !compare) ||
        (kind != PLAIN && !result))
        return rofi_error(ROFI_EINVAL, "rofi_atomic: missing operand, compare or result");
    if ((rc = rofi_translate(dst, sz, pe, &raddr, &key, &peer)))
        return rc;
    return atomic_post(aop, type, mode, raddr, key, peer, operand, compare, result, pe, counted,
                       out);
}

/* Issue a checked atomic on a resolved target: raddr/key at the peer, or
 * `peer`, its node-local mapping. */
ROFI_INLINE int atomic_post(rofi_atomic_op_t aop, rofi_type_t type, int mode, uint64_t raddr,
                            uint64_t key, char *peer, const void *operand, const void *compare,
                            void *result, int pe, int counted, struct rofi_op **out)
{
    size_t sz = type_size(type);
    enum kind kind = op_map[aop].kind;
    int plain_as_fetch = mode == AT_PLAIN_AS_FETCH;
    void *desc;
    int rc;

    *out = NULL;
    if (peer && rofi.local_atomics) {
        /* Node-local, and the provider's atomics are CPU atomics at their
         * target too (local.c): one CPU atomic is the whole op. */
        rofi_local_atomic(aop, type, peer, operand, compare, result);
        if (counted == OP_COUNTED && !(*out = rofi_op_done()))
            return rofi_error(ROFI_ENOMEM, "rofi_atomic: out of memory");
        return 0;
    }

    struct rofi_op *op = rofi_op_new(counted);
    if (!op)
        return rofi_error(ROFI_ENOMEM, "rofi_atomic: out of memory");
    *out = op;
    op->pe = pe;
    if (operand)
        rofi_copy_word(&op->scratch[0], operand, sz);
    if (compare && kind == COMPARE)
        rofi_copy_word(&op->scratch[1], compare, sz);
    if (kind != PLAIN) {
        op->result_out = result;
        op->result_len = sz;
    }
    if ((rc = rofi_op_desc(op, op->scratch, sizeof op->scratch, &desc))) {
        rofi_op_fail(op, rc, 1);
        return rc;
    }

    struct fi_ioc ioc = { .addr = &op->scratch[0], .count = 1 };
    struct fi_ioc cmp = { .addr = &op->scratch[1], .count = 1 };
    struct fi_ioc res = { .addr = &op->scratch[2], .count = 1 };
    struct fi_rma_ioc rioc = { .addr = raddr, .count = 1, .key = key };
    struct fi_msg_atomic msg = {
        .msg_iov = &ioc, .desc = &desc, .iov_count = 1, .addr = rofi.addrs[pe],
        .rma_iov = &rioc, .rma_iov_count = 1, .datatype = type_map[type],
        .op = op_map[aop].op, .context = op,
    };
    ssize_t frc;
    if (kind == PLAIN && !plain_as_fetch)
        ROFI_POST(frc, fi_atomicmsg(rofi.ep, &msg, FI_COMPLETION | FI_DELIVERY_COMPLETE));
    else if (kind != COMPARE) /* FETCH, or PLAIN with a discarded result */
        ROFI_POST(frc, fi_fetch_atomicmsg(rofi.ep, &msg, &res, &desc, 1, FI_COMPLETION));
    else
        ROFI_POST(frc, fi_compare_atomicmsg(rofi.ep, &msg, &cmp, &desc, 1, &res, &desc, 1,
                                            FI_COMPLETION));
    if (frc) {
        rc = rofi_fi_error_pe("fi_*atomicmsg", frc, pe);
        rofi_op_fail(op, rc, 1);
        return rc;
    }
    return 0;
}

int rofi_atomic(rofi_atomic_op_t op, rofi_type_t type, void *dst, const void *operand,
                const void *compare, void *result, int pe)
{
    struct rofi_op *h;
    int rc = atomic_issue(op, type, dst, operand, compare, result, pe, OP_COUNTED_IF_ORPHANED, &h);
    if (!h)
        return rc;
    int wrc = rofi_op_wait(h);
    return rc ? rc : wrc;
}

int rofi_atomic_nb(rofi_atomic_op_t op, rofi_type_t type, void *dst, const void *operand,
                   const void *compare, void *result, int pe, rofi_op_t **handle)
{
    struct rofi_op *h;
    if (!handle)
        return rofi_error(ROFI_EINVAL, "rofi_atomic_nb: NULL handle");
    *handle = NULL;
    int rc = atomic_issue(op, type, dst, operand, compare, result, pe, OP_COUNTED, &h);
    if (rc) {
        if (h)
            rofi_op_wait(h);
        return rc;
    }
    *handle = h;
    return 0;
}

/* The trusted entry (rofi.h): the request was checked by the caller, except
 * that an (op, type) the provider lacks is still ROFI_ENOTSUP (a table
 * load). A NULL `handle` makes the call blocking. */
int rofi_atomic_at(rofi_atomic_op_t aop, rofi_type_t type, const rofi_target_t *t, size_t off,
                   const void *operand, const void *compare, void *result, rofi_op_t **handle)
{
    int mode = rofi.has_atomic ? rofi.atomic_ok[aop][type] : AT_NONE;
    if (mode == AT_NONE)
        return rofi_error(ROFI_ENOTSUP, "atomic op %d on type %d not supported by provider %s",
                          (int)aop, (int)type, rofi.prov_name);
    struct rofi_op *h;
    int rc = atomic_post(aop, type, mode, t->raddr + off, t->key, t->local ? t->local + off : NULL,
                         operand, compare, result, t->pe,
                         handle ? OP_COUNTED : OP_COUNTED_IF_ORPHANED, &h);
    return rofi_op_finish(rc, h, handle);
}
