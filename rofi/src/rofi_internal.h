/* rofi_internal.h - state and helpers shared by the ROFI source files. */
#ifndef ROFI_INTERNAL_H
#define ROFI_INTERNAL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <stdint.h>

#include <rdma/fabric.h>
#include <rdma/fi_atomic.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>
#include <rdma/fi_tagged.h>

#include "rofi.h"

#define ROFI_HIDDEN __attribute__((visibility("hidden")))
/* A hot-path helper the compiler must inline: the issue paths of put, get
 * and atomics, and the wait loop with its CQ pass.  Left to itself, gcc
 * kept them as calls, and each call layer costs every blocking op (every
 * poll, for the wait loop) its prologue, spills and epilogue; inlined,
 * ROFI's own time per op roughly halves (tests/t_overhead measures it;
 * figures in docs/design-measurements.md). */
#define ROFI_INLINE static inline __attribute__((always_inline))

/* ---- error.c --------------------------------------------------------- */

/* Record a detailed message for rofi_last_error() and return `code`. */
ROFI_HIDDEN int rofi_error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Same, for a failed libfabric call: appends fi_strerror(-fi_rc). */
ROFI_HIDDEN int rofi_fi_error(const char *call, long fi_rc);
/* The ROFI code for a (positive) libfabric error, from a post or the CQ. */
ROFI_HIDDEN int rofi_fi_code(int fi_err, int is_recv);
/* rofi_fi_error for a call that addresses `pe`: a lost connection is
 * ROFI_EPEER, and rofi_error_pe() names pe. */
ROFI_HIDDEN int rofi_fi_error_pe(const char *call, long fi_rc, int pe);
/* ROFI_EPEER for a completion error of an operation to `pe`. */
ROFI_HIDDEN int rofi_peer_error(int pe, int fi_err);

/* ---- time ------------------------------------------------------------- */

ROFI_HIDDEN double rofi_now(void);            /* monotonic seconds       */
ROFI_HIDDEN double rofi_timeout_s(void);      /* ROFI_TIMEOUT, default 60 */

/* ---- operations (progress.c) ----------------------------------------- */

enum { OP_PENDING = 0, OP_DONE = 1, OP_ORPHANED = 2 };

/* One in-flight libfabric operation.  The fi_context2 must come first:
 * libfabric gives it back as op_context in the completion entry. */
struct rofi_op {
    struct fi_context2 ctx;
    _Atomic int state;     /* OP_*: the waiter and the CQ reader race on it */
    int remaining;         /* fabric completions still expected            */
    int err;               /* first error (ROFI code) of any part          */
    int fi_err;            /* libfabric error from the CQ, for messages    */
    int counted;           /* OP_COUNTED: in rofi.outstanding (quiet)      */
    int is_recv;           /* posted receive: cancel it on timeout         */
    int pe;                /* the PE it addresses, -1 if none              */
    size_t len;            /* received length (receives)                   */
    uint64_t tag;          /* received tag (receives)                      */
    int *src_out;          /* rofi_recv_nb: the source and length, written */
    size_t *len_out;       /* ... where the caller learns of completion    */
    struct fid_mr *lmr;    /* on-the-fly local MR (FI_MR_LOCAL), or NULL   */
    void *result_out;      /* fetching atomics: copy scratch[2] here ...   */
    size_t result_len;     /* ... this many bytes, at completion           */
    uint64_t scratch[6];   /* small internal payloads (control messages,
                              atomic operand/compare/result): owned by the
                              op, so an orphaned op never points at freed
                              memory                                       */
};

/* Copies an atomic operand or result: 4 or 8 bytes.  Two constant-size
 * memcpys are a load and a store each; one of variable size was a libc call
 * (~20 instructions, twice per fetching atomic). */
static inline void rofi_copy_word(void *dst, const void *src, size_t sz)
{
    if (sz == 8)
        memcpy(dst, src, 8);
    else
        memcpy(dst, src, 4);
}

/* How an op counts for rofi_quiet.  A blocking call's op completes before
 * the call returns, so quiet need not count it (two atomic read-modify-writes
 * on a shared counter saved per blocking op), unless it outlives the call: a
 * wait that times out leaves it in flight, and then it counts. */
