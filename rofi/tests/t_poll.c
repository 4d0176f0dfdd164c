/* rofi_poll: with the progress thread off, a reader that waits for a flag by
 * polling its own memory and calling rofi_poll still receives a software
 * provider's puts (on tcp;ofi_rxm they land only while the target reads its
 * CQ: without rofi_poll this test times out), and sees the payload put
 * before the flag.  Also: rofi_poll before rofi_init is ROFI_ESTATE. */
#include <time.h>

#include "common.h"

#define PAYLOAD 4096

/* Poll our own word with rofi_poll until it equals want (10 s bound). */
static int poll_flag(volatile uint64_t *flag, uint64_t want)
{
    time_t end = time(NULL) + 10;
    while (*flag != want) {
        OK(rofi_poll());
        if (time(NULL) > end)
            return 0;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return 1;
}

int main(void)
{
    FAILS_WITH(ROFI_ESTATE, rofi_poll());
    setenv("ROFI_PROGRESS_THREAD", "0", 1);
    test_init();
    unsigned char *heap, src[PAYLOAD];
    OK(rofi_alloc(PAYLOAD + 64, (void **)&heap));
    volatile uint64_t *flag = (uint64_t *)(heap + PAYLOAD + 8);
    volatile uint64_t *ack = (uint64_t *)(heap + PAYLOAD + 16);
    int writer = 0, reader = np - 1;
    OK(rofi_barrier());
    for (uint64_t k = 1; k <= 50; k++) {
        if (me == writer) {
            memset(src, (int)k, sizeof src);
            OK(rofi_put(heap, src, sizeof src, reader));
            OK(rofi_quiet());
            OK(rofi_put((void *)flag, &k, sizeof k, reader));
            CHECK(poll_flag(ack, k), "no ack %llu from reader", (unsigned long long)k);
        } else if (me == reader) {
            if (!poll_flag(flag, k)) {
                CHECK(0, "flag %llu never arrived", (unsigned long long)k);
                break;
            }
            for (size_t i = 0; i < PAYLOAD; i++)
                if (heap[i] != (unsigned char)k) {
                    CHECK(0, "flag %llu seen but byte %zu stale", (unsigned long long)k, i);
                    break;
                }
            OK(rofi_put((void *)ack, &k, sizeof k, writer));
        }
        if (failures)
            break;
    }
    OK(rofi_barrier());
    OK(rofi_release(heap));
    return test_finish("poll");
}
