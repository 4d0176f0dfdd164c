/* Collective allocations with different sizes fail on every PE with
 * ROFI_ESIZE (world and sub-team), and leave ROFI usable. */
#include "common.h"

int main(void)
{
    test_init();
    void *p = NULL;
    if (np > 1) {
        FAILS_WITH(ROFI_ESIZE, rofi_alloc(1024 + (size_t)me, &p));
        CHECK(p == NULL, "failed alloc returned %p", p);
        int pair[2] = { 0, 1 };
        if (me <= 1)
            FAILS_WITH(ROFI_ESIZE, rofi_alloc_pes(100 * (size_t)(me + 1), pair, 2, &p));
        /* Same on all but the last PE. */
        FAILS_WITH(ROFI_ESIZE, rofi_alloc(me == np - 1 ? 8 : 16, &p));
    }
    OK(rofi_alloc(1024, &p));
    uint64_t v = 42;
    OK(rofi_put(p, &v, sizeof v, (me + 1) % np));
    OK(rofi_barrier());
    CHECK(*(uint64_t *)p == 42, "after mismatch: %llu", (unsigned long long)*(uint64_t *)p);
    OK(rofi_release(p));
    return test_finish("mismatch");
}
