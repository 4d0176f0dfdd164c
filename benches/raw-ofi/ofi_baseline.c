/*
 * ofi_baseline.c - what libfabric itself delivers, for comparison with
 * ROFI and the lamellar-transport backends.
 *
 * Same provider selection as ROFI (ROFI_PROVIDER / ROFI_DOMAIN, exact names
 * or comma-separated preference lists, the same capabilities asked of
 * fi_getinfo: see fabric_select.c) and the same completion levels (puts with
 * FI_DELIVERY_COMPLETE, gets and fetch_add complete when the data is
 * local), but no ROFI layer: one fi_writemsg / fi_readmsg /
 * fi_fetch_atomicmsg and a CQ poll.  PE 1 is the target and only spins on
 * its CQ (ideal target progress); PE 0 measures.  PEs >= 2 just wait.
 *
 * It shares no code with ROFI, the library it is the baseline for: its
 * provider selection is fabric_select.c, its bootstrap its own PMI-1 client
 * (pmi1.c), its clock clock_gettime.
 *
 * Ops (definitions match the harness):
 *   put       8 B fi_write + wait for its (delivery) completion
 *   get       8 B fi_read + wait
 *   put_nb    64 KiB and 1 MiB: a window of W writes, then wait for all;
 *             per-op time = window time / W
 *   fetch_add 8 B FI_SUM on a uint64, fetched, + wait
 * Statistic (also lamellar-bench's, so ratios compare like with like):
 * the op is timed in 100 batches; a sample is a batch's time per op; the
 * median and p99 are over those samples.  Batching keeps timer overhead
 * out of sub-microsecond ops, and the median then includes the occasional
 * slow op the way a runtime issuing many ops sees it.
 * Output: one JSON object per line on stdout (PE 0).
 *
 * Build (from the workspace root):
 *   cd benches/raw-ofi &&
 *   cc -O2 -std=gnu11 ofi_baseline.c fabric_select.c pmi1.c -o ofi_baseline \
 *      -lfabric -lpthread
 * Run:
 *   ROFI_PROVIDER=shm lamellar-run -n 2 ./ofi_baseline   (or mpiexec -n 2)
 *   env OFI_BASELINE_ITERS=N scales the latency loops (default 20000);
 *   OFI_BASELINE_WINDOW=W sets the put_nb window (default 64, as lamellar-bench);
 *   OFI_BASELINE_OPS=latency (put, get, fetch_add) or bandwidth (put_nb) runs
 *   one group only (default both): on tcp;ofi_rxm what a connection carried
 *   before changes the 64 KiB rate several-fold, so a comparison gives both
 *   sides the same job structure.
 *   OFI_BASELINE_IDLE_THREAD=1 starts one thread that only sleeps: glibc then
 *   takes its multi-threaded paths (cancellable syscalls, malloc locking), as
 *   in every program with a second thread - ROFI's progress thread, or a
 *   runtime's workers - so that cost can be told apart from the library's.
 *   "threads" in the output says which ran.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <rdma/fabric.h>
#include <rdma/fi_atomic.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>

#include "fabric_select.h"
#include "pmi1.h"

/* Waits on others end in an error after these bounds rather than hang the
 * job: a completion, and another PE (PMI replies, PE 1's wait for PE 0's
 * end), which may have a whole measurement run to do in between. */
#define COMPLETION_WAIT_S 60.0
#define PE_WAIT_S 600.0

#define BUF_SIZE (1u << 20)
#define FLAG_OFF BUF_SIZE          /* done flag, written by PE 0 into PE 1 */
#define ATOM_OFF (BUF_SIZE + 64)   /* fetch_add target word */
#define REGION (BUF_SIZE + 4096)

static struct {
    struct fi_info *info;
    struct fid_fabric *fabric;
    struct fid_domain *domain;
    struct fid_av *av;
    struct fid_cq *cq;
    struct fid_ep *ep;
    struct fid_mr *mr;
    void *desc;
    char *buf;                 /* registered region (source and target) */
    fi_addr_t peer;
    uint64_t raddr, rkey;      /* PE 1's region: address (or 0) and key */
    int rank, size;
} g;

