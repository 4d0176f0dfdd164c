/* progress.c - per-operation completion tracking and progress.
 *
 * Every operation carries its own struct rofi_op as libfabric context and
 * is completed by its own CQ entry.  We never use a shared counter: the
 * shm provider counts incoming writes on the same counters as local
 * completions, so a counter can reach its target before our writes land.
 *
 * rofi.lock serializes all libfabric calls.  Completions are handled only
 * under it, which also makes "orphaning" (a waiter giving up after
 * ROFI_TIMEOUT) race-free: the waiter flips PENDING -> ORPHANED under the
 * lock, and the CQ reader frees an orphaned op when its entry arrives. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rofi_internal.h"

/* Each thread keeps its last freed op for its next operation: a blocking
 * put/get/atomic then costs no allocator call (a visible share of a shm
 * put).  A thread registers once with a key whose destructor, run in
 * that thread at its exit, frees its spare. */
static _Thread_local struct rofi_op *spare;
static _Thread_local int spare_registered;
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

static void spare_free(void *unused)
{
    (void)unused;
    free(spare);
    spare = NULL;
}
static void spare_key_create(void) { (void)pthread_key_create(&spare_key, spare_free); }

struct rofi_op *rofi_op_new(int counted)
{
    struct rofi_op *op = spare;
    if (op)
        spare = NULL;
    else if (!(op = malloc(sizeof *op)))
        return NULL;
    /* Every field but ctx (the provider's) and scratch (written before it is
     * read): a memset of the whole op was ~30 instructions per op. */
    atomic_init(&op->state, OP_PENDING);
    op->remaining = 1;
    op->err = op->fi_err = op->is_recv = 0;
    op->pe = -1;
    op->counted = counted;
    op->len = op->result_len = 0;
    op->tag = 0;
    op->lmr = NULL;
    op->result_out = NULL;
    op->src_out = NULL;
    op->len_out = NULL;
    if (counted == OP_COUNTED)
        atomic_fetch_add(&rofi.outstanding, 1);
    return op;
}

struct rofi_op *rofi_op_done(void)
{
    struct rofi_op *op = rofi_op_new(OP_UNCOUNTED);
    if (op) {
        op->remaining = 0;
        atomic_store_explicit(&op->state, OP_DONE, memory_order_release);
    }
    return op;
}

int rofi_op_desc(struct rofi_op *op, const void *buf, size_t len, void **desc)
{
    *desc = NULL;
    if (!rofi.mr_local)
        return 0;
    if ((*desc = rofi_alloc_desc(buf, len)))
        return 0;
    /* FI_MR_LOCAL and buf is not symmetric: register it for this op only. */
    int rc = rofi_mr_reg((void *)buf, len ? len : 1,
                         FI_READ | FI_WRITE | FI_SEND | FI_RECV, &op->lmr);
    if (rc)
        return rc;
    *desc = fi_mr_desc(op->lmr);
    return 0;
}

/* A thread's first freed op: register the key whose destructor frees its
 * spare at thread exit (once per thread, so out of line).  Returns whether
 * the thread may keep a spare. */
static __attribute__((noinline)) int spare_register(void)
{
    pthread_once(&spare_once, spare_key_create);
    spare_registered = pthread_setspecific(spare_key, &spare) == 0;
    return spare_registered;
}

ROFI_INLINE void op_free(struct rofi_op *op)
{
    if (op->lmr)
        fi_close(&op->lmr->fid);
    if (!spare && (spare_registered || spare_register()))
        spare = op;
    else
        free(op);
}

/* `parts` fabric completions of op arrived (or will never be posted).
 * Caller holds rofi.lock. */
static void op_complete_locked(struct rofi_op *op, int err, int parts)
{
    if (err && !op->err)
        op->err = err;
    op->remaining -= parts;
    if (op->remaining > 0)
        return;
    if (op->counted == OP_COUNTED)
        atomic_fetch_sub(&rofi.outstanding, 1);
    if (atomic_load(&op->state) == OP_ORPHANED) {
        op_free(op);
        return;
    }
    if (op->result_out && !op->err)
        rofi_copy_word(op->result_out, &op->scratch[2], op->result_len);
    if (op->lmr) {
        fi_close(&op->lmr->fid);
        op->lmr = NULL;
    }
    /* Release: the waiter may read and free op as soon as it sees DONE. */
    atomic_store_explicit(&op->state, OP_DONE, memory_order_release);
}