enum { OP_UNCOUNTED = 0, OP_COUNTED = 1, OP_COUNTED_IF_ORPHANED = 2 };
ROFI_HIDDEN struct rofi_op *rofi_op_new(int counted);
/* An op that is already complete: the handle of a node-local non-blocking
 * op, which finished at issue. */
ROFI_HIDDEN struct rofi_op *rofi_op_done(void);
/* Local descriptor for buf: the allocation's MR if buf lies in one, else,
 * when the provider needs FI_MR_LOCAL, a registration owned by op. */
ROFI_HIDDEN int rofi_op_desc(struct rofi_op *op, const void *buf, size_t len,
                             void **desc);
/* `parts` of op will never complete (their post failed): record err and,
 * if nothing else is in flight, finish op so a waiter returns err. */
ROFI_HIDDEN void rofi_op_fail(struct rofi_op *op, int err, int parts);
/* Wait until DONE or the deadline (a rofi_now() value, or
 * ROFI_DEADLINE_LAZY: ROFI_TIMEOUT from the first look at the clock, which
 * a wait answered within a few hundred polls never takes).  op stays
 * allocated unless the wait timed out: then *orphaned = 1, op must not be
 * touched again (the CQ reader frees it when its completion arrives). */
#define ROFI_DEADLINE_LAZY 0.0
ROFI_HIDDEN int rofi_op_wait_until(struct rofi_op *op, double deadline,
                                   int *orphaned);
/* Wait (ROFI_TIMEOUT) and free; returns the op's status. */
ROFI_HIDDEN int rofi_op_wait(struct rofi_op *op);
/* The end of a call that issued `h` (NULL if none) with status rc: with `out`
 * (non-blocking) the handle goes to the caller, or is waited for and freed
 * if the issue failed; without it (blocking) the op is waited for. */
ROFI_HIDDEN int rofi_op_finish(int rc, struct rofi_op *h, rofi_op_t **out);
/* Decides rofi.yield_when_waiting (collective, through PMI). */
ROFI_HIDDEN int rofi_node_init(void);
/* What a PE publishes about its node (node.c): the kernel's boot id, whether
 * it takes the node-local path, and the CPUs it may run on, as
 * "<boot id>/<0|1>/<hex words, lowest first>". */
#define ROFI_MASK_WORDS 16 /* 1024 CPUs, glibc's CPU_SETSIZE */
struct rofi_node_card {
    char boot_id[64];      /* with ":<PID namespace inode>"                 */
    int local;             /* takes the node-local path (ROFI_LOCAL != 0)  */
    uint64_t cpus[ROFI_MASK_WORDS];
};
ROFI_HIDDEN void rofi_node_encode(const struct rofi_node_card *c, char *out,
                                  size_t cap);
/* 0, or -1 if `s` is not a card as encode writes them. */
ROFI_HIDDEN int rofi_node_decode(const char *s, struct rofi_node_card *c);
/* Drain completions; caller holds rofi.lock.  Returns entries handled. */
ROFI_HIDDEN int rofi_progress_locked(void);
ROFI_HIDDEN int rofi_progress_start(void);
ROFI_HIDDEN void rofi_progress_stop(void);

/* The one policy of every ROFI wait loop, called once after each poll.
 * On an oversubscribed node (more PEs than CPUs: rofi.yield_when_waiting,
 * node.c) yield the CPU once per ROFI_YIELD_EVERY_S of waiting, so that the
 * peer we wait for gets to run within that time; the first ROFI_HOT_POLLS
 * polls and interval of a wait stay hot (a reply is usually that close).
 * Why by time, not every Nth poll: a waiting target answers puts only while
 * it polls, and a yield (a syscall, often a context switch on a VM) makes it
 * deaf meanwhile.
 * Yielding every Nth poll kept a shm target out of its CQ a good part of
 * the time; once per interval costs close to never yielding, and means the
 * same on every provider, whatever a poll costs.  The clock
 * (a vDSO call) is first read after ROFI_HOT_POLLS polls (most waits
 * end sooner), then every ROFI_POLLS_PER_CLOCK; a ROFI_DEADLINE_LAZY deadline
 * starts at the first read.  Returns nonzero once the deadline has passed. */
