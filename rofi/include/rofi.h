/*
 * rofi.h - ROFI: one-sided communication over libfabric (OFI).
 *
 * SYNOPSIS
 *   #include <rofi.h>
 *   cc prog.c $(pkg-config --cflags --libs rofi)
 *
 * DESCRIPTION
 *   ROFI gives a set of processing elements (PEs), started by a PMI-1
 *   launcher (hydra `mpiexec -n N`, `lamellar-run -n N`), symmetric memory
 *   that every PE can read, write and update atomically without the target
 *   calling into ROFI.  A program run without a PMI environment is a
 *   singleton job (one PE).
 *
 *   Every call returns 0 (ROFI_SUCCESS) or a negative ROFI_E* code unless
 *   stated otherwise.  A failing call leaves a human-readable explanation
 *   in rofi_last_error() (per thread).  ROFI never prints, calls abort() or
 *   exit().
 *
 * COMPLETION SEMANTICS (the words used below)
 *   local completion   the caller's buffer may be reused (puts, sends) or
 *                      holds the data (gets, fetching atomics).
 *   remote completion  the data (or atomic update) is visible in the
 *                      target's memory to loads by the target and to any
 *                      later operation by any PE.
 *   Puts are issued with FI_DELIVERY_COMPLETE and non-fetching atomics as
 *   fetching atomics into a scratch result, so the completion event of
 *   every put and atomic means remote completion.  rofi_quiet() waits for
 *   every operation this PE issued; after it returns, a target polling its
 *   own memory sees every earlier put (no barrier needed).
 *
 * TIMEOUTS
 *   Every wait that depends on another process ends after ROFI_TIMEOUT
 *   seconds (environment, default 60) with ROFI_ETIMEDOUT.  After a timeout
 *   the job should be considered broken: buffers of the timed-out operation
 *   may still be accessed by the fabric until rofi_finalize().
 *
 * THREADS AND PROGRESS
 *   RMA, atomics, rofi_wait/test/quiet and send/recv may be called from
 *   several threads.  Collective calls (init, finalize, alloc, release,
 *   barrier) must be made by one thread per PE at a time, in the same order
 *   on every member PE.  All libfabric calls on the endpoint are serialized
 *   by one internal mutex; it is never held while waiting or on return.
 *   If the provider does not offer FI_PROGRESS_AUTO for data, ROFI starts a
 *   progress thread that polls the completion queue, so targets need not
 *   call ROFI (ROFI_PROGRESS_THREAD=0/1 forces it off/on).  It spins
 *   briefly after traffic, then sleeps ~20 us between polls.  While the
 *   application keeps calling ROFI it naps instead, each nap twice the last:
 *   up to 1.28 ms with one CQ pass per nap while the application only calls
 *   in (posts), up to 5.12 ms while it also polls (waits, rofi_poll), whose
 *   polls serve the peers.  Every 64th call of the application reads the CQ
 *   itself, so a PE that only posts still serves its peers.  A PE that stops
 *   calling ROFI is served again within about two naps (~10 ms at most).
 *
 * NODE-LOCAL PATH
 *   PEs on one node (one kernel and PID namespace) reach each other's
 *   symmetric memory through shared mappings: put and get to them are
 *   memcpy, their atomics CPU atomics, while PEs on other nodes are reached
 *   through the provider, in the same job.  The provider (ROFI_PROVIDER)
 *   keeps its meaning for those, and carries barriers and messages to all.
 *   Node-local atomics take the CPU path only if the provider's atomics are
 *   applied by the target's CPU (ofi_rxm, ofi_rxd, tcp, udp, sockets, shm):
 *   only then are the two atomic with respect to each other on one word;
 *   with any other provider every atomic goes through it.  Every allocation
 *   is a memfd, which node-local members map at rofi_alloc.  Non-blocking
 *   ops to a node-local PE are complete at issue.  ROFI_LOCAL turns the
 *   path off (0), or keeps it for put and get only (rma).
 *   rofi_local_ptr() says whether a PE is reached this way.
 *
 * ENVIRONMENT
 *   ROFI_LOCAL      1 (default): the node-local path; rma: put and get
 *                   only; 0: every op through the provider
 *   ROFI_PROVIDER   provider(s) when rofi_init() gets NULL
 *   ROFI_DOMAIN     domain(s) when rofi_init() gets NULL
 *   ROFI_TIMEOUT    seconds for every remote-dependent wait (default 60)
 *   ROFI_PROGRESS_THREAD  0/1: disable/force the progress thread
 *   ROFI_YIELD      0/1: never/always yield the CPU in waits (default: only
 *                   when this node runs more PEs than CPUs, see
 *                   rofi_yields_when_waiting)
 *   PMI_FD | PMI_PORT+PMI_ID, PMI_RANK, PMI_SIZE   set by the launcher
 *                   (read only without rofi_set_bootstrap)
 */