void rofi_op_fail(struct rofi_op *op, int err, int parts)
{
    rofi_lock();
    op_complete_locked(op, err, parts);
    rofi_unlock();
}

/* The error entry behind -FI_EAVAIL: rare, so out of the poll loop. */
static __attribute__((noinline)) int cq_drain_error(void)
{
    struct fi_cq_err_entry e;
    memset(&e, 0, sizeof e);
    if (fi_cq_readerr(rofi.cq, &e, 0) == 1 && e.op_context) {
        struct rofi_op *op = e.op_context;
        op->fi_err = e.err < 0 ? -e.err : e.err; /* shm reports it negated */
        op->len = e.len;
        op_complete_locked(op, rofi_fi_code(op->fi_err, op->is_recv), 1);
    }
    return 1;
}

/* One CQ pass; caller holds rofi.lock.  Inline in the wait loops, whose
 * every poll it is (ROFI_INLINE). */
ROFI_INLINE int cq_drain(void)
{
    struct fi_cq_tagged_entry ent[16];
    ssize_t n = fi_cq_read(rofi.cq, ent, 16);
    if (n > 0) {
        for (ssize_t i = 0; i < n; i++) {
            struct rofi_op *op = ent[i].op_context;
            if (!op)
                continue;
            op->len = ent[i].len;
            op->tag = ent[i].tag;
            op_complete_locked(op, 0, 1);
        }
        return (int)n;
    }
    return n == -FI_EAVAIL ? cq_drain_error() : 0;
}

int rofi_progress_locked(void)
{
    return cq_drain();
}

/* trylock: if the progress thread is reading the CQ, it will complete our
 * op; spinning on the op state is then the right thing to do.  Counted as
 * a poll (under the lock: a load and a store never lose one): the progress
 * thread rests, without a CQ pass of its own, while an application thread
 * polls. */
ROFI_INLINE void poll_once(void)
{
    if (atomic_load_explicit(&rofi.lock_waiters, memory_order_relaxed)) {
        sched_yield(); /* a thread waits to post: a poll only progresses, let it in */
        return;
    }
    if (rofi_trylock()) {
        unsigned long n = atomic_load_explicit(&rofi.polls, memory_order_relaxed);
        atomic_store_explicit(&rofi.polls, n + 1, memory_order_relaxed);
        cq_drain();
        rofi_unlock();
    }
}

/* Status of a finished op.  Errors from the CQ get a message here; errors
 * recorded at post time already set a more specific one. */
static int op_status(struct rofi_op *op)
{
    if (op->err == ROFI_EPEER && op->fi_err)
        return rofi_peer_error(op->pe, op->fi_err);
    if (op->err && op->fi_err)
        return rofi_error(op->err, "operation failed: %s (%d)",
                          fi_strerror(op->fi_err), op->fi_err);
    return op->err;
}

int rofi_wait_expired(struct rofi_waiting *w)
{
    if (++w->polls < ROFI_HOT_POLLS || w->polls % ROFI_POLLS_PER_CLOCK)
        return 0;
    double now = rofi_now();
    if (w->next_yield == 0) { /* first clock read of this wait */
        if (w->deadline == ROFI_DEADLINE_LAZY)
            w->deadline = now + rofi_timeout_s();
        w->next_yield = now + ROFI_YIELD_EVERY_S;
    } else if (now >= w->next_yield && rofi.yield_when_waiting) {
        sched_yield();
        w->next_yield = now + ROFI_YIELD_EVERY_S;
    }
    return now >= w->deadline;
}

/* The deadline passed: orphan op unless it completed meanwhile (decided
 * under the lock, against the CQ reader).  Returns 1 if orphaned. */
static __attribute__((noinline)) int op_orphan(struct rofi_op *op)
{
    rofi_lock();
    int orphaned = atomic_load(&op->state) == OP_PENDING;
    if (orphaned) {
        /* A posted receive would write into its buffer later: cancel it;
         * its (error) completion then frees the orphan. */
        if (op->is_recv)
            fi_cancel(&rofi.ep->fid, op);
        if (op->counted == OP_COUNTED_IF_ORPHANED) {
            op->counted = OP_COUNTED; /* quiet waits for it from now on */
            atomic_fetch_add(&rofi.outstanding, 1);
        }
        atomic_store(&op->state, OP_ORPHANED);
    }
    rofi_unlock();
    return orphaned;
}

