/* t_exitsig.c - a signal handler that calls exit() while rofi_finalize is
 * closing the fabric (as libinfinipath's SIGTERM handler does when a
 * launcher stops a job) ends the process cleanly: ROFI's exit handler must
 * not close the half-closed objects a second time.
 *
 * The signal is raised at a fixed point of the teardown: this program
 * defines fi_freeinfo, which ROFI calls (through the dynamic linker, so the
 * executable's definition wins) after closing its endpoint, CQ, AV, domain
 * and fabric; it forwards to libfabric's and, during rofi_finalize, raises
 * SIGTERM. Pass: every PE exits 0 from the handler. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>

#include <rdma/fabric.h>

#include "common.h"

static volatile sig_atomic_t finalizing, raised;

void fi_freeinfo(struct fi_info *info)
{
    static void (*real)(struct fi_info *);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "fi_freeinfo");
    if (real)
        real(info);
    if (finalizing && !raised) {
        raised = 1;
        raise(SIGTERM);
    }
}

static void on_term(int sig)
{
    (void)sig;
    exit(failures ? 1 : 0); /* runs ROFI's (and PMI's) exit handlers */
}

int main(void)
{
    test_init();
    void *a = NULL;
    OK(rofi_alloc(4096, &a)); /* something for teardown to release */
    OK(rofi_barrier());
    signal(SIGTERM, on_term);
    finalizing = 1;
    rofi_finalize();
    /* Reached only if the signal was never raised: the test did not test. */
    fprintf(stderr, "[pe %d] t_exitsig: fi_freeinfo was not interposed (raised=%d)\n", me,
            (int)raised);
    return 1;
}