#ifndef ROFI_H
#define ROFI_H

#include <stddef.h>
#include <stdint.h>

/* Version of this header and library (checked by rofi-sys when ROFI_DIR is used). */
#define ROFI_VERSION_MAJOR 0
#define ROFI_VERSION_MINOR 2

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ROFI_API __attribute__((visibility("default")))
#else
#define ROFI_API
#endif

/* ---- errors ------------------------------------------------------------ */

enum rofi_error {
    ROFI_SUCCESS = 0,
    ROFI_EINVAL = -1,    /* bad argument: PE, address range, alignment  */
    ROFI_ENOMEM = -2,    /* out of memory                               */
    ROFI_ENOPROV = -3,   /* requested provider/domain not available     */
    ROFI_EFABRIC = -4,   /* a libfabric call failed (see last error)    */
    ROFI_EPMI = -5,      /* bootstrap (PMI) failure or malformed reply  */
    ROFI_ETIMEDOUT = -6, /* a remote-dependent wait hit ROFI_TIMEOUT    */
    ROFI_ENOTSUP = -7,   /* atomic op/type not supported by provider    */
    ROFI_ESIZE = -8,     /* collective alloc with different sizes       */
    ROFI_ESTATE = -9,    /* not initialized / already initialized       */
    ROFI_ETRUNC = -10,   /* received message larger than the buffer     */
    ROFI_EPEER = -11,    /* the target PE is gone: its connection failed */
};

/* Static description of an error code (never NULL). */
ROFI_API const char *rofi_strerror(int err);

/* Detailed message of the last failing ROFI call in this thread ("" if
 * none), e.g. the list of available providers after ROFI_ENOPROV. */
ROFI_API const char *rofi_last_error(void);
/* The PE the last ROFI_EPEER on this thread was about (-1: none known). */
ROFI_API int rofi_error_pe(void);

/* ---- setup ------------------------------------------------------------- */

/*
 * rofi_init - join the job and open the fabric.   COLLECTIVE (all PEs)
 *
 * provider: exact libfabric provider name as fi_info prints it, e.g.
 *   "shm" or "tcp;ofi_rxm", or a comma-separated preference list tried in
 *   order ("shm,tcp;ofi_rxm"); each entry must match exactly.  NULL uses
 *   $ROFI_PROVIDER; if that is unset too, libfabric's first RDM provider
 *   offering FI_RMA is used (rofi_provider_name() says which).
 * domain: exact domain name (e.g. "lo", "eth0"), comma-separated list, or
 *   NULL for $ROFI_DOMAIN, else the provider's first domain.
 * No silent fallback: if nothing matches, returns ROFI_ENOPROV and
 * rofi_last_error() lists the providers that are available.  Atomics are
 * requested (FI_ATOMIC) but optional; see rofi_atomic_supported().
 * Required capabilities: FI_EP_RDM with FI_RMA, and FI_TAGGED (barrier,
 * allgather and send/recv are tagged messages).
 * The memory-registration mode (virtual addresses or offsets, provider
 * keys, endpoint-bound MRs, local registration) is taken from the
 * returned fi_info.  A failed rofi_init may be retried; one successful
 * init/finalize cycle per process.
 */
