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
};

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
    free(a->base);
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
    if (!a || !(all = calloc((size_t)t->n, sizeof *all)) ||
        !(a->rkey = calloc((size_t)rofi.size, sizeof *a->rkey)) ||
        !(a->rbase = calloc((size_t)rofi.size, sizeof *a->rbase)) ||
        posix_memalign((void **)&a->base, (size_t)page, bytes)) {
        rc = rofi_error(ROFI_ENOMEM, "rofi_alloc: out of memory (%zu bytes)", size);
    } else {
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
    free(all);
    a->size = size;
    a->team = t;
    pthread_rwlock_wrlock(&rofi.alloc_lock);
    a->next = rofi.allocs;
    rofi.allocs = a;
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
    pthread_rwlock_unlock(&rofi.alloc_lock);
    alloc_destroy(a);
    return rc;
}

void rofi_alloc_free_all(void)
{
    while (rofi.allocs) {
        struct rofi_alloc *a = rofi.allocs;
        rofi.allocs = a->next;
        alloc_destroy(a);
    }
}

static int is_member(const struct rofi_alloc *a, int pe)
{
    return pe >= 0 && pe < rofi.size && (a->team == rofi.world || a->rbase[pe] != 0);
}

/* Allocation containing addr; caller holds alloc_lock (read). */
static struct rofi_alloc *find(const void *addr)
{
    const char *p = addr;
    for (struct rofi_alloc *a = rofi.allocs; a; a = a->next)
        if (p >= a->base && p < a->base + (a->size ? a->size : 1))
            return a;
    return NULL;
}

int rofi_translate(const void *addr, size_t len, int pe, uint64_t *raddr, uint64_t *rkey)
{
    int rc = 0;
    pthread_rwlock_rdlock(&rofi.alloc_lock);
    struct rofi_alloc *a = find(addr);
    size_t off = a ? (size_t)((const char *)addr - a->base) : 0;
    if (!a)
        rc = rofi_error(ROFI_EINVAL, "address %p is not in a symmetric allocation", addr);
    else if (len > a->size - off)
        rc = rofi_error(ROFI_EINVAL,
                        "range [%p, +%zu) exceeds its allocation (%zu bytes at offset %zu)",
                        addr, len, a->size, off);
    else if (!is_member(a, pe))
        rc = rofi_error(ROFI_EINVAL, "PE %d is not a member of the allocation's team", pe);
    else {
        *raddr = rofi.mr_virt_addr ? a->rbase[pe] + off : off;
        *rkey = a->rkey[pe];
    }
    pthread_rwlock_unlock(&rofi.alloc_lock);
    return rc;
}

void *rofi_alloc_desc(const void *buf, size_t len)
{
    void *desc = NULL;
    pthread_rwlock_rdlock(&rofi.alloc_lock);
    struct rofi_alloc *a = find(buf);
    if (a && len <= a->size - (size_t)((const char *)buf - a->base))
        desc = a->desc;
    pthread_rwlock_unlock(&rofi.alloc_lock);
    return desc;
}

void *rofi_get_remote_addr(const void *local, int pe)
{
    void *r = NULL;
    if (!rofi.initialized)
        return NULL;
    pthread_rwlock_rdlock(&rofi.alloc_lock);
    struct rofi_alloc *a = find(local);
    if (a && is_member(a, pe))
        r = (void *)(uintptr_t)(a->rbase[pe] + (uint64_t)((const char *)local - a->base));
    pthread_rwlock_unlock(&rofi.alloc_lock);
    return r;
}

void *rofi_get_local_addr(const void *remote, int pe)
{
    void *l = NULL;
    uint64_t r = (uint64_t)(uintptr_t)remote;
    if (!rofi.initialized)
        return NULL;
    pthread_rwlock_rdlock(&rofi.alloc_lock);
    for (struct rofi_alloc *a = rofi.allocs; a && !l; a = a->next)
        if (is_member(a, pe) && r >= a->rbase[pe] && r < a->rbase[pe] + (a->size ? a->size : 1))
            l = a->base + (r - a->rbase[pe]);
    pthread_rwlock_unlock(&rofi.alloc_lock);
    return l;
}
