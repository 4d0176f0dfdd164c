/* Sub-team allocation and barrier, collective over the members only:
 * the even PEs, then {0, P-1}.  Non-members stay out entirely. */
#include "common.h"

static void team_round(const int *pes, int n, int tag)
{
    int idx = -1;
    for (int i = 0; i < n; i++)
        if (pes[i] == me)
            idx = i;
    if (idx < 0) {
        void *p;
        FAILS_WITH(ROFI_EINVAL, rofi_alloc_pes(64, pes, n, &p));
        return;
    }
    int next = pes[(idx + 1) % n], prev = pes[(idx + n - 1) % n];
    uint64_t *heap;
    OK(rofi_alloc_pes(64, pes, n, (void **)&heap));
    for (int k = 1; k <= 20; k++) {
        uint64_t v = (uint64_t)(tag * 100000 + me * 1000 + k);
        OK(rofi_put(&heap[0], &v, sizeof v, next));
        OK(rofi_barrier_pes(pes, n));
        CHECK(heap[0] == (uint64_t)(tag * 100000 + prev * 1000 + k), "team %d round %d: %llu",
              tag, k, (unsigned long long)heap[0]);
        OK(rofi_barrier_pes(pes, n));
    }
    for (int pe = 0; pe < np; pe++) {
        int member = 0;
        for (int i = 0; i < n; i++)
            member |= pes[i] == pe;
        if (!member) {
            uint64_t v = 1;
            FAILS_WITH(ROFI_EINVAL, rofi_put(&heap[0], &v, sizeof v, pe));
            CHECK(rofi_get_remote_addr(heap, pe) == NULL, "non-member %d translated", pe);
        }
    }
    OK(rofi_release(heap));
}

int main(void)
{
    test_init();
    int evens[64], n = 0;
    for (int pe = 0; pe < np && n < 64; pe += 2)
        evens[n++] = pe;
    team_round(evens, n, 1);
    int ends[2] = { 0, np - 1 };
    team_round(ends, np > 1 ? 2 : 1, 2);
    int bad[2] = { np - 1, 0 };
    if (np > 1)
        FAILS_WITH(ROFI_EINVAL, rofi_barrier_pes(bad, 2));
    OK(rofi_barrier());
    return test_finish("team");
}
