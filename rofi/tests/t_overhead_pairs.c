/* t_overhead_pairs.c - which OVERHEAD_PAIRS t_overhead and t_thread_cost
 * accept and which they refuse (they then exit 2 with a message, before any
 * PE starts).
 *
 * One process, no fabric, no ROFI call. */
#include "common.h" /* CHECK, failures */
#include "overhead_pairs.h"

int main(void)
{
    static const struct {
        const char *text;
        long want;
    } cases[] = {
        { NULL, 77 }, { "", 77 }, { "20", 20 }, { "400", 400 }, { "1000000", 1000000 },
        { "19", -1 }, { "0", -1 }, { "-5", -1 }, { "1000001", -1 },
        { "abc", -1 }, { "30x", -1 }, { "3 0", -1 }, { "99999999999999999999", -1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long got = overhead_pairs(cases[i].text, 77);
        CHECK(got == cases[i].want, "OVERHEAD_PAIRS=%s gave %ld, want %ld",
              cases[i].text ? cases[i].text : "(unset)", got, cases[i].want);
    }
    if (failures)
        return 1;
    printf("overhead_pairs: ok\n");
    return 0;
}