/* rofi_op_wait_until, inline in rofi_op_wait: the wait of every blocking
 * put, get and atomic. */
ROFI_INLINE int op_wait_until(struct rofi_op *op, double deadline, int *orphaned_out)
{
    struct rofi_waiting w = { .deadline = deadline };
    *orphaned_out = 0;
    while (atomic_load_explicit(&op->state, memory_order_acquire) != OP_DONE) {
        poll_once();
        if (rofi_wait_expired(&w) && (*orphaned_out = op_orphan(op)))
            return rofi_error(ROFI_ETIMEDOUT,
                              "operation not complete after %.0f s (ROFI_TIMEOUT): "
                              "is a peer PE gone or stuck?", rofi_timeout_s());
    }
    return op_status(op);
}

int rofi_op_wait_until(struct rofi_op *op, double deadline, int *orphaned_out)
{
    return op_wait_until(op, deadline, orphaned_out);
}

int rofi_op_wait(struct rofi_op *op)
{
    int orphaned;
    int rc = op_wait_until(op, ROFI_DEADLINE_LAZY, &orphaned);
    if (!orphaned)
        op_free(op);
    return rc;
}

int rofi_op_finish(int rc, struct rofi_op *h, rofi_op_t **out)
{
    if (out) {
        *out = rc ? NULL : h;
        if (rc && h)
            rofi_op_wait(h);
        return rc;
    }
    if (!h)
        return rc;
    int wrc = rofi_op_wait(h);
    return rc ? rc : wrc;
}

/* ---- public: wait / test / quiet --------------------------------------- */

int rofi_wait(rofi_op_t *op)
{
    if (!op)
        return rofi_error(ROFI_EINVAL, "rofi_wait: NULL handle");
    int orphaned;
    int rc = op_wait_until(op, ROFI_DEADLINE_LAZY, &orphaned);
    if (!orphaned) {
        if (rc == 0)
            rofi_recv_report(op);
        op_free(op);
    }
    return rc;
}

int rofi_test(rofi_op_t *op)
{
    if (!op)
        return rofi_error(ROFI_EINVAL, "rofi_test: NULL handle");
    if (atomic_load_explicit(&op->state, memory_order_acquire) != OP_DONE) {
        poll_once();
        if (atomic_load_explicit(&op->state, memory_order_acquire) != OP_DONE)
            return 0;
    }
    int rc = op->err ? op_status(op) : 1;
    if (rc == 1)
        rofi_recv_report(op);
    op_free(op);
    return rc;
}

int rofi_quiet(void)
{
    ROFI_CHECK_INIT();
    if (atomic_load(&rofi.outstanding) == 0)
        return 0; /* the common case after blocking calls: no waiter, no clock */
    struct rofi_waiting w = { .deadline = ROFI_DEADLINE_LAZY };
    int rc = 0;
    while (atomic_load(&rofi.outstanding) > 0) {
        poll_once();
        if (rofi_wait_expired(&w)) {
            rc = rofi_error(ROFI_ETIMEDOUT,
                            "rofi_quiet: %ld operations not complete after %.0f s",
                            (long)atomic_load(&rofi.outstanding), rofi_timeout_s());
            break;
        }
    }
    return rc;
}

int rofi_poll(void)
{
    ROFI_CHECK_INIT();
    poll_once();
    return 0;
}

/* ---- progress thread ---------------------------------------------------- */

/* Naps of the progress thread while the application uses the fabric: the
 * first is NAP_FIRST_NS and each next one twice as long, up to a cap.  Each
 * nap's end is a wakeup that takes the core from the application for a
 * moment, on shm and on tcp alike; tests/t_thread_cost measures what the
 * thread costs the application (figures in docs/design-measurements.md),
 * and the caps below keep it small.  While the application
 * polls, its polls serve the peers and the nap only bounds how soon the
 * thread notices that the application has gone (to compute, say): a long
 * cap.  While it only calls in (posts, computing between calls), the
 * thread's one CQ pass per nap is what serves the peers: a short cap.  A
 * PE that stops calling in after polling is served again within two naps
 * (the first still sees its last polls): tests/t_away checks it. */
