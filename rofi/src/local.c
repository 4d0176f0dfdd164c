/* local.c - the node-local path: PEs on one node reach each other's
 * allocations through shared mappings, PEs elsewhere through the fabric.
 *
 * Every allocation's memory is a memfd.  Its owner publishes (pid, fd,
 * inode) with the allocation's keys; a member on the same node (node.c:
 * same kernel and PID namespace) opens /proc/<pid>/fd/<fd>, checks the
 * inode (a PID of another namespace would name another process) and maps
 * it.  Then put and get to that member are memcpy, and, when the provider's
 * atomics are done by the target's CPU, atomics are CPU atomics; the
 * fabric endpoint still carries everything else (barriers, messages) and
 * every op to PEs on other nodes.
 *
 * Atomicity across the two paths.  A CPU atomic on a word and a fabric
 * atomic on the same word are atomic with respect to each other only if
 * the fabric's atomic is itself a CPU atomic at the target.  That holds
 * for providers that carry atomics as messages and apply them in the
 * target's software (libfabric's ofi_rxm and ofi_rxd utility providers
 * and the tcp, udp, sockets and shm core providers apply them with locked
 * compare-and-swap loops, ofi_atomic.c), not for NIC atomics in general.
 * So node-local atomics go through the CPU only with those providers; with
 * any other, every atomic goes through the fabric, node-local ones too.
 *
 * ROFI_LOCAL: unset or 1: the local path as above; rma: put and get only
 * (every atomic through the fabric); 0: off, every op through the fabric. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rofi_internal.h"

/* Providers whose atomics the target applies with CPU atomics. */
static int atomics_by_target_cpu(const char *prov)
{
    static const char *const cores[] = { "tcp", "udp", "sockets", "shm" };
    if (strstr(prov, "ofi_rxm") || strstr(prov, "ofi_rxd"))
        return 1;
    for (size_t i = 0; i < sizeof cores / sizeof *cores; i++)
        if (!strcmp(prov, cores[i]))
            return 1;
    return 0;
}

int rofi_local_init(void)
{
    const char *e = getenv("ROFI_LOCAL");
    int rma_only = 0;
    if (!e || !strcmp(e, "1"))
        rofi.local_on = 1;
    else if (!strcmp(e, "rma"))
        rofi.local_on = rma_only = 1;
    else if (!strcmp(e, "0"))
        rofi.local_on = 0;
    else
        return rofi_error(ROFI_EINVAL, "ROFI_LOCAL='%s': expected 1 (default), rma or 0", e);
    rofi.local_atomics = rofi.local_on && !rma_only && atomics_by_target_cpu(rofi.prov_name);
    return 0;
}

int rofi_local_create(struct rofi_alloc *a, size_t bytes, struct rofi_local_card *card)
{
    struct stat st;
    *card = (struct rofi_local_card){ .pid = (int32_t)getpid(), .fd = -1 };
    a->memfd = -1;
    a->bytes = bytes;
    if (!(a->local = calloc((size_t)rofi.size, sizeof *a->local)))
        return rofi_error(ROFI_ENOMEM, "rofi_alloc: out of memory");
    int fd = memfd_create("rofi", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)bytes) || fstat(fd, &st)) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return rofi_error(ROFI_ENOMEM, "rofi_alloc: memfd of %zu bytes: %s", bytes, strerror(err));
    }
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        int err = errno;
        close(fd);
        return rofi_error(ROFI_ENOMEM, "rofi_alloc: mmap of %zu bytes: %s", bytes, strerror(err));
    }
    a->base = p;
    a->memfd = fd;
    if (rofi.local_on) {
        card->fd = fd;
        card->ino = (uint64_t)st.st_ino;
        a->local[rofi.rank] = a->base; /* ourselves: the first node-local PE */
    }
    return 0;
}

