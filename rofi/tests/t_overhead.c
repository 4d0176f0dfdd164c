/* t_overhead.c - what ROFI's layer costs over raw libfabric, per operation.
 *
 * PE 0 times put, get (8 B) and fetch_add (uint64) two ways on ROFI's own
 * endpoint: through rofi_put / rofi_get / rofi_atomic, and as the bare
 * fi_writemsg / fi_readmsg / fi_fetch_atomicmsg (same flags as ROFI) with a
 * loop on fi_cq_read for its entry.  Batches of the two alternate (each
 * side first in every other pair), a few microseconds apart, so the host's
 * state (on a VM, where the two vCPUs sit: 20-500 ns per cache-line move,
 * changing second to second) is the same for both halves of a pair; the
 * ratio per pair then measures the layer alone, where two separate
 * programs measure the host as much.  One JSON line per op:
 *   {"op":"fetch_add","bytes":8,"provider":"shm","pairs":N,"batch":B,
 *    "raw_ns":X,"rofi_ns":Y,"ratio":R,"ratio_p5":..,"ratio_p95":..}
 * (medians over pairs; the ratio is the median of per-pair ratios).
 *
 * The raw path calls libfabric without rofi.lock, so ROFI's progress thread
 * is turned off (ROFI_PROGRESS_THREAD=0); what is measured is the calling
 * thread's path: checks, translation, op tracking, lock and completion.
 * It is also a test: the target ends with the last value put and the total
 * of the fetch_adds, every get reads its pattern, and every fetch_add
 * returns the count so far.
 *
 * With two PEs the target is PE 1; with one, PE 0 itself (ops8.h), which
 * leaves the other process, and the host's floor under it, out of the
 * ratio: the sharper measure of ROFI's own code (`rofi_ns - raw_ns`, a
 * few ns apart from run to run on one floor).
 *
 *   OVERHEAD_PAIRS=400 ROFI_PROVIDER=shm lamellar-run -n 2 --bind-to core tests/t_overhead
 *   OVERHEAD_PAIRS=400 ROFI_PROVIDER=shm lamellar-run -n 1 --bind-to core tests/t_overhead
 */
#include <stdio.h>
#include <stdlib.h>

#include "rofi_internal.h" /* rofi.ep, rofi.cq, rofi_now: the raw path uses ROFI's endpoint */
#include "ops8.h"
#include "overhead_pairs.h"

enum { SRC_W = 8, RES_W = 9 }; /* the raw path's locals, in buf (ops8.h) on PE 0 */
#define BATCH 25

static void *desc; /* buf's descriptor (FI_MR_LOCAL) or NULL */
static struct fi_context2 raw_ctx;

/* ---- the raw path: one libfabric call, then our own CQ entry ------------ */

static void raw_fail(const char *what, long rc)
{
    fprintf(stderr, "[pe %d] raw %s: %ld (%s)\n", me, what, rc, fi_strerror((int)-rc));
    exit(1);
}

static void raw_wait(void)
{
    struct fi_cq_tagged_entry e[16];
    double deadline = rofi_now() + rofi_timeout_s(); /* ROFI's own bound on waits */
    for (unsigned spins = 1;; spins++) {
        ssize_t n = fi_cq_read(rofi.cq, e, 16);
        for (ssize_t i = 0; i < n; i++)
            if (e[i].op_context != &raw_ctx) /* ROFI has nothing in flight here */
                raw_fail("CQ entry of another operation", -FI_EOTHER);
        if (n > 0)
            return;
        if (n != -FI_EAGAIN)
            raw_fail("fi_cq_read", n);
        if (spins % 4096 == 0 && rofi_now() > deadline)
            raw_fail("wait (ROFI_TIMEOUT)", -FI_ETIMEDOUT);
    }
}

/* A full queue: drive progress (no entry can be ours yet). */
static void raw_progress(void)
{
    struct fi_cq_tagged_entry e;
    ssize_t n = fi_cq_read(rofi.cq, &e, 1);
    if (n > 0)
        raw_fail("CQ entry of another operation", -FI_EOTHER);
}

