/* Blocking put: data lands for many sizes; after put + quiet the target sees
 * the payload when it sees a flag written after it, polling its own memory
 * with no barrier and no ROFI call in between (needs target-side progress). */
#include <time.h>

#include "common.h"

#define MAXSZ ((1 << 20) + 3)

static unsigned char pattern(int pe, size_t i, int k)
{
    return (unsigned char)(pe * 31 + i * 7 + k * 13 + 1);
}

/* Spin on a word of our own memory until it equals want (10 s bound). */
static int poll_flag(volatile uint64_t *flag, uint64_t want)
{
    time_t end = time(NULL) + 10;
    while (*flag != want)
        if (time(NULL) > end)
            return 0;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return 1;
}

int main(void)
{
    test_init();
    unsigned char *heap, *src = malloc(MAXSZ);
    OK(rofi_alloc(MAXSZ + 64, (void **)&heap));
    /* The words after the payload, aligned (MAXSZ is odd on purpose). */
    size_t words = (MAXSZ + 7) & ~(size_t)7;
    volatile uint64_t *flag = (uint64_t *)(heap + words + 8);
    volatile uint64_t *ack = (uint64_t *)(heap + words + 16);
    int next = (me + 1) % np, prev = (me + np - 1) % np;

    size_t sizes[] = { 1, 8, 100, 4096, 65536, MAXSZ };
    for (int s = 0; s < 6; s++) {
        for (size_t i = 0; i < sizes[s]; i++)
            src[i] = pattern(me, i, s);
        OK(rofi_put(heap, src, sizes[s], next));
        OK(rofi_barrier());
        for (size_t i = 0; i < sizes[s]; i++)
            if (heap[i] != pattern(prev, i, s)) {
                CHECK(0, "size %zu byte %zu: got %u want %u", sizes[s], i, heap[i],
                      pattern(prev, i, s));
                break;
            }
        OK(rofi_barrier());
    }

    /* Flag protocol between PE 0 (writer) and PE P-1 (reader). */
    int writer = 0, reader = np - 1;
    for (uint64_t k = 1; k <= 20 && np > 1; k++) {
        size_t sz = sizes[k % 6];
        if (me == writer) {
            for (size_t i = 0; i < sz; i++)
                src[i] = pattern(me, i, (int)k);
            OK(rofi_put(heap, src, sz, reader));
            OK(rofi_quiet());
            OK(rofi_put((void *)flag, &k, sizeof k, reader));
            OK(rofi_quiet());
            CHECK(poll_flag(ack, k), "no ack %llu from reader", (unsigned long long)k);
        } else if (me == reader) {
            CHECK(poll_flag(flag, k), "flag %llu never arrived", (unsigned long long)k);
            for (size_t i = 0; i < sz; i++)
                if (heap[i] != pattern(writer, i, (int)k)) {
                    CHECK(0, "flag %llu seen but byte %zu of %zu stale",
                          (unsigned long long)k, i, sz);
                    break;
                }
            OK(rofi_put((void *)ack, &k, sizeof k, writer));
            OK(rofi_quiet());
        }
    }
    OK(rofi_barrier());
    /* Put to self works too. */
    uint64_t v = 0xfeedULL + (uint64_t)me;
    OK(rofi_put(heap, &v, sizeof v, me));
    OK(rofi_quiet());
    CHECK(*(uint64_t *)heap == v, "self put");
    OK(rofi_release(heap));
    free(src);
    return test_finish("put");
}