ROFI_API int rofi_init(const char *provider, const char *domain);
/* rofi_set_timeout - bound every remote-dependent wait by `seconds` (> 0),
 * overriding $ROFI_TIMEOUT.  Call before rofi_init; ROFI_EINVAL otherwise. */
ROFI_API int rofi_set_timeout(double seconds);

/* rofi_set_bootstrap - join the job through the caller's launcher
 * connection instead of ROFI's own PMI-1 client.  Call before rofi_init;
 * ROFI_ESTATE otherwise.  NULL goes back to the built-in client.
 *
 * A program that already talks to its launcher (any protocol: PMI-1, PMIx)
 * hands that conversation in, so one process holds one connection and ROFI
 * runs under every launcher its caller can serve.  ROFI then reads no PMI_*
 * variable, and rofi_finalize leaves the launcher to the caller.
 * Keys are per PE: put publishes this PE's value under `key`; get reads the
 * value PE `pe` published before the last fence; fence is collective (every
 * PE arrives; earlier puts become visible).  Callbacks return 0 or a
 * negative value (ROFI reports ROFI_EPMI) and must not unwind or longjmp.
 * The struct is copied; ctx must stay valid until rofi_finalize returns.
 * ROFI_EINVAL for a missing callback or rank/size out of range. */
struct rofi_bootstrap {
    void *ctx;
    int rank;
    int size;
    int (*put)(void *ctx, const char *key, const void *data, size_t len);
    int (*fence)(void *ctx);
    int (*get)(void *ctx, int pe, const char *key, void *data, size_t cap, size_t *len);
};
ROFI_API int rofi_set_bootstrap(const struct rofi_bootstrap *boot);

/* rofi_finalize - quiet, barrier, release everything, tell the launcher
 * (PMI finalize; not with rofi_set_bootstrap).  COLLECTIVE.  Should be called before the process exits;
 * if it is not, atexit handlers still close the fabric objects (so shm
 * removes its /dev/shm files) and send PMI finalize (so hydra does not
 * kill the other PEs). */
ROFI_API int rofi_finalize(void);

/* Number of PEs / this PE's id (0-based); negative ROFI_ESTATE before init. */
ROFI_API int rofi_get_size(void);
ROFI_API int rofi_get_id(void);

/* Provider and domain in use ("" before init). */
ROFI_API const char *rofi_provider_name(void);
ROFI_API const char *rofi_domain_name(void);

/* ---- symmetric memory ---------------------------------------------------- */

/*
 * rofi_alloc - allocate `size` zeroed bytes on every PE.   COLLECTIVE
 *
 * Every PE must pass the same size; if not, every PE returns ROFI_ESIZE
 * and nothing is allocated.  The memory is registered as one memory region
 * (MR).  *addr receives this PE's local address; the same allocation on
 * other PEs is named by this local address in RMA calls.
 */
ROFI_API int rofi_alloc(size_t size, void **addr);

/*
 * rofi_alloc_pes - like rofi_alloc, over the team `pes` (npes world ids,
 * strictly ascending, containing the caller).   COLLECTIVE over the members
 * only.  RMA to a PE outside the team returns ROFI_EINVAL.
 */
ROFI_API int rofi_alloc_pes(size_t size, const int *pes, int npes, void **addr);

/* rofi_release - barrier over the allocation's team, then deregister and
 * free.  COLLECTIVE over the allocation's team.  addr is the base address.
 * No other thread of the caller may access the allocation meanwhile (as
 * with free()); accesses to other allocations may go on. */
ROFI_API int rofi_release(void *addr);

/* Address of the object at local address `local` (inside an allocation) in
 * PE `pe`'s memory, or NULL if `local` is not symmetric or pe is not a
 * member.  rofi_get_local_addr is the inverse. */
ROFI_API void *rofi_get_remote_addr(const void *local, int pe);
ROFI_API void *rofi_get_local_addr(const void *remote, int pe);