#define ROFI_YIELD_EVERY_S 10e-6
#define ROFI_HOT_POLLS 64
#define ROFI_POLLS_PER_CLOCK 8
struct rofi_waiting {
    unsigned polls;
    double deadline;   /* absolute, or ROFI_DEADLINE_LAZY           */
    double next_yield; /* 0 until the first clock read              */
};
ROFI_HIDDEN int rofi_wait_expired(struct rofi_waiting *w);

/* Post a libfabric call, retrying on -FI_EAGAIN (queue full) while making
 * progress, under rofi.lock; bounded by ROFI_TIMEOUT.  `rc` gets the final
 * libfabric return value (-FI_ETIMEDOUT if the queue never drained). */
#define ROFI_POST(rc, call)                                                 \
    do {                                                                    \
        struct rofi_waiting rofi_post_w_ = { .deadline = ROFI_DEADLINE_LAZY }; \
        for (;;) {                                                          \
            rofi_lock();                                                    \
            (rc) = (call);                                                  \
            if ((rc) == -FI_EAGAIN)                                         \
                rofi_progress_locked();                                     \
            rofi_unlock();                                                  \
            if ((rc) != -FI_EAGAIN)                                         \
                break;                                                      \
            if (rofi_wait_expired(&rofi_post_w_)) {                         \
                (rc) = -FI_ETIMEDOUT;                                       \
                break;                                                      \
            }                                                               \
        }                                                                   \
    } while (0)

/* ---- teams and collectives (team.c) ---------------------------------- */

struct rofi_team {
    int n;               /* members                                   */
    int *pes;            /* world ids, ascending                      */
    int me;              /* my index in pes                           */
    uint32_t id;         /* 12-bit tag id derived from the member list */
    uint32_t seq;        /* collectives done: same on every member    */
    struct rofi_team *next;
};

ROFI_HIDDEN int rofi_team_get(const int *pes, int npes,
                              struct rofi_team **team);
ROFI_HIDDEN void rofi_team_free_all(void);
ROFI_HIDDEN int rofi_team_barrier(struct rofi_team *t);
/* Every member contributes `len` (<= 32) bytes; out gets n*len bytes in
 * member order. */
ROFI_HIDDEN int rofi_team_allgather(struct rofi_team *t, const void *mine,
                                    size_t len, void *out);

/* ---- messages (msg.c) ---------------------------------------------------
 * Tag layout (60 bits, so providers reserving high bits still work):
 *   59..56 kind | 55..32 source PE | 31..0 user tag, or for collectives
 *   31..20 team id | 19..14 round | 13..0 sequence number.            */
enum { TAG_USER = 1, TAG_BARRIER = 2, TAG_ALLGATHER = 3 };
ROFI_HIDDEN uint64_t rofi_tag_user(int src, uint32_t tag);
ROFI_HIDDEN uint64_t rofi_tag_coll(int kind, int src, uint32_t team,
                                   int round, uint32_t seq);
/* Post a tagged send / receive of an op-owned or user buffer.  On failure
 * the op is finished with the error (rofi_op_wait returns it). */
ROFI_HIDDEN int rofi_post_send(struct rofi_op *op, int pe, const void *buf,
                               size_t len, uint64_t tag);
ROFI_HIDDEN int rofi_post_recv(struct rofi_op *op, int pe, void *buf,
                               size_t len, uint64_t tag, uint64_t ignore);
/* A completed receive's source and length to where rofi_recv_nb said. */
ROFI_HIDDEN void rofi_recv_report(const struct rofi_op *op);

/* ---- allocations (alloc.c) -------------------------------------------- */

