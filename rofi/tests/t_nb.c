/* Non-blocking put/get: windows of handles completed by rofi_wait, by
 * polling rofi_test, and by rofi_quiet followed by releasing the handles. */
#include "common.h"

#define N 64
#define CHUNK 1024

int main(void)
{
    test_init();
    int next = (me + 1) % np, prev = (me + np - 1) % np;
    uint32_t *heap, *src = malloc(N * CHUNK), *dst = malloc(N * CHUNK);
    rofi_op_t *ops[N];
    OK(rofi_alloc(N * CHUNK, (void **)&heap));

    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < N * CHUNK / 4; i++)
            src[i] = (uint32_t)(me * 1000003 + round * 7919 + i);
        for (int j = 0; j < N; j++)
            OK(rofi_put_nb((char *)heap + j * CHUNK, (char *)src + j * CHUNK, CHUNK, next,
                           &ops[j]));
        if (round == 0) {
            for (int j = 0; j < N; j++)
                OK(rofi_wait(ops[j]));
        } else if (round == 1) {
            int left = N;
            while (left)
                for (int j = 0; j < N; j++)
                    if (ops[j]) {
                        int r = rofi_test(ops[j]);
                        OK(r);
                        if (r == 1)
                            ops[j] = NULL, left--;
                    }
        } else {
            OK(rofi_quiet());
            for (int j = 0; j < N; j++)
                CHECK(rofi_test(ops[j]) == 1, "op %d not complete after quiet", j);
        }
        OK(rofi_barrier());
        for (size_t i = 0; i < N * CHUNK / 4; i++)
            if (heap[i] != (uint32_t)(prev * 1000003 + round * 7919 + i)) {
                CHECK(0, "round %d word %zu wrong", round, i);
                break;
            }
        OK(rofi_barrier());
    }

    /* get_nb: read the neighbour's heap back in chunks. */
    for (int j = 0; j < N; j++)
        OK(rofi_get_nb((char *)dst + j * CHUNK, (char *)heap + j * CHUNK, CHUNK, next, &ops[j]));
    for (int j = 0; j < N; j++)
        OK(rofi_wait(ops[j]));
    for (size_t i = 0; i < N * CHUNK / 4; i++)
        if (dst[i] != (uint32_t)(me * 1000003 + 2 * 7919 + i)) {
            CHECK(0, "get_nb word %zu wrong", i);
            break;
        }
    /* Zero-size ops complete at once. */
    OK(rofi_put_nb(heap, src, 0, next, &ops[0]));
    CHECK(rofi_test(ops[0]) == 1, "zero-size put_nb not complete");
    OK(rofi_barrier());
    OK(rofi_release(heap));
    free(src);
    free(dst);
    return test_finish("nb");
}
