/* A provider that does not exist (or differs only in case) is an error
 * listing the available providers, never a fallback; a preference list
 * then picks the first entry that exists, exactly as named. */
#include <ctype.h>

#include "common.h"

int main(void)
{
    const char *want = getenv("ROFI_PROVIDER");
    if (!want || !*want)
        want = "shm";
    FAILS_WITH(ROFI_ENOPROV, rofi_init("no-such-provider", NULL));
    CHECK(strstr(rofi_last_error(), want) != NULL, "error text does not list %s: %s", want,
          rofi_last_error());
    CHECK(strstr(rofi_last_error(), "no-such-provider") != NULL, "error text: %s",
          rofi_last_error());

    char upper[128];
    size_t i;
    for (i = 0; want[i] && i < sizeof upper - 1; i++)
        upper[i] = (char)toupper((unsigned char)want[i]);
    upper[i] = '\0';
    FAILS_WITH(ROFI_ENOPROV, rofi_init(upper, NULL));
    FAILS_WITH(ROFI_ENOPROV, rofi_init(want, "no-such-domain"));
    FAILS_WITH(ROFI_ESTATE, rofi_get_id());

    char list[256];
    snprintf(list, sizeof list, "no-such-provider,%s", want);
    OK(rofi_init(list, NULL));
    me = rofi_get_id();
    np = rofi_get_size();
    CHECK(strcmp(rofi_provider_name(), want) == 0, "picked %s, want %s", rofi_provider_name(),
          want);
    return test_finish("badprov");
}