struct rofi_alloc {
    char *base;             /* local address                                */
    size_t size;            /* bytes requested (same on every member)       */
    struct fid_mr *mr;
    void *desc;             /* fi_mr_desc, for local use                    */
    struct rofi_team *team;
    uint64_t *rkey;         /* per world PE: MR key (members only)          */
    uint64_t *rbase;        /* per world PE: base virtual address           */
    size_t bytes;           /* mapped length (size rounded up to pages)     */
    int memfd;              /* backing file, open until every peer mapped it */
    char **local;           /* per world PE: its part as mapped here (the
                               node-local path, local.c), or NULL           */
    struct rofi_alloc *next;
};

/* Find the allocation holding [addr, addr+len) usable towards pe; fills
 * the remote address and key, and *local with pe's byte at addr as this
 * process maps it when pe is reached through the node-local path (else
 * NULL).  Returns ROFI_EINVAL (with message) if none. */
ROFI_HIDDEN int rofi_translate(const void *addr, size_t len, int pe,
                               uint64_t *raddr, uint64_t *rkey, char **local);
/* Descriptor of the allocation containing [buf, buf+len), or NULL. */
ROFI_HIDDEN void *rofi_alloc_desc(const void *buf, size_t len);
ROFI_HIDDEN void rofi_alloc_free_all(void);
/* Register buf with the domain honoring the MR mode bits. */
ROFI_HIDDEN int rofi_mr_reg(void *buf, size_t len, uint64_t access,
                            struct fid_mr **mr);

/* ---- the node-local path (local.c) -------------------------------------
 * PEs of one node reach each other's allocations through shared mappings:
 * every allocation is a memfd, mapped by its node-local peers. */
struct rofi_local_card {   /* what a PE tells its team about one allocation */
    int32_t pid, fd;       /* /proc/<pid>/fd/<fd> opens it; fd -1: not shared */
    uint64_t ino;          /* its inode, checked after the open            */
};
/* Decide rofi.local_on / local_atomics (ROFI_LOCAL, the provider). */
ROFI_HIDDEN int rofi_local_init(void);
/* Create the backing memory of a new allocation: a->base, a->bytes, a->memfd. */
ROFI_HIDDEN int rofi_local_create(struct rofi_alloc *a, size_t bytes, struct rofi_local_card *card);
/* Map member pe's part if pe is node-local and shares it (else nothing). */
ROFI_HIDDEN int rofi_local_map(struct rofi_alloc *a, int pe, const struct rofi_local_card *card);
/* Unmap peers' parts, then our own; close the backing file. */
ROFI_HIDDEN void rofi_local_destroy(struct rofi_alloc *a);
/* The node-local form of rofi_atomic: CPU atomics on the mapped word. */
ROFI_HIDDEN void rofi_local_atomic(rofi_atomic_op_t op, rofi_type_t type, void *word,
                                   const void *operand, const void *compare, void *result);

/* ---- atomics (atomic.c) ------------------------------------------------ */
ROFI_HIDDEN void rofi_atomic_probe(void);

/* ---- PMI (pmi.c) -------------------------------------------------------- */
#include "pmi.h"

/* ---- bootstrap (boot.c): the caller's (rofi_set_bootstrap) or PMI-1 ----
 * Keys are per PE; values are bytes.  Return 0 or ROFI_EPMI. */
ROFI_HIDDEN int rofi_boot_init(int *rank, int *size);
ROFI_HIDDEN int rofi_boot_put(const char *key, const void *data, size_t len);
ROFI_HIDDEN int rofi_boot_fence(void);
ROFI_HIDDEN int rofi_boot_get(int pe, const char *key, void *data, size_t cap, size_t *len);
ROFI_HIDDEN int rofi_boot_finalize(void);

/* ---- global state (init.c) --------------------------------------------- */

struct rofi_state {
    int initialized;
    int rank, size;
    char prov_name[128], dom_name[128];

    struct fi_info *info;
    struct fid_fabric *fabric;
    struct fid_domain *domain;
    struct fid_av *av;
    struct fid_cq *cq;
    struct fid_ep *ep;
    fi_addr_t *addrs;         /* world PE -> fabric address                 */

    /* MR mode decided from the returned fi_info (never by name). */
    int mr_virt_addr;         /* remote address = peer VA + offset         */
    int mr_prov_key;          /* provider picks keys: exchange them        */
    int mr_endpoint;          /* MR must be bound to the ep and enabled    */
    int mr_local;             /* local buffers need descriptors            */
    _Atomic uint64_t next_key;/* our key choice when !mr_prov_key          */
    size_t max_msg;           /* largest single RMA transfer               */