/* rofi_local_ptr - where this process maps the object at symmetric `sym`
 * in PE `pe`'s part, when ROFI reaches pe through the node-local path (see
 * NODE-LOCAL PATH above); NULL for a PE reached through the fabric, a
 * non-member, or an address outside every allocation.  Loads and stores
 * through it are ordinary memory accesses to pe's memory: what rofi_put
 * and rofi_get to pe do.  Valid until rofi_release of the allocation. */
ROFI_API void *rofi_local_ptr(const void *sym, int pe);
/* rofi_is_local - 1 if ROFI reaches PE `pe` through the node-local path
 * (same node, ROFI_LOCAL not 0 on either side), 0 if through the provider;
 * ROFI_EINVAL for a bad PE, ROFI_ESTATE before rofi_init. */
ROFI_API int rofi_is_local(int pe);
/* rofi_local_atomics - 1 if atomics to node-local PEs are CPU atomics on
 * the mapping (rofi_local_ptr), 0 if they go through the provider (see
 * NODE-LOCAL PATH); ROFI_ESTATE before rofi_init. */
ROFI_API int rofi_local_atomics(void);

/* ---- RMA ------------------------------------------------------------------ */

/* Handle of a non-blocking operation, released by rofi_wait() or by a
 * rofi_test() that reports completion.  Its buffers must stay untouched
 * (puts: source unmodified; gets: destination unread) until then. */
typedef struct rofi_op rofi_op_t;

/*
 * rofi_put - copy `size` bytes from local `src` to symmetric `dst` on `pe`.
 *   Returns at local completion: src may be reused.  Remote completion is
 *   guaranteed after rofi_quiet() or rofi_barrier() (this implementation
 *   happens to wait for delivery, but callers must not rely on it).
 *   dst: local address inside an allocation, [dst, dst+size) in bounds.
 * rofi_put_nb - issue the same put and return at once with *op; the put
 *   is complete (locally and remotely) when rofi_wait(*op) returns 0 or
 *   rofi_test(*op) returns 1, and after rofi_quiet().
 */
ROFI_API int rofi_put(void *dst, const void *src, size_t size, int pe);
ROFI_API int rofi_put_nb(void *dst, const void *src, size_t size, int pe,
                         rofi_op_t **op);

/*
 * rofi_get - copy `size` bytes from symmetric `src` on `pe` to local `dst`.
 *   Returns with the data in dst.
 * rofi_get_nb - issue and return with *op; dst holds the data when
 *   rofi_wait/rofi_test report completion (or after rofi_quiet()).
 */
ROFI_API int rofi_get(void *dst, const void *src, size_t size, int pe);
ROFI_API int rofi_get_nb(void *dst, const void *src, size_t size, int pe,
                         rofi_op_t **op);

/* rofi_wait - block until op completes (or ROFI_TIMEOUT), release it and
 *   return the operation's status.  The handle is invalid afterwards.
 * rofi_test - 1 if the op completed successfully (handle released), 0 if
 *   still pending (handle stays valid), a negative error if it failed
 *   (handle released).  Makes progress; never blocks. */
ROFI_API int rofi_wait(rofi_op_t *op);
ROFI_API int rofi_test(rofi_op_t *op);

/* rofi_quiet - block until every operation this PE issued (blocking or
 * not, handles still held or not) is remotely complete.  Handles stay
 * valid and must still be released with rofi_wait/rofi_test. */
ROFI_API int rofi_quiet(void);

/* rofi_yields_when_waiting - 1 if ROFI's waits give the CPU away (every
 *   10 us of waiting), 0 if they spin; ROFI_ESTATE before rofi_init.  They
 *   yield when this node is oversubscribed: its PEs (those on the same
 *   kernel) outnumber the CPUs in the union of their affinity masks, as
 *   rofi_init found.  A yield lets a PE sharing the core run; without
 *   oversubscription it only makes a waiting target deaf meanwhile.
 *   ROFI_YIELD=0/1 overrides the decision. */
ROFI_API int rofi_yields_when_waiting(void);