/* Map member pe's part from its card; 0 or a ROFI error naming the cause. */
static int map_peer(struct rofi_alloc *a, int pe, const struct rofi_local_card *c)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)c->pid, (int)c->fd);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) || (uint64_t)st.st_ino != c->ino ||
        (size_t)st.st_size < a->bytes) {
        int err = fd < 0 ? errno : 0;
        if (fd >= 0)
            close(fd);
        return rofi_error(ROFI_EFABRIC,
                          "rofi_alloc: cannot map the part of PE %d, on this node (%s: %s); "
                          "ROFI_LOCAL=0 reaches node-local PEs through the fabric instead",
                          pe, path, err ? strerror(err) : "another file (inode or size differ)");
    }
    void *p = mmap(NULL, a->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int err = errno;
    close(fd); /* the mapping keeps the memory */
    if (p == MAP_FAILED)
        return rofi_error(ROFI_ENOMEM, "rofi_alloc: mmap of PE %d's part: %s", pe, strerror(err));
    a->local[pe] = p;
    return 0;
}

int rofi_local_map(struct rofi_alloc *a, int pe, const struct rofi_local_card *card)
{
    /* A peer with ROFI_LOCAL=0 shares nothing (fd -1): that pair uses the fabric. */
    if (pe == rofi.rank || !rofi.via_local[pe] || card->fd < 0)
        return 0;
    return map_peer(a, pe, card);
}

void rofi_local_destroy(struct rofi_alloc *a)
{
    for (int pe = 0; a->local && pe < rofi.size; pe++)
        if (a->local[pe] && pe != rofi.rank)
            munmap(a->local[pe], a->bytes);
    free(a->local);
    a->local = NULL;
    if (a->base)
        munmap(a->base, a->bytes);
    a->base = NULL;
    if (a->memfd >= 0)
        close(a->memfd);
    a->memfd = -1;
}

#define LOCAL_ATOMIC(T)                                                                 \
    do {                                                                                \
        T *w = word, v = operand ? *(const T *)operand : 0, old = 0;                    \
        switch (op) {                                                                   \
        case ROFI_ATOMIC_FETCH: old = __atomic_load_n(w, __ATOMIC_SEQ_CST); break;       \
        case ROFI_ATOMIC_SET: __atomic_store_n(w, v, __ATOMIC_SEQ_CST); break;           \
        case ROFI_ATOMIC_SWAP: old = __atomic_exchange_n(w, v, __ATOMIC_SEQ_CST); break; \
        case ROFI_ATOMIC_CSWAP:                                                         \
            old = *(const T *)compare;                                                  \
            __atomic_compare_exchange_n(w, &old, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
            break; /* old: the word's value, equal to compare iff it swapped */        \
        case ROFI_ATOMIC_FETCH_ADD:                                                     \
        case ROFI_ATOMIC_ADD: old = __atomic_fetch_add(w, v, __ATOMIC_SEQ_CST); break;   \
        case ROFI_ATOMIC_FETCH_AND:                                                     \
        case ROFI_ATOMIC_AND: old = __atomic_fetch_and(w, v, __ATOMIC_SEQ_CST); break;   \
        case ROFI_ATOMIC_FETCH_OR:                                                      \
        case ROFI_ATOMIC_OR: old = __atomic_fetch_or(w, v, __ATOMIC_SEQ_CST); break;     \
        case ROFI_ATOMIC_FETCH_XOR:                                                     \
        case ROFI_ATOMIC_XOR: old = __atomic_fetch_xor(w, v, __ATOMIC_SEQ_CST); break;   \
        default: break;                                                                 \
        }                                                                               \
        if (result)                                                                     \
            *(T *)result = old;                                                         \
    } while (0)

void rofi_local_atomic(rofi_atomic_op_t op, rofi_type_t type, void *word,
                       const void *operand, const void *compare, void *result)
{
    /* Signed and unsigned words of one width share the bit operations. */
    if (type == ROFI_INT32 || type == ROFI_UINT32)
        LOCAL_ATOMIC(uint32_t);
    else
        LOCAL_ATOMIC(uint64_t);
}

int rofi_is_local(int pe)
{
    ROFI_CHECK_INIT();
    if (pe < 0 || pe >= rofi.size)
        return rofi_error(ROFI_EINVAL, "rofi_is_local: PE %d out of range [0, %d)", pe, rofi.size);
    return rofi.via_local[pe];
}

int rofi_local_atomics(void)
{
    ROFI_CHECK_INIT();
    return rofi.local_atomics;
}
