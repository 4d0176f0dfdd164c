/* alloc.c - symmetric allocations: one MR per allocation, keys and base
 * addresses exchanged with an allgather over the allocating team.
 *
 * Remote addressing follows the domain's mr_mode: with FI_MR_VIRT_ADDR the
 * target address is the peer's virtual address, otherwise the offset into
 * the region.  Keys are the provider's (FI_MR_PROV_KEY) or ours; either way
 * each PE's key is exchanged, so no assumption about equal keys is made. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rofi_internal.h"

/* What every member contributes to the allgather of a new allocation. */
struct alloc_info {
    uint64_t size, base, key;
    int64_t status; /* 0, or the local error: others then fail too */
    struct rofi_local_card card;
};

/* What an access needs to know of the allocation holding an address, copied
 * out of the list, so that using it touches no list node. */
struct alloc_view {
    char *base;
    size_t size;
    int world;              /* the allocation's team is the world */
    const uint64_t *rkey, *rbase;
    void *desc;
    char *const *local;     /* per world PE: its part mapped here, or NULL  */
};

/* Each thread keeps the view of the allocation it last addressed, valid while
 * the list generation it was copied at is current: a put, get or atomic then
 * finds its allocation without the list lock (a read lock and unlock was
 * half of rofi_translate's ~130 instructions per op, callgrind).  The
 * generation changes, under the write lock, whenever the list does.  The
 * view's arrays belong to its allocation: a thread reads them only for an
 * address inside it, and an allocation may not be accessed while it is
 * being released (rofi_release), so they are never read after the free. */
static _Atomic uint64_t list_gen = 1;
static _Thread_local struct {
    uint64_t gen;           /* 0: empty */
    struct alloc_view v;
} last;

static struct alloc_view view_of(const struct rofi_alloc *a)
{
    return (struct alloc_view){ a->base, a->size, a->team == rofi.world, a->rkey, a->rbase, a->desc,
                                a->local };
}

static void list_changed(void)
{
    atomic_fetch_add_explicit(&list_gen, 1, memory_order_release);
}

int rofi_mr_reg(void *buf, size_t len, uint64_t access, struct fid_mr **mr)
{
    uint64_t key = rofi.mr_prov_key ? 0 : atomic_fetch_add(&rofi.next_key, 1);
    const char *what = "fi_mr_reg";
    rofi_lock();
    int rc = fi_mr_reg(rofi.domain, buf, len, access, 0, key, 0, mr, NULL);
    if (!rc && rofi.mr_endpoint) {
        /* FI_MR_ENDPOINT: the MR only works once bound to our endpoint. */
        if ((rc = fi_mr_bind(*mr, &rofi.ep->fid, 0)))
            what = "fi_mr_bind";
        else if ((rc = fi_mr_enable(*mr)))
            what = "fi_mr_enable";
        if (rc)
            fi_close(&(*mr)->fid);
    }
    rofi_unlock();
    if (rc) {
        *mr = NULL;
        return rofi_fi_error(what, rc);
    }
    return 0;
}

static void alloc_destroy(struct rofi_alloc *a)
{
    if (a->mr) {
        rofi_lock();
        fi_close(&a->mr->fid);
        rofi_unlock();
    }
    rofi_local_destroy(a);
    free(a->rkey);
    free(a->rbase);
    free(a);
}

