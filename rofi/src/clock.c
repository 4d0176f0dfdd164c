/* clock.c - monotonic time and the ROFI_TIMEOUT bound on remote waits. */
#include <stdlib.h>
#include <time.h>

#include "rofi_internal.h"

double rofi_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Set by rofi_set_timeout(), else read once from ROFI_TIMEOUT: every wait that depends
 * on another process uses this bound. */
static double cached = -1;

int rofi_set_timeout(double seconds)
{
    if (!(seconds > 0))
        return ROFI_EINVAL;
    cached = seconds;
    return ROFI_SUCCESS;
}

double rofi_timeout_s(void)
{
    if (cached < 0) {
        const char *s = getenv("ROFI_TIMEOUT");
        char *end = NULL;
        double v = s ? strtod(s, &end) : 0;
        cached = (s && end != s && v > 0) ? v : 60.0;
    }
    return cached;
}