#define NAP_FIRST_NS 20000L
/* Naps while nothing happens (no traffic, no calls): growing from
 * NAP_FIRST_NS to this cap, so an idle or computing PE costs well under 1 %
 * of a core (20 us naps cost a fifth of one), and a request to it after a
 * long silence waits at most one nap.  Traffic the thread finds resets the
 * nap and is followed by IDLE_SPINS yields, for the requests that follow. */
#define NAP_IDLE_MAX_NS (NAP_FIRST_NS << 6)  /* 1.28 ms */
#define IDLE_SPINS 2000u
#define NAP_POLLING_MAX_NS (NAP_FIRST_NS << 8)  /* 5.12 ms */
#define NAP_CALLING_MAX_NS (NAP_FIRST_NS << 6)  /* 1.28 ms */

static void *progress_main(void *arg)
{
    (void)arg;
    unsigned idle = 0;
    long nap_ns = NAP_FIRST_NS, idle_nap_ns = NAP_FIRST_NS;
    unsigned long calls_seen = atomic_load(&rofi.calls), polls_seen = atomic_load(&rofi.polls);
    while (!atomic_load(&rofi.progress_stop)) {
        int n = 0;
        unsigned long calls = atomic_load_explicit(&rofi.calls, memory_order_relaxed);
        unsigned long polls = atomic_load_explicit(&rofi.polls, memory_order_relaxed);
        int called = calls != calls_seen, polled = polls != polls_seen;
        int locked = rofi_trylock();
        calls_seen = calls;
        polls_seen = polls;
        if (called || polled || !locked) {
            /* The application is using the fabric (holds the lock, or has
             * called in or polled since we last looked): competing with it
             * for the lock and (2 cores, several PEs) the CPU only adds
             * latency, and so does every wakeup of ours.  Nap, longer each
             * time (see NAP_FIRST_NS).  If it called in without polling,
             * one CQ pass per nap keeps requests to this PE served.  Not
             * while it polls: its own polls serve them, and on shm a pass
             * of ours would take the copy of a queued write from the
             * polling thread on the same core (two context switches for
             * nothing; seen in perf as our thread doing process_vm_readv). */
            if (locked) {
                if (!polled)
                    rofi_progress_locked();
                rofi_unlock();
            }
            long cap = polled ? NAP_POLLING_MAX_NS : NAP_CALLING_MAX_NS;
            nap_ns = nap_ns < cap ? nap_ns : cap;
            struct timespec ts = { 0, nap_ns }; /* < 1 s */
            nanosleep(&ts, NULL);
            if (nap_ns < cap)
                nap_ns *= 2;
            /* The application's own calls served its peers: no spinning
             * after them, and the idle naps go on growing (only traffic the
             * thread finds itself shortens them). */
            idle = IDLE_SPINS;
            continue;
        }
        nap_ns = NAP_FIRST_NS;
        n = rofi_progress_locked();
        rofi_unlock();
        if (n > 0) {
            idle = 0;
            idle_nap_ns = NAP_FIRST_NS;
        } else if (idle < IDLE_SPINS) {
            idle++;
            sched_yield(); /* stay responsive right after traffic */
        } else {
            /* Idle: back off so an oversubscribed node keeps its cores for
             * the application, and an idle PE costs next to nothing. */
            struct timespec ts = { 0, idle_nap_ns };
            nanosleep(&ts, NULL);
            if (idle_nap_ns < NAP_IDLE_MAX_NS)
                idle_nap_ns *= 2;
        }
    }
    return NULL;
}

int rofi_progress_start(void)
{
    atomic_store(&rofi.progress_stop, 0);
    int rc = pthread_create(&rofi.progress_tid, NULL, progress_main, NULL);
    if (rc)
        return rofi_error(ROFI_ENOMEM, "cannot start progress thread (error %d)", rc);
    rofi.progress_thread = 1;
    return 0;
}

void rofi_progress_stop(void)
{
    if (!rofi.progress_thread)
        return;
    atomic_store(&rofi.progress_stop, 1);
    pthread_join(rofi.progress_tid, NULL);
    rofi.progress_thread = 0;
}