/* Register locally, allgather, verify sizes, publish in the list. */
static int alloc_team(size_t size, struct rofi_team *t, void **addr)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t bytes = ((size ? size : 1) + (size_t)page - 1) & ~((size_t)page - 1);
    struct alloc_info mine = { .size = size }, *all = NULL;
    struct rofi_alloc *a = calloc(1, sizeof *a);
    int rc = 0;

    *addr = NULL;
    if (a)
        a->memfd = -1;
    if (!a || !(all = calloc((size_t)t->n, sizeof *all)) ||
        !(a->rkey = calloc((size_t)rofi.size, sizeof *a->rkey)) ||
        !(a->rbase = calloc((size_t)rofi.size, sizeof *a->rbase))) {
        rc = rofi_error(ROFI_ENOMEM, "rofi_alloc: out of memory (%zu bytes)", size);
    } else if (!(rc = rofi_local_create(a, bytes, &mine.card))) {
        /* Zeroing also touches every page (FI_MR_ALLOCATED). */
        memset(a->base, 0, bytes);
        rc = rofi_mr_reg(a->base, bytes, FI_READ | FI_WRITE | FI_REMOTE_READ |
                         FI_REMOTE_WRITE | FI_SEND | FI_RECV, &a->mr);
    }
    if (!rc) {
        mine.base = (uint64_t)(uintptr_t)a->base;
        mine.key = fi_mr_key(a->mr);
        a->desc = fi_mr_desc(a->mr);
    }
    mine.status = rc;

    /* Always take part, even after a local failure: the others would
     * otherwise wait for us until ROFI_TIMEOUT. */
    int grc = all ? rofi_team_allgather(t, &mine, sizeof mine, all) : ROFI_ENOMEM;
    if (!rc && grc)
        rc = grc;
    /* Same verdict on every PE: all see the same table.  A size mismatch
     * is reported as such even if some PE also failed locally. */
    for (int j = 0; !grc && j < t->n; j++)
        if (all[j].size != size) {
            rc = rofi_error(ROFI_ESIZE,
                            "rofi_alloc: size mismatch: PE %d passed %zu, PE %d passed %llu",
                            rofi.rank, size, t->pes[j], (unsigned long long)all[j].size);
            break;
        }
    for (int j = 0; !rc && j < t->n; j++)
        if (all[j].status)
            rc = rofi_error(ROFI_EFABRIC, "rofi_alloc: PE %d failed to allocate/register",
                            t->pes[j]);
    if (rc) {
        if (a)
            alloc_destroy(a);
        free(all);
        return rc;
    }
    for (int j = 0; j < t->n; j++) {
        a->rkey[t->pes[j]] = all[j].key;
        a->rbase[t->pes[j]] = all[j].base;
    }
    /* Map the node-local members' parts; every member learns whether all
     * could (the allocation exists everywhere or nowhere), and only then
     * may an owner close its memfd: nobody opens it any more. */
    for (int j = 0; !rc && j < t->n; j++)
        rc = rofi_local_map(a, t->pes[j], &all[j].card);
    free(all);
    if (t->n > 1) {
        int64_t st = rc, *sts = calloc((size_t)t->n, sizeof *sts);
        int src = sts ? rofi_team_allgather(t, &st, sizeof st, sts) : ROFI_ENOMEM;
        for (int j = 0; !rc && !src && j < t->n; j++)
            if (sts[j])
                rc = rofi_error(ROFI_EFABRIC, "rofi_alloc: PE %d could not map a node-local "
                                "peer's part (ROFI_LOCAL=0 avoids the local path)", t->pes[j]);
        free(sts);
        if (!rc)
            rc = src;
    }
    if (rc) {
        alloc_destroy(a);
        return rc;
    }
    close(a->memfd);
    a->memfd = -1;
    a->size = size;
    a->team = t;
    pthread_rwlock_wrlock(&rofi.alloc_lock);
    a->next = rofi.allocs;
    rofi.allocs = a;
    list_changed();
    pthread_rwlock_unlock(&rofi.alloc_lock);
    *addr = a->base;
    return 0;
}

int rofi_alloc(size_t size, void **addr)
{
    ROFI_CHECK_INIT();
    if (!addr)
        return rofi_error(ROFI_EINVAL, "rofi_alloc: NULL addr");
    return alloc_team(size, rofi.world, addr);
}

int rofi_alloc_pes(size_t size, const int *pes, int npes, void **addr)
{
    ROFI_CHECK_INIT();
    struct rofi_team *t;
    if (!addr || !pes)
        return rofi_error(ROFI_EINVAL, "rofi_alloc_pes: NULL argument");
    int rc = rofi_team_get(pes, npes, &t);
    return rc ? rc : alloc_team(size, t, addr);
}

int rofi_release(void *addr)
{
    ROFI_CHECK_INIT();
    struct rofi_alloc *a;
    pthread_rwlock_rdlock(&rofi.alloc_lock);
    for (a = rofi.allocs; a && a->base != addr; a = a->next)
        ;
    pthread_rwlock_unlock(&rofi.alloc_lock);
    if (!a)
        return rofi_error(ROFI_EINVAL, "rofi_release: %p is not an allocation base", addr);
    /* Nobody may still be accessing it: barrier over its team first. */
    int rc = rofi_team_barrier(a->team);
    pthread_rwlock_wrlock(&rofi.alloc_lock);
    for (struct rofi_alloc **p = &rofi.allocs; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            break;
        }
    list_changed();
    pthread_rwlock_unlock(&rofi.alloc_lock);
    alloc_destroy(a);
    return rc;
}

void rofi_alloc_free_all(void)
{
    pthread_rwlock_wrlock(&rofi.alloc_lock);
    list_changed();
    pthread_rwlock_unlock(&rofi.alloc_lock);
    while (rofi.allocs) {
        struct rofi_alloc *a = rofi.allocs;
        rofi.allocs = a->next;
        alloc_destroy(a);
    }
}