/* ROFI_POST's retry, minus the lock. */
#define RAW_POST(call)                                                       \
    do {                                                                     \
        ssize_t r_;                                                          \
        while ((r_ = (call)) == -FI_EAGAIN)                                  \
            raw_progress();                                                  \
        if (r_)                                                              \
            raw_fail(#call, r_);                                             \
        raw_wait();                                                          \
    } while (0)

static uint64_t raddr[3], rkey; /* the target's PUT_W, GET_W, ADD_W */

static void raw_put(void)
{
    buf[SRC_W] = ++seq;
    struct iovec iov = { &buf[SRC_W], 8 };
    struct fi_rma_iov riov = { raddr[PUT_W], 8, rkey };
    struct fi_msg_rma msg = { .msg_iov = &iov, .desc = &desc, .iov_count = 1,
                              .addr = rofi.addrs[tgt], .rma_iov = &riov, .rma_iov_count = 1,
                              .context = &raw_ctx };
    RAW_POST(fi_writemsg(rofi.ep, &msg, FI_COMPLETION | FI_DELIVERY_COMPLETE));
}

static void raw_get(void)
{
    buf[RES_W] = 0;
    struct iovec iov = { &buf[RES_W], 8 };
    struct fi_rma_iov riov = { raddr[GET_W], 8, rkey };
    struct fi_msg_rma msg = { .msg_iov = &iov, .desc = &desc, .iov_count = 1,
                              .addr = rofi.addrs[tgt], .rma_iov = &riov, .rma_iov_count = 1,
                              .context = &raw_ctx };
    RAW_POST(fi_readmsg(rofi.ep, &msg, FI_COMPLETION));
    CHECK(buf[RES_W] == PATTERN, "raw get read %#llx", (unsigned long long)buf[RES_W]);
}

static void raw_fetch_add(void)
{
    buf[SRC_W] = 1;
    struct fi_ioc ioc = { &buf[SRC_W], 1 }, res = { &buf[RES_W], 1 };
    struct fi_rma_ioc rioc = { raddr[ADD_W], 1, rkey };
    struct fi_msg_atomic msg = { .msg_iov = &ioc, .desc = &desc, .iov_count = 1,
                                 .addr = rofi.addrs[tgt], .rma_iov = &rioc, .rma_iov_count = 1,
                                 .datatype = FI_UINT64, .op = FI_SUM, .context = &raw_ctx };
    RAW_POST(fi_fetch_atomicmsg(rofi.ep, &msg, &res, &desc, 1, FI_COMPLETION));
    CHECK(buf[RES_W] == adds, "raw fetch_add returned %llu, want %llu",
          (unsigned long long)buf[RES_W], (unsigned long long)adds);
    adds++;
}

/* ---- pairs of batches: the bare call (side 0) and ROFI's (ops8.h) ------ */

static void (*raw_op)(void), (*ours_op)(void);

/* ns per op over one batch of BATCH. */
static double side_batch(int side)
{
    void (*f)(void) = side ? ours_op : raw_op;
    double t0 = rofi_now();
    for (int i = 0; i < BATCH; i++)
        f();
    return (rofi_now() - t0) * 1e9 / BATCH;
}

static void compare(const char *op, void (*raw)(void), void (*ours)(void), long pairs)
{
    char batch[32];
    snprintf(batch, sizeof batch, "\"batch\":%d", BATCH);
    raw_op = raw, ours_op = ours;
    ops8_pairs(op, pairs, batch, side_batch, "raw_ns", "rofi_ns");
}

int main(void)
{
    long pairs = overhead_pairs_env("t_overhead", 100);
    if (pairs < 0)
        return 2;
    setenv("ROFI_PROGRESS_THREAD", "0", 1); /* the raw path runs without rofi.lock */
    test_init();
    ops8_start();
    if (me == 0) {
        for (int w = PUT_W; w <= ADD_W; w++) {
            char *mapped; /* the raw path is the provider's: run with ROFI_LOCAL=0 (launch.sh) */
            OK(rofi_translate(&buf[w], 8, tgt, &raddr[w], &rkey, &mapped)); /* one key per allocation */
            CHECK(mapped == NULL, "ROFI reaches PE %d through the node-local path", tgt);
        }
        desc = rofi_alloc_desc(buf, 4096);
        compare("put", raw_put, rofi_put8, pairs);
        compare("get", raw_get, rofi_get8, pairs);
        compare("fetch_add", raw_fetch_add, rofi_fetch_add, pairs);
    }
    ops8_check();
    return test_finish("overhead");
}