/* rofi_poll - make progress once and return; never blocks.  For a caller
 *   that waits in its own loop, e.g. polling its memory for a flag a peer
 *   puts: with a software provider (tcp;ofi_rxm) a peer's put lands only
 *   while this PE reads its completion queue, and polling here serves it
 *   at once instead of at the progress thread's next turn (which rests
 *   while the application keeps polling).  Returns 0, or ROFI_ESTATE
 *   before rofi_init. */
ROFI_API int rofi_poll(void);

/* ---- atomics ---------------------------------------------------------- */

typedef enum rofi_type {
    ROFI_INT32, ROFI_UINT32, ROFI_INT64, ROFI_UINT64,
    ROFI_NUM_TYPES
} rofi_type_t;

typedef enum rofi_atomic_op {
    ROFI_ATOMIC_FETCH,     /* result = *dst                     (read)  */
    ROFI_ATOMIC_SET,       /* *dst = operand                    (write) */
    ROFI_ATOMIC_SWAP,      /* result = *dst; *dst = operand             */
    ROFI_ATOMIC_CSWAP,     /* result = *dst; if == compare: *dst = operand */
    ROFI_ATOMIC_FETCH_ADD, /* result = *dst; *dst += operand            */
    ROFI_ATOMIC_ADD,       /* *dst += operand                           */
    ROFI_ATOMIC_FETCH_AND, /* result = *dst; *dst &= operand            */
    ROFI_ATOMIC_FETCH_OR,
    ROFI_ATOMIC_FETCH_XOR,
    ROFI_ATOMIC_AND,       /* *dst &= operand                           */
    ROFI_ATOMIC_OR,
    ROFI_ATOMIC_XOR,
    ROFI_NUM_ATOMIC_OPS
} rofi_atomic_op_t;

/* 1 if the provider implements (op, type) natively, 0 if not (the ops then
 * return ROFI_ENOTSUP), negative on bad arguments / not initialized.
 * Decided at init with fi_atomicvalid / fi_fetch_atomicvalid /
 * fi_compare_atomicvalid on an endpoint opened with FI_ATOMIC. */
ROFI_API int rofi_atomic_supported(rofi_atomic_op_t op, rofi_type_t type);

/*
 * rofi_atomic - perform `op` on the `type`-sized word at symmetric `dst`
 *   on `pe` (dst naturally aligned), atomically with respect to every other
 *   ROFI atomic on that word.
 *   operand: value for SET/SWAP/CSWAP/ADD/AND/OR/XOR (ignored by FETCH).
 *   compare: value for CSWAP, else ignored (may be NULL).
 *   result:  old value for FETCH, SWAP, CSWAP and FETCH_* (else may be NULL).
 *   Blocking: returns with result filled in; non-fetching ops return at
 *   remote completion (FI_DELIVERY_COMPLETE).
 * rofi_atomic_nb - issue and return with *op; result is written when the
 *   op completes (rofi_wait/rofi_test/rofi_quiet); operand/compare are
 *   copied before return.
 */
ROFI_API int rofi_atomic(rofi_atomic_op_t op, rofi_type_t type, void *dst,
                         const void *operand, const void *compare,
                         void *result, int pe);
ROFI_API int rofi_atomic_nb(rofi_atomic_op_t op, rofi_type_t type, void *dst,
                            const void *operand, const void *compare,
                            void *result, int pe, rofi_op_t **handle);

/* ---- synchronization and messages ------------------------------------- */

/* TRUSTED ENTRIES, for a caller that checks each request itself against
 * bounds it keeps (a language binding): the calls above check the PE, the
 * buffers and the range on every call and look the allocation up; these do
 * not.
 * rofi_target - resolves, once, where PE `pe`'s part of the allocation whose
 *   local base is `base` lives (checked: ROFI_EINVAL if `base` is not an
 *   allocation's base or `pe` not a member of its team).  `t` stays valid
 *   until the allocation is released.
 * rofi_put_at / rofi_get_at / rofi_atomic_at - rofi_put(_nb), rofi_get(_nb)
 *   and rofi_atomic(_nb) at byte `off` of a resolved target: blocking when
 *   `op` is NULL, else non-blocking with the handle in *op.  The caller
 *   promises ROFI is initialized, `t` came from rofi_target for a live
 *   allocation, off + size <= t->size (the type's size for atomics), the
 *   buffers are valid, and an atomic's word is aligned to its type;
 *   otherwise the behaviour is undefined.  An (op, type) the provider lacks
 *   is still ROFI_ENOTSUP; fabric errors are reported as by the checked
 *   calls. */
