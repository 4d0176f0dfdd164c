/* Barrier orders memory: every PE writes round k into its slot on every
 * PE, then a barrier; afterwards all slots must be k (or k+1 from a PE
 * already in the next round). */
#include "common.h"

#define ROUNDS 200

int main(void)
{
    test_init();
    volatile uint64_t *slot;
    OK(rofi_alloc((size_t)np * sizeof(uint64_t), (void **)&slot));
    for (uint64_t k = 1; k <= ROUNDS; k++) {
        for (int pe = 0; pe < np; pe++)
            OK(rofi_put((void *)&slot[me], &k, sizeof k, pe));
        OK(rofi_barrier());
        for (int j = 0; j < np; j++)
            CHECK(slot[j] == k || slot[j] == k + 1, "round %llu: slot %d is %llu",
                  (unsigned long long)k, j, (unsigned long long)slot[j]);
    }
    OK(rofi_barrier());
    OK(rofi_release((void *)slot));
    return test_finish("barrier");
}
