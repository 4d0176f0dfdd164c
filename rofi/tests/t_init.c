/* init/finalize, size and id, provider reported as requested; a malformed
 * bootstrap is refused before init, and any bootstrap after it. */
#include "common.h"

static int put(void *c, const char *k, const void *d, size_t n) { (void)c, (void)k, (void)d, (void)n; return 0; }
static int fence(void *c) { (void)c; return 0; }
static int get(void *c, int pe, const char *k, void *d, size_t cap, size_t *n) { (void)c, (void)pe, (void)k, (void)d, (void)cap, (void)n; return 0; }

int main(void)
{
    FAILS_WITH(ROFI_ESTATE, rofi_get_size());
    struct rofi_bootstrap b = { .rank = 0, .size = 1, .put = put, .fence = fence, .get = NULL };
    FAILS_WITH(ROFI_EINVAL, rofi_set_bootstrap(&b));            /* no get */
    b.get = get;
    b.rank = 1;
    FAILS_WITH(ROFI_EINVAL, rofi_set_bootstrap(&b));            /* rank >= size */
    b.rank = -1;
    FAILS_WITH(ROFI_EINVAL, rofi_set_bootstrap(&b));
    b.rank = 0;
    b.size = 0;
    FAILS_WITH(ROFI_EINVAL, rofi_set_bootstrap(&b));
    OK(rofi_set_bootstrap(NULL));                                /* the built-in PMI */
    test_init();
    FAILS_WITH(ROFI_ESTATE, rofi_set_bootstrap(NULL));
    CHECK(np >= 1 && me >= 0 && me < np, "me %d np %d", me, np);
    const char *want = getenv("ROFI_PROVIDER");
    if (want && !strchr(want, ','))
        CHECK(strcmp(rofi_provider_name(), want) == 0, "provider %s, asked for %s",
              rofi_provider_name(), want);
    if (me == 0)
        printf("provider %s domain %s, P=%d\n", rofi_provider_name(), rofi_domain_name(), np);
    FAILS_WITH(ROFI_ESTATE, rofi_init(NULL, NULL));
    OK(rofi_barrier());
    return test_finish("init");
}
