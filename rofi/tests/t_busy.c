/* A PE that keeps calling into ROFI without waiting (posting non-blocking
 * puts, handles held) still serves its peers.  With shm or tcp;ofi_rxm a
 * peer's get or fetch-add on it completes only while something reads the
 * busy PE's completion queue, which posting alone does not; the progress
 * thread does that once per nap while the application calls in.  Each peer
 * fetch-adds and gets on the busy PE, then marks its slot; the busy PE then
 * waits for its puts and checks that every add landed. */
#include <time.h>

#include "common.h"

#define OPS 20

/* Every peer has marked its slot. */
static int all_done(volatile uint64_t *slots, int busy)
{
    for (int pe = 0; pe < np; pe++)
        if (pe != busy && slots[pe] != 1)
            return 0;
    return 1;
}

int main(void)
{
    test_init();
    uint64_t *heap;
    OK(rofi_alloc((size_t)(2 + np) * sizeof(uint64_t), (void **)&heap));
    volatile uint64_t *counter = heap, *slots = heap + 2;
    uint64_t *scratch = heap + 1;
    int busy = np - 1;
    int adds = rofi_atomic_supported(ROFI_ATOMIC_FETCH_ADD, ROFI_UINT64) == 1;
    OK(rofi_barrier());
    if (me == busy) {
        static const uint64_t one = 1;
        size_t cap = 1024, n = 0;
        rofi_op_t **ops = malloc(cap * sizeof *ops);
        CHECK(ops != NULL, "out of memory");
        time_t end = time(NULL) + 30;
        while (ops && !all_done(slots, busy) && time(NULL) <= end) {
            if (n == cap) {
                rofi_op_t **more = realloc(ops, 2 * cap * sizeof *ops);
                if (!more)
                    break;
                ops = more, cap *= 2;
            }
            OK(rofi_put_nb(scratch, &one, sizeof one, (me + 1) % np, &ops[n++]));
        }
        CHECK(all_done(slots, busy), "peers not done after 30 s of posting (%zu puts)", n);
        for (size_t i = 0; i < n; i++)
            OK(rofi_wait(ops[i]));
        free(ops);
        uint64_t want = adds ? (uint64_t)OPS * (uint64_t)(np - 1) : 0;
        CHECK(*counter == want, "counter %llu, want %llu", (unsigned long long)*counter,
              (unsigned long long)want);
    } else {
        for (uint64_t i = 0; i < OPS; i++)
            add_and_read(heap, busy, i, adds);
        static const uint64_t mark = 1;
        OK(rofi_put(heap + 2 + me, &mark, sizeof mark, busy));
    }
    OK(rofi_barrier());
    OK(rofi_release(heap));
    return test_finish("busy");
}
