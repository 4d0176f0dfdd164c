/* The trusted entries: rofi_target resolves once (and checks), then
 * rofi_put_at / rofi_get_at / rofi_atomic_at move data at an offset with no
 * checks: blocking and non-blocking puts land at the right place on the
 * right PE, gets read it back, fetch-adds from every PE total exactly, and
 * rofi_target refuses what is not an allocation's base or not a member. */
#include "common.h"

#define LEN 4096

int main(void)
{
    test_init();
    unsigned char *heap;
    OK(rofi_alloc(LEN + 64, (void **)&heap));
    uint64_t *counter = (uint64_t *)(heap + LEN);
    rofi_target_t *t = calloc((size_t)np, sizeof *t);
    for (int pe = 0; pe < np; pe++) {
        OK(rofi_target(heap, pe, &t[pe]));
        CHECK(t[pe].pe == pe && t[pe].size == LEN + 64, "target %d: pe %d size %zu", pe,
              t[pe].pe, t[pe].size);
    }
    FAILS_WITH(ROFI_EINVAL, rofi_target(heap + 8, 0, &t[0]));
    FAILS_WITH(ROFI_EINVAL, rofi_target(heap, np, &t[0]));
    FAILS_WITH(ROFI_EINVAL, rofi_target(heap, -1, &t[0]));
    int x;
    FAILS_WITH(ROFI_EINVAL, rofi_target(&x, 0, &t[0]));
    CHECK(t[0].pe == 0, "a refused rofi_target changed the target");

    /* Each PE writes its block at offset 64 * me of every PE: blocking to
     * the odd offsets' half, non-blocking to the rest. */
    unsigned char src[64];
    for (int i = 0; i < 64; i++)
        src[i] = (unsigned char)(me * 37 + i + 1);
    for (int pe = 0; pe < np; pe++) {
        if (pe % 2) {
            OK(rofi_put_at(&t[pe], 64 * (size_t)me, src, 64, NULL));
        } else {
            rofi_op_t *op = NULL;
            OK(rofi_put_at(&t[pe], 64 * (size_t)me, src, 64, &op));
            OK(rofi_wait(op));
        }
    }
    OK(rofi_barrier());
    for (int src_pe = 0; src_pe < np; src_pe++)
        for (int i = 0; i < 64; i++)
            if (heap[64 * src_pe + i] != (unsigned char)(src_pe * 37 + i + 1)) {
                CHECK(0, "block of PE %d byte %d: %u", src_pe, i, heap[64 * src_pe + i]);
                break;
            }

    /* Read the next PE's copy of every block back, both ways. */
    int next = (me + 1) % np;
    unsigned char got[64];
    for (int src_pe = 0; src_pe < np; src_pe++) {
        rofi_op_t *op = NULL;
        if (src_pe % 2) {
            OK(rofi_get_at(&t[next], 64 * (size_t)src_pe, got, 64, NULL));
        } else {
            OK(rofi_get_at(&t[next], 64 * (size_t)src_pe, got, 64, &op));
            OK(rofi_wait(op));
        }
        for (int i = 0; i < 64; i++)
            if (got[i] != (unsigned char)(src_pe * 37 + i + 1)) {
                CHECK(0, "get of PE %d's block from PE %d byte %d: %u", src_pe, next, i,
                      got[i]);
                break;
            }
    }

    /* Fetch-adds on PE 0's counter: blocking and non-blocking, old values
     * below the total, the total exact. */
    if (rofi_atomic_supported(ROFI_ATOMIC_FETCH_ADD, ROFI_UINT64) == 1) {
        uint64_t one = 1, old = 0, olds[8];
        rofi_op_t *ops[8];
        for (int k = 0; k < 10; k++) {
            OK(rofi_atomic_at(ROFI_ATOMIC_FETCH_ADD, ROFI_UINT64, &t[0], LEN, &one, NULL, &old,
                              NULL));
            CHECK(old < 18 * (uint64_t)np, "old value %llu", (unsigned long long)old);
        }
        for (int k = 0; k < 8; k++)
            OK(rofi_atomic_at(ROFI_ATOMIC_FETCH_ADD, ROFI_UINT64, &t[0], LEN, &one, NULL,
                              &olds[k], &ops[k]));
        for (int k = 0; k < 8; k++) {
            OK(rofi_wait(ops[k]));
            CHECK(olds[k] < 18 * (uint64_t)np, "nb old value %llu", (unsigned long long)olds[k]);
        }
        OK(rofi_barrier());
        if (me == 0)
            CHECK(*counter == 18 * (uint64_t)np, "counter %llu, want %d",
                  (unsigned long long)*counter, 18 * np);
    }
    OK(rofi_barrier());
    OK(rofi_release(heap));
    free(t);
    return test_finish("t_trusted");
}