    int has_atomic;           /* endpoint opened with FI_ATOMIC            */
    unsigned char atomic_ok[ROFI_NUM_ATOMIC_OPS][ROFI_NUM_TYPES];

    _Atomic int lock;         /* serializes every fi_* call: rofi_lock()   */
    _Atomic int lock_waiters; /* threads spinning in rofi_lock: polls give way */
    _Atomic long outstanding; /* counted ops not yet complete (quiet)      */

    _Atomic unsigned long calls; /* the application's calls into the
                                 fabric (rofi_lock) and ...                */
    _Atomic unsigned long polls; /* ... its polls (wait loops, rofi_poll):
                                 the progress thread rests while either
                                 moves (progress.c)                       */
    int yield_when_waiting;   /* node oversubscribed, or ROFI_YIELD=1 (node.c) */
    unsigned char *via_local; /* per world PE: reached through the node-local
                                 path: same node, both with it on (node.c) */
    int local_on;             /* node-local peers through mappings (local.c) */
    int local_atomics;        /* ... atomics included                      */
    int progress_thread;      /* started?                                  */
    _Atomic int progress_stop;
    pthread_t progress_tid;

    pthread_rwlock_t alloc_lock; /* alloc list: writers alloc/release     */
    struct rofi_alloc *allocs;
    struct rofi_team *world, *teams;
};

extern ROFI_HIDDEN struct rofi_state rofi;

/* rofi.lock serializes every libfabric call (we open the domain with
 * FI_THREAD_DOMAIN) between the application's threads and the progress
 * thread.  It is held for one short libfabric call and never across a
 * wait, so a test-and-set lock does: unlocking is a plain release store,
 * where a pthread mutex unlock is an atomic exchange plus a waiter check.
 * The wait loops take it once per poll, where a mutex's trylock and unlock
 * were a visible share of a polling PE's cycles. */
static inline int rofi_trylock(void)
{
    return !atomic_load_explicit(&rofi.lock, memory_order_relaxed) &&
           !atomic_exchange_explicit(&rofi.lock, 1, memory_order_acquire);
}

/* Every this many application calls, one also reads the CQ: the progress
 * thread naps while the application keeps calling in, and a PE that only
 * posts (non-blocking ops, nothing waited for) must still serve its peers.
 * (The crate's UCX backend does the same: SERVE_EVERY in worker.rs.) */
#define ROFI_SERVE_EVERY 64

/* The application's way in (the progress thread only ever tries): counts
 * the call, under the lock, so a load and a store never lose one. */
static inline void rofi_lock(void)
{
    /* The holder may be descheduled (two threads of ours, one core): yield.
     * Announced, so that threads only polling step aside (poll_once): a test-
     * and-set lock is unfair, and a thread quieting in a tight poll loop kept
     * the posts it waited for from ever getting the lock. */
    if (!rofi_trylock()) {
        atomic_fetch_add_explicit(&rofi.lock_waiters, 1, memory_order_relaxed);
        while (!rofi_trylock())
            sched_yield();
        atomic_fetch_sub_explicit(&rofi.lock_waiters, 1, memory_order_relaxed);
    }
    unsigned long n = atomic_load_explicit(&rofi.calls, memory_order_relaxed) + 1;
    atomic_store_explicit(&rofi.calls, n, memory_order_relaxed);
    if (n % ROFI_SERVE_EVERY == 0)
        rofi_progress_locked();
}

static inline void rofi_unlock(void)
{
    atomic_store_explicit(&rofi.lock, 0, memory_order_release);
}

/* ROFI_ESTATE with a message unless initialized. */
#define ROFI_CHECK_INIT()                                                   \
    do {                                                                    \
        if (!rofi.initialized)                                              \
            return rofi_error(ROFI_ESTATE, "%s: ROFI is not initialized",   \
                              __func__);                                    \
    } while (0)

#endif /* ROFI_INTERNAL_H */
