/* init/finalize, size and id, provider reported as requested. */
#include "common.h"

int main(void)
{
    FAILS_WITH(ROFI_ESTATE, rofi_get_size());
    test_init();
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