/* A provider that asks for FI_CONTEXT owns an op's context until its completion:
 * each op in flight gets its own, from a ring as large as the largest window. */
#define MAX_WINDOW 1024
static struct fi_context2 ctxs[MAX_WINDOW];
static unsigned ctx_next;
static void *op_ctx(void) { return &ctxs[ctx_next++ % MAX_WINDOW]; }
static int threads = 1;         /* 2 with OFI_BASELINE_IDLE_THREAD */

static void *idle_thread(void *arg)
{
    (void)arg;
    for (;;)
        pause(); /* ends with the process */
    return NULL;
}

static void cleanup(void)
{
    /* Always close: shm leaves /dev/shm files behind otherwise. */
    if (g.mr) fi_close(&g.mr->fid);
    if (g.ep) fi_close(&g.ep->fid);
    if (g.cq) fi_close(&g.cq->fid);
    if (g.av) fi_close(&g.av->fid);
    if (g.domain) fi_close(&g.domain->fid);
    if (g.fabric) fi_close(&g.fabric->fid);
    g.mr = NULL, g.ep = NULL, g.cq = NULL, g.av = NULL, g.domain = NULL, g.fabric = NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die_because(const char *what, const char *why)
{
    fprintf(stderr, "ofi_baseline[pe %d]: %s: %s\n", g.rank, what, why);
    cleanup();
    exit(1);
}

/* A failed libfabric call: rc is its (negative) return value. */
static void die(const char *what, long rc)
{
    char why[160];
    snprintf(why, sizeof why, "%ld (%s)", rc, rc < 0 ? fi_strerror((int)-rc) : "?");
    die_because(what, why);
}

static void setup(void)
{
    const char *prov = getenv("ROFI_PROVIDER"), *dom = getenv("ROFI_DOMAIN");
    long rc;
    if (pmi1_init(&g.rank, &g.size, PE_WAIT_S))
        die_because("bootstrap", pmi1_error());
    if (g.size < 2)
        die_because("bootstrap", "need at least 2 PEs (run under lamellar-run -n 2 or mpiexec -n 2)");
    if (!(g.info = fabric_select(prov && *prov ? prov : NULL, dom && *dom ? dom : NULL)))
        die_because("provider", "no libfabric provider matches ROFI_PROVIDER/ROFI_DOMAIN "
                                "exactly (RDM endpoint with FI_RMA and FI_TAGGED)");

    struct fi_av_attr av_attr = { .type = FI_AV_UNSPEC, .count = (size_t)g.size };
    struct fi_cq_attr cq_attr = { .format = FI_CQ_FORMAT_CONTEXT, .wait_obj = FI_WAIT_NONE,
                                  .size = g.info->tx_attr->size + g.info->rx_attr->size };
    if ((rc = fi_fabric(g.info->fabric_attr, &g.fabric, NULL))) die("fi_fabric", rc);
    if ((rc = fi_domain(g.fabric, g.info, &g.domain, NULL))) die("fi_domain", rc);
    if ((rc = fi_av_open(g.domain, &av_attr, &g.av, NULL))) die("fi_av_open", rc);
    if ((rc = fi_cq_open(g.domain, &cq_attr, &g.cq, NULL))) die("fi_cq_open", rc);
    if ((rc = fi_endpoint(g.domain, g.info, &g.ep, NULL))) die("fi_endpoint", rc);
    if ((rc = fi_ep_bind(g.ep, &g.av->fid, 0))) die("fi_ep_bind(av)", rc);
    if ((rc = fi_ep_bind(g.ep, &g.cq->fid, FI_TRANSMIT | FI_RECV))) die("fi_ep_bind(cq)", rc);
    if ((rc = fi_enable(g.ep))) die("fi_enable", rc);

    /* One registered region, the source and the target of every op, so that
     * FI_MR_LOCAL needs no other registration; the mr_mode bits the provider
     * chose are honored here and in the address sent to the peer. */
    uint64_t mode = (uint64_t)g.info->domain_attr->mr_mode;
    if (posix_memalign((void **)&g.buf, 4096, REGION)) die("posix_memalign", -FI_ENOMEM);
    memset(g.buf, 0, REGION);
    if ((rc = fi_mr_reg(g.domain, g.buf, REGION, FI_READ | FI_WRITE | FI_REMOTE_READ |
                        FI_REMOTE_WRITE, 0, 1, 0, &g.mr, NULL)))
        die("fi_mr_reg", rc);
    if (mode & FI_MR_ENDPOINT) {
        if ((rc = fi_mr_bind(g.mr, &g.ep->fid, 0))) die("fi_mr_bind", rc);
        if ((rc = fi_mr_enable(g.mr))) die("fi_mr_enable", rc);
    }
    g.desc = fi_mr_desc(g.mr);

    /* Exchange endpoint names and the region (address, key). */
    char name[512], key[64];
    size_t len = sizeof name;
    uint64_t mine[2] = { (uint64_t)(uintptr_t)g.buf, fi_mr_key(g.mr) }, theirs[2];
    if ((rc = fi_getname(&g.ep->fid, name, &len))) die("fi_getname", rc);
    snprintf(key, sizeof key, "ofib-ep%d", g.rank);
    if (pmi1_put(key, name, len)) die_because("PMI put", pmi1_error());
    snprintf(key, sizeof key, "ofib-mr%d", g.rank);
    if (pmi1_put(key, mine, sizeof mine)) die_because("PMI put", pmi1_error());
    if (pmi1_barrier()) die_because("PMI barrier", pmi1_error());
    int peer = g.rank == 0 ? 1 : 0;
    snprintf(key, sizeof key, "ofib-ep%d", peer);
    if (pmi1_get(key, name, sizeof name, &len)) die_because("PMI get", pmi1_error());
    if ((rc = fi_av_insert(g.av, name, 1, &g.peer, 0, NULL)) != 1) die("fi_av_insert", rc);
    snprintf(key, sizeof key, "ofib-mr%d", peer);
    if (pmi1_get(key, theirs, sizeof theirs, &len) || len != sizeof theirs)
        die_because("PMI get", len != sizeof theirs ? "peer's region: wrong size" : pmi1_error());
    g.raddr = (mode & FI_MR_VIRT_ADDR) ? theirs[0] : 0;
    g.rkey = theirs[1];
}

/* Wait for n completions. */
static void wait_cq(long n)
{
    struct fi_cq_entry e[16];
    double deadline = now_s() + COMPLETION_WAIT_S;
    unsigned spins = 0;
    while (n > 0) {
        ssize_t r = fi_cq_read(g.cq, e, n < 16 ? (size_t)n : 16);
        if (r > 0) {
            n -= r;
        } else if (r == -FI_EAVAIL) {
            struct fi_cq_err_entry err = { 0 };
            fi_cq_readerr(g.cq, &err, 0);
            die("completion", -(long)(err.err < 0 ? -err.err : err.err));
        } else if (r != -FI_EAGAIN) {
            die("fi_cq_read", r);
        } else if (++spins % 4096 == 0 && now_s() > deadline) {
            die("wait for completion", -FI_ETIMEDOUT);
        }
    }
}

static long outstanding_; /* posted, completion not yet read */

/* Post, reaping completions while the provider's queue is full. */
#define POST(call)                                                   \
    do {                                                             \
        ssize_t r_;                                                  \
        while ((r_ = (call)) == -FI_EAGAIN) {                        \
            struct fi_cq_entry e_; /* also drives progress */        \
            ssize_t c_ = fi_cq_read(g.cq, &e_, 1);                   \
            if (c_ > 0)                                              \
                outstanding_--;                                      \
            else if (c_ == -FI_EAVAIL)                               \
                wait_cq(1); /* reads the error and dies */           \
        }                                                            \
        if (r_) die(#call, r_);                                      \
        outstanding_++;                                              \
    } while (0)

static void put(size_t off, size_t bytes)
{
    struct iovec iov = { g.buf + off, bytes };
    struct fi_rma_iov riov = { g.raddr + off, bytes, g.rkey };
    struct fi_msg_rma msg = { .msg_iov = &iov, .desc = &g.desc, .iov_count = 1,
                              .addr = g.peer, .rma_iov = &riov, .rma_iov_count = 1,
                              .context = op_ctx() };
    POST(fi_writemsg(g.ep, &msg, FI_COMPLETION | FI_DELIVERY_COMPLETE));
}

static void get(size_t off, size_t bytes)
{
    struct iovec iov = { g.buf + off, bytes };
    struct fi_rma_iov riov = { g.raddr + off, bytes, g.rkey };
    struct fi_msg_rma msg = { .msg_iov = &iov, .desc = &g.desc, .iov_count = 1,
                              .addr = g.peer, .rma_iov = &riov, .rma_iov_count = 1,
                              .context = op_ctx() };
    POST(fi_readmsg(g.ep, &msg, FI_COMPLETION));
}

static void fetch_add(void)
{
    uint64_t *operand = (uint64_t *)(g.buf + ATOM_OFF + 8);
    *operand = 1;
    struct fi_ioc ioc = { operand, 1 }, res = { g.buf + ATOM_OFF + 16, 1 };
    struct fi_rma_ioc rioc = { g.raddr + ATOM_OFF, 1, g.rkey };
    struct fi_msg_atomic msg = { .msg_iov = &ioc, .desc = &g.desc, .iov_count = 1,
                                 .addr = g.peer, .rma_iov = &rioc, .rma_iov_count = 1,
                                 .datatype = FI_UINT64, .op = FI_SUM, .context = op_ctx() };
    POST(fi_fetch_atomicmsg(g.ep, &msg, &res, &g.desc, 1, FI_COMPLETION));
}

static void drain(void)
{
    wait_cq(outstanding_);
    outstanding_ = 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* samples[i] = ns per op; ops_per_sample ops of `bytes` each. */
static void report(const char *op, size_t bytes, uint64_t *s, long n, long per_sample)
{
    qsort(s, (size_t)n, sizeof *s, cmp_u64);
    double med = (double)s[n / 2], p99 = (double)s[(long)(n * 0.99) < n ? (long)(n * 0.99) : n - 1];
    printf("{\"backend\":\"raw-ofi\",\"provider\":\"%s\",\"op\":\"%s\",\"bytes\":%zu,"
           "\"pes\":2,\"iters\":%ld,\"median_ns\":%.1f,\"p99_ns\":%.1f,"
           "\"mb_per_s\":%.2f,\"mops\":%.4f,\"threads\":%d}\n",
           g.info->fabric_attr->prov_name, op, bytes, n * per_sample, med, p99,
           med > 0 ? (double)bytes * 1e3 / med : 0.0, med > 0 ? 1e3 / med : 0.0, threads);
    fflush(stdout);
}

/* Batches as lamellar-bench's stats::plan: up to 100 samples of n/100 ops. */
static void batches(long n, long *samples, long *batch)
{
    *samples = n < 1 ? 1 : n > 100 ? 100 : n;
    *batch = n / *samples > 0 ? n / *samples : 1;
}

static void latency(const char *op, size_t bytes, long iters, void (*issue)(void))
{
    long samples, batch;
    batches(iters, &samples, &batch);
    uint64_t *s = malloc((size_t)samples * sizeof *s);
    for (long i = 0; i < iters / 10 + 100; i++) { /* warm-up, not measured */
        issue();
        drain();
    }
    for (long i = 0; i < samples; i++) {
        uint64_t t0 = now_ns();
        for (long j = 0; j < batch; j++) {
            issue();
            drain();
        }
        s[i] = (now_ns() - t0) / (uint64_t)batch;
    }
    report(op, bytes, s, samples, batch);
    free(s);
}

static size_t lat_bytes = 8;
static void put8(void) { put(0, lat_bytes); }
static void get8(void) { get(0, lat_bytes); }

static void bandwidth(size_t bytes, int window, long windows)
{
    uint64_t *s = malloc((size_t)windows * sizeof *s);
    for (long w = -windows / 10 - 2; w < windows; w++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < window; i++)
            put(0, bytes);
        drain();
        if (w >= 0)
            s[w] = (now_ns() - t0) / (uint64_t)window;
    }
    report("put_nb", bytes, s, windows, window);
    free(s);
}

int main(void)
{
    /* Checked before any PE starts talking: a typo fails at once, alone. */
    const char *group = getenv("OFI_BASELINE_OPS");
    if (group && strcmp(group, "latency") && strcmp(group, "bandwidth")) {
        fprintf(stderr, "ofi_baseline: OFI_BASELINE_OPS=%s: want latency or bandwidth "
                        "(unset: both)\n", group);
        return 2;
    }
    int lat = !group || !strcmp(group, "latency"), bw = !group || !strcmp(group, "bandwidth");
    const char *idle = getenv("OFI_BASELINE_IDLE_THREAD");
    if (idle && *idle && strcmp(idle, "0")) {
        pthread_t t;
        int rc = pthread_create(&t, NULL, idle_thread, NULL);
        if (rc)
            die("pthread_create", -rc);
        pthread_detach(t);
        threads = 2;
    }
    setup();
    long iters = getenv("OFI_BASELINE_ITERS") ? atol(getenv("OFI_BASELINE_ITERS")) : 20000;
    if (iters < 10)
        iters = 10;
    volatile uint64_t *done = (uint64_t *)(g.buf + FLAG_OFF);

    if (g.rank == 0) {
        if (lat) {
            latency("put", 8, iters, put8);
            latency("get", 8, iters, get8);
        }
        int window = getenv("OFI_BASELINE_WINDOW") ? atoi(getenv("OFI_BASELINE_WINDOW")) : 64;
        if (window < 1)
            window = 64;
        if (window > MAX_WINDOW)
            window = MAX_WINDOW;
        if (bw) {
            bandwidth(64 * 1024, window, 100);
            bandwidth(1 << 20, window, 100);
        }
        size_t count = 0;
        if (lat && g.info->caps & FI_ATOMIC &&
            fi_fetch_atomicvalid(g.ep, FI_UINT64, FI_SUM, &count) == 0 && count)
            latency("fetch_add", 8, iters, fetch_add);
        else if (lat)
            fprintf(stderr, "ofi_baseline: %s has no uint64 fetch_add; skipped\n",
                    g.info->fabric_attr->prov_name);
        /* Tell PE 1 to stop spinning: write 1 into its done flag. */
        *(uint64_t *)(g.buf + FLAG_OFF + 8) = 1;
        struct iovec iov = { g.buf + FLAG_OFF + 8, 8 };
        struct fi_rma_iov riov = { g.raddr + FLAG_OFF, 8, g.rkey };
        struct fi_msg_rma msg = { .msg_iov = &iov, .desc = &g.desc, .iov_count = 1,
                                  .addr = g.peer, .rma_iov = &riov, .rma_iov_count = 1,
                                  .context = op_ctx() };
        POST(fi_writemsg(g.ep, &msg, FI_COMPLETION | FI_DELIVERY_COMPLETE));
        drain();
    } else if (g.rank == 1) {
        /* Target: drive progress (software providers need it) until told. */
        struct fi_cq_entry e;
        double deadline = now_s() + PE_WAIT_S;
        unsigned spins = 0;
        while (!*done) {
            fi_cq_read(g.cq, &e, 1);
            if (++spins % 65536 == 0 && now_s() > deadline)
                die("waiting for PE 0", -FI_ETIMEDOUT);
        }
        long samples, batch;
        batches(iters, &samples, &batch);
        uint64_t total = *(uint64_t *)(g.buf + ATOM_OFF), want = (uint64_t)(iters / 10 + 100 + samples * batch);
        if (total && total != want)
            fprintf(stderr, "ofi_baseline: fetch_add total %llu, want %llu\n",
                    (unsigned long long)total, (unsigned long long)want);
    }
    /* Nobody closes its endpoint while a peer may still need it. */
    int failed = pmi1_barrier();
    if (failed)
        fprintf(stderr, "ofi_baseline[pe %d]: final barrier: %s\n", g.rank, pmi1_error());
    cleanup();
    fi_freeinfo(g.info);
    if (pmi1_finalize() && !failed) {
        fprintf(stderr, "ofi_baseline[pe %d]: finalize: %s\n", g.rank, pmi1_error());
        failed = 1;
    }
    return failed ? 1 : 0;
}
