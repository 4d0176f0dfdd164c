/* The node-local path (src/local.c), all PEs on one node: a bad ROFI_LOCAL
 * fails init by name; every peer is mapped (rofi_local_ptr) unless
 * ROFI_LOCAL=0; stores through a mapping and rofi_put/get see each other;
 * non-blocking ops give handles that complete; and CPU atomics through the
 * mapping mixed with rofi_atomic on one word of PE 0, under contention from
 * every PE, leave an exact total (both rofi_atomic paths: CPU with the
 * default, fabric with ROFI_LOCAL=rma). */
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define ADDS 2000

int main(void)
{
    const char *mode = getenv("ROFI_LOCAL");
    char *keep = mode ? strdup(mode) : NULL;
    setenv("ROFI_LOCAL", "sometimes", 1);
    FAILS_WITH(ROFI_EINVAL, rofi_init(NULL, NULL));
    CHECK(strstr(rofi_last_error(), "ROFI_LOCAL='sometimes'") != NULL, "message: %s",
          rofi_last_error());
    if (keep)
        setenv("ROFI_LOCAL", keep, 1);
    else
        unsetenv("ROFI_LOCAL");
    int off = keep && !strcmp(keep, "0");

    test_init();
    uint64_t *heap;
    OK(rofi_alloc(4096, (void **)&heap));
    FAILS_WITH(ROFI_EINVAL, rofi_is_local(np));
    /* tcp;ofi_rxm applies atomics with the target's CPU: node-local ones go through the CPU
     * unless ROFI_LOCAL says otherwise. */
    CHECK(rofi_local_atomics() == (!keep || !strcmp(keep, "1")), "rofi_local_atomics %d with ROFI_LOCAL=%s",
          rofi_local_atomics(), keep ? keep : "(unset)");
    for (int pe = 0; pe < np; pe++) {
        uint64_t *p = rofi_local_ptr(heap, pe);
        CHECK(rofi_is_local(pe) == !off, "PE %d: rofi_is_local %d", pe, rofi_is_local(pe));
        CHECK(off ? p == NULL : p != NULL, "PE %d: rofi_local_ptr %p with ROFI_LOCAL=%s", pe,
              (void *)p, keep ? keep : "(unset)");
    }
    CHECK(rofi_local_ptr(&heap[600], np) == NULL, "a PE out of range has a mapping");
    CHECK(rofi_local_ptr(&failures, 0) == NULL, "a non-symmetric address has a mapping");

    /* Stores through the mapping of the next PE's part, seen by its get; puts seen by loads. */
    int next = (me + 1) % np, prev = (me + np - 1) % np;
    uint64_t *mine = rofi_local_ptr(&heap[8], next);
    if (mine)
        for (int i = 0; i < 8; i++)
            mine[i] = (uint64_t)me * 100 + (uint64_t)i;
    else
        for (uint64_t i = 0; i < 8; i++) {
            uint64_t v = (uint64_t)me * 100 + i;
            OK(rofi_put(&heap[8 + i], &v, sizeof v, next));
        }
    uint64_t src[8], got[8];
    for (int i = 0; i < 8; i++)
        src[i] = (uint64_t)me * 1000 + (uint64_t)i;
    rofi_op_t *op;
    OK(rofi_put_nb(&heap[16], src, sizeof src, next, &op));
    CHECK(op != NULL, "rofi_put_nb gave no handle");
    OK(rofi_wait(op));
    OK(rofi_barrier());
    OK(rofi_get_nb(got, &heap[8], sizeof got, me, &op));
    OK(rofi_wait(op));
    for (int i = 0; i < 8; i++) {
        CHECK(got[i] == (uint64_t)prev * 100 + (uint64_t)i, "word %d: %llu", i,
              (unsigned long long)got[i]);
        CHECK(heap[16 + i] == (uint64_t)prev * 1000 + (uint64_t)i, "put word %d: %llu", i,
              (unsigned long long)heap[16 + i]);
    }

    /* Contended adds on PE 0's word: half through rofi_atomic, half as CPU atomics. */
    uint64_t one = 1, old;
    uint64_t *word = rofi_local_ptr(&heap[0], 0);
    for (int i = 0; i < ADDS; i++) {
        if (word && i % 2)
            __atomic_fetch_add(word, 1, __ATOMIC_SEQ_CST);
        else
            OK(rofi_atomic(ROFI_ATOMIC_FETCH_ADD, ROFI_UINT64, &heap[0], &one, NULL, &old, 0));
    }
    rofi_op_t *h;
    OK(rofi_atomic_nb(ROFI_ATOMIC_ADD, ROFI_UINT64, &heap[0], &one, NULL, NULL, 0, &h));
    OK(rofi_wait(h));
    OK(rofi_barrier());
    if (me == 0)
        CHECK(heap[0] == (uint64_t)np * (ADDS + 1), "total %llu, want %llu",
              (unsigned long long)heap[0], (unsigned long long)np * (ADDS + 1));
    OK(rofi_release(heap));
    free(keep);
    return test_finish("t_local");
}