static int in_view(const struct alloc_view *v, const char *p)
{
    return p >= v->base && p < v->base + (v->size ? v->size : 1);
}

/* lookup() when the thread's last view does not hold addr: the list. */
static __attribute__((noinline)) const struct alloc_view *lookup_list(const void *addr)
{
    const struct alloc_view *found = NULL;
    pthread_rwlock_rdlock(&rofi.alloc_lock);
    for (struct rofi_alloc *a = rofi.allocs; a && !found; a = a->next) {
        struct alloc_view v = view_of(a);
        if (in_view(&v, addr)) {
            /* Under the lock the generation cannot move: the copy is of it. */
            last.gen = atomic_load_explicit(&list_gen, memory_order_relaxed);
            last.v = v;
            found = &last.v;
        }
    }
    pthread_rwlock_unlock(&rofi.alloc_lock);
    return found;
}

/* The view of the allocation containing addr, or NULL.  It is this thread's
 * `last` (no copy on the hot path), so it stays valid until the thread's
 * next lookup. */
static inline const struct alloc_view *lookup(const void *addr)
{
    if (last.gen == atomic_load_explicit(&list_gen, memory_order_acquire) &&
        in_view(&last.v, addr))
        return &last.v;
    return lookup_list(addr);
}

static int is_member(const struct alloc_view *v, int pe)
{
    return pe >= 0 && pe < rofi.size && (v->world || v->rbase[pe] != 0);
}

int rofi_translate(const void *addr, size_t len, int pe, uint64_t *raddr, uint64_t *rkey,
                   char **local)
{
    const struct alloc_view *v = lookup(addr);
    if (!v)
        return rofi_error(ROFI_EINVAL, "address %p is not in a symmetric allocation", addr);
    size_t off = (size_t)((const char *)addr - v->base);
    if (len > v->size - off)
        return rofi_error(ROFI_EINVAL,
                          "range [%p, +%zu) exceeds its allocation (%zu bytes at offset %zu)",
                          addr, len, v->size, off);
    if (!is_member(v, pe))
        return rofi_error(ROFI_EINVAL, "PE %d is not a member of the allocation's team", pe);
    *raddr = rofi.mr_virt_addr ? v->rbase[pe] + off : off;
    *rkey = v->rkey[pe];
    *local = v->local[pe] ? v->local[pe] + off : NULL;
    return 0;
}

int rofi_target(const void *base, int pe, rofi_target_t *t)
{
    ROFI_CHECK_INIT();
    const struct alloc_view *v = lookup(base);
    if (!t)
        return rofi_error(ROFI_EINVAL, "rofi_target: NULL target");
    if (!v || v->base != (const char *)base)
        return rofi_error(ROFI_EINVAL, "rofi_target: %p is not an allocation base", base);
    if (!is_member(v, pe))
        return rofi_error(ROFI_EINVAL, "rofi_target: PE %d is not a member of the allocation's team", pe);
    t->raddr = rofi.mr_virt_addr ? v->rbase[pe] : 0;
    t->key = v->rkey[pe];
    t->local = v->local[pe];
    t->size = v->size;
    t->pe = pe;
    return 0;
}

void *rofi_alloc_desc(const void *buf, size_t len)
{
    const struct alloc_view *v = lookup(buf);
    if (v && len <= v->size - (size_t)((const char *)buf - v->base))
        return v->desc;
    return NULL;
}

void *rofi_get_remote_addr(const void *local, int pe)
{
    const struct alloc_view *v;
    if (!rofi.initialized || !(v = lookup(local)) || !is_member(v, pe))
        return NULL;
    return (void *)(uintptr_t)(v->rbase[pe] + (uint64_t)((const char *)local - v->base));
}

void *rofi_local_ptr(const void *sym, int pe)
{
    const struct alloc_view *v;
    if (!rofi.initialized || !(v = lookup(sym)) || !is_member(v, pe) || !v->local[pe])
        return NULL;
    return v->local[pe] + ((const char *)sym - v->base);
}

void *rofi_get_local_addr(const void *remote, int pe)
{
    void *l = NULL;
    uint64_t r = (uint64_t)(uintptr_t)remote;
    if (!rofi.initialized)
        return NULL;
    pthread_rwlock_rdlock(&rofi.alloc_lock);
    for (struct rofi_alloc *a = rofi.allocs; a && !l; a = a->next) {
        struct alloc_view v = view_of(a);
        if (is_member(&v, pe) && r >= v.rbase[pe] && r < v.rbase[pe] + (v.size ? v.size : 1))
            l = v.base + (r - v.rbase[pe]);
    }
    pthread_rwlock_unlock(&rofi.alloc_lock);
    return l;
}
