/* boot.c - how ROFI meets the other PEs: the caller's bootstrap when one was
 * handed in (rofi_set_bootstrap), else ROFI's own PMI-1 client (pmi.c), whose
 * global keys are scoped by rank here so both ways look the same to init. */
#include <stdio.h>

#include "pmi.h"
#include "rofi_internal.h"

static struct rofi_bootstrap hook;
static int hooked;

int rofi_set_bootstrap(const struct rofi_bootstrap *b)
{
    if (rofi.initialized)
        return rofi_error(ROFI_ESTATE, "rofi_set_bootstrap: call it before rofi_init");
    if (!b) {
        hooked = 0;
        return 0;
    }
    if (!b->put || !b->fence || !b->get)
        return rofi_error(ROFI_EINVAL, "rofi_set_bootstrap: put, fence and get are required");
    if (b->size < 1 || b->rank < 0 || b->rank >= b->size)
        return rofi_error(ROFI_EINVAL, "rofi_set_bootstrap: rank %d of size %d", b->rank, b->size);
    hook = *b;
    hooked = 1;
    return 0;
}

int rofi_boot_init(int *rank, int *size)
{
    if (!hooked)
        return rofi_pmi_init(rank, size);
    *rank = hook.rank;
    *size = hook.size;
    return 0;
}

int rofi_boot_put(const char *key, const void *data, size_t len)
{
    char k[128];
    if (hooked)
        return hook.put(hook.ctx, key, data, len) ? rofi_error(ROFI_EPMI, "bootstrap: put '%s' failed", key) : 0;
    snprintf(k, sizeof k, "%s-%d", key, rofi.rank);
    return rofi_pmi_put_bytes(k, data, len);
}

int rofi_boot_fence(void)
{
    if (hooked)
        return hook.fence(hook.ctx) ? rofi_error(ROFI_EPMI, "bootstrap: fence failed") : 0;
    return rofi_pmi_barrier();
}

int rofi_boot_get(int pe, const char *key, void *data, size_t cap, size_t *len)
{
    char k[128];
    if (hooked)
        return hook.get(hook.ctx, pe, key, data, cap, len)
                   ? rofi_error(ROFI_EPMI, "bootstrap: get '%s' of PE %d failed", key, pe)
                   : 0;
    snprintf(k, sizeof k, "%s-%d", key, pe);
    return rofi_pmi_get_bytes(k, data, cap, len);
}

int rofi_boot_finalize(void)
{
    return hooked ? 0 : rofi_pmi_finalize();
}
