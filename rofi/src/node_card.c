/* node_card.c - the node card a PE publishes at init (node.c), as text.
 *
 * Its own file, with nothing but libc below it, so that a unit test
 * (tests/t_nodecard.c) compiles it in and feeds it malformed cards. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rofi_internal.h"

/* "<boot id>/<local path: 0 or 1>/<mask words in hex, lowest first, up to
 * the last nonzero>" */
void rofi_node_encode(const struct rofi_node_card *c, char *out, size_t cap)
{
    int last = ROFI_MASK_WORDS - 1;
    while (last > 0 && !c->cpus[last])
        last--;
    size_t n = (size_t)snprintf(out, cap, "%s/%d/", c->boot_id, c->local ? 1 : 0);
    for (int w = 0; w <= last && n < cap; w++)
        n += (size_t)snprintf(out + n, cap - n, "%s%llx", w ? "," : "",
                              (unsigned long long)c->cpus[w]);
}

int rofi_node_decode(const char *s, struct rofi_node_card *c)
{
    memset(c, 0, sizeof *c);
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof c->boot_id)
        return -1;
    memcpy(c->boot_id, s, (size_t)(slash - s));
    if ((slash[1] != '0' && slash[1] != '1') || slash[2] != '/')
        return -1;
    c->local = slash[1] == '1';
    const char *p = slash + 3;
    for (int w = 0;; w++) {
        /* A word is hex digits only (strtoull would also take a sign or
         * blanks), at least one, and there are at most ROFI_MASK_WORDS. */
        if (w == ROFI_MASK_WORDS || !isxdigit((unsigned char)*p))
            return -1;
        char *end;
        errno = 0;
        c->cpus[w] = strtoull(p, &end, 16);
        if (errno)
            return -1; /* more than 64 bits */
        if (*end == '\0')
            return 0;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
}