typedef struct rofi_target {
    uint64_t raddr; /* the part's start as the fabric addresses it */
    uint64_t key;   /* its remote key */
    char *local;    /* the part mapped here (node-local path), or NULL */
    size_t size;    /* the allocation's length */
    int pe;
} rofi_target_t;

ROFI_API int rofi_target(const void *base, int pe, rofi_target_t *t);
ROFI_API int rofi_put_at(const rofi_target_t *t, size_t off, const void *src, size_t size,
                         rofi_op_t **op);
ROFI_API int rofi_get_at(const rofi_target_t *t, size_t off, void *dst, size_t size,
                         rofi_op_t **op);
ROFI_API int rofi_atomic_at(rofi_atomic_op_t op, rofi_type_t type, const rofi_target_t *t,
                            size_t off, const void *operand, const void *compare, void *result,
                            rofi_op_t **handle);

/* rofi_barrier - rofi_quiet(), then wait until every PE has entered.
 *   COLLECTIVE.  Dissemination algorithm: ceil(log2 P) rounds of tagged
 *   messages over the fabric.
 * rofi_barrier_pes - the same over the team `pes` (world ids, strictly
 *   ascending, containing the caller).  COLLECTIVE over the members. */
ROFI_API int rofi_barrier(void);
ROFI_API int rofi_barrier_pes(const int *pes, int npes);

/* rofi_send - send `size` bytes to `pe` with user tag `tag`; returns at
 *   local completion (buf reusable).  Large messages use the provider's
 *   rendezvous protocol: then rofi_send returns only once `pe` has posted
 *   the matching rofi_recv.  Messages between a pair of PEs with the same
 *   tag are received in order.
 * rofi_recv - receive a message from `pe` with tag `tag` into buf
 *   (capacity size); returns when it arrived.  *received (if not NULL) gets
 *   its length.  A longer message gives ROFI_ETRUNC. */
ROFI_API int rofi_send(int pe, const void *buf, size_t size, uint32_t tag);
ROFI_API int rofi_recv(int pe, void *buf, size_t size, uint32_t tag,
                       size_t *received);

/* rofi_send_nb - rofi_send without waiting: the handle completes
 *   (rofi_wait / rofi_test) when buf may be reused; a large message's handle
 *   completes once `pe` has posted the matching receive.
 * rofi_recv_nb - posts a receive of a message with user tag `tag` from `pe`,
 *   or from any PE when `pe` is ROFI_ANY_PE, into buf (capacity size).  The
 *   handle completes when a message arrived; rofi_wait returning 0 or
 *   rofi_test returning 1 has then written its source to *src and its
 *   length to *received (each if not NULL).  A longer message completes the
 *   handle with ROFI_ETRUNC.  Receives match messages in the order they were
 *   posted.  ROFI_ANY_PE is ROFI_ENOTSUP on the shm provider, which loses
 *   messages under receives from any PE.
 * rofi_cancel - withdraws a receive posted by rofi_recv_nb and releases its
 *   handle: 0 if it was withdrawn (buf is no longer written), 1 if a
 *   message had completed it first (*src and *received written), or an
 *   error. */
#define ROFI_ANY_PE (-1)
ROFI_API int rofi_send_nb(int pe, const void *buf, size_t size, uint32_t tag,
                          rofi_op_t **op);
ROFI_API int rofi_recv_nb(int pe, void *buf, size_t size, uint32_t tag, int *src,
                          size_t *received, rofi_op_t **op);
ROFI_API int rofi_cancel(rofi_op_t *op);

#ifdef __cplusplus
}
#endif

#endif /* ROFI_H */
