/* A barrier that PE 0 never joins ends in ROFI_ETIMEDOUT (ROFI_TIMEOUT=2)
 * on the others instead of hanging. */
#include <time.h>

#include "common.h"

int main(void)
{
    setenv("ROFI_TIMEOUT", "2", 1);
    test_init();
    if (me == 0) {
        /* Stay away (no ROFI calls) until the others have given up. */
        struct timespec ts = { 5, 0 };
        nanosleep(&ts, NULL);
    } else if (np > 1) {
        time_t t0 = time(NULL);
        FAILS_WITH(ROFI_ETIMEDOUT, rofi_barrier());
        CHECK(time(NULL) - t0 < 10, "timeout took %ld s", (long)(time(NULL) - t0));
    }
    /* Sequence numbers now disagree: finalize may time out too; it must
     * still return and release everything. */
    int rc = rofi_finalize();
    if (rc && rc != ROFI_ETIMEDOUT)
        CHECK(0, "finalize returned %d", rc);
    if (failures)
        fprintf(stderr, "[pe %d] timeout: %d check(s) FAILED\n", me, failures);
    else if (me == 0)
        printf("timeout: ok (P=%d)\n", np);
    return failures ? 1 : 0;
}
