/* t_nodecard.c - the node card's text form (src/node_card.c): what encode
 * writes, decode reads back; anything else a peer might publish is refused,
 * which rofi_init turns into ROFI_EPMI naming that peer (node.c).
 *
 * One process, no fabric: it compiles node_card.c in (see Makefile.am). */
#include "rofi_internal.h"
#include "common.h" /* CHECK, failures; no ROFI call is made */

static void round_trip(const char *boot_id, int local, const uint64_t *cpus, int words)
{
    struct rofi_node_card in, out;
    memset(&in, 0, sizeof in);
    strcpy(in.boot_id, boot_id);
    in.local = local;
    memcpy(in.cpus, cpus, sizeof *cpus * (size_t)words);
    char text[512];
    rofi_node_encode(&in, text, sizeof text);
    memset(&out, 0x5a, sizeof out); /* decode must not depend on the old contents */
    CHECK(rofi_node_decode(text, &out) == 0, "'%s' refused", text);
    CHECK(strcmp(out.boot_id, in.boot_id) == 0, "boot id '%s' came back '%s'",
          in.boot_id, out.boot_id);
    CHECK(memcmp(out.cpus, in.cpus, sizeof in.cpus) == 0, "mask of '%s' changed", text);
    CHECK(out.local == in.local, "local path of '%s' came back %d", text, out.local);
}

static void refused(const char *text)
{
    struct rofi_node_card c;
    CHECK(rofi_node_decode(text, &c) == -1, "'%s' accepted", text);
}

int main(void)
{
    uint64_t two_cpus[] = {0x3};
    uint64_t none[] = {0};
    uint64_t sparse[] = {0x1, 0, 0, 0x8000000000000000ull};
    uint64_t all[ROFI_MASK_WORDS];
    for (int w = 0; w < ROFI_MASK_WORDS; w++)
        all[w] = ~0ull;
    round_trip("5b1e2c5e-64cb-4a2e-9d38-0c8f6f0d1a77:4026531836", 1, two_cpus, 1);
    round_trip("host", 0, none, 1);
    round_trip("", 1, sparse, 4);
    round_trip("b", 0, all, ROFI_MASK_WORDS);

    /* What encode writes, exactly: words lowest first, trailing zero words left out. */
    struct rofi_node_card c = {.boot_id = "id", .local = 1, .cpus = {0xf0, 0, 0x1}};
    char text[512];
    rofi_node_encode(&c, text, sizeof text);
    CHECK(strcmp(text, "id/1/f0,0,1") == 0, "encoded as '%s'", text);

    refused("");                 /* no slash */
    refused("no-slash");
    refused("id/1/");            /* no mask word */
    refused("id/3");             /* no local flag */
    refused("id/2/3");           /* a local flag other than 0 or 1 */
    refused("id/11/3");
    refused("id/1/3,");          /* an empty word */
    refused("id/1/3,,4");
    refused("id/1/,3");
    refused("id/1/zz");          /* not hex */
    refused("id/1/3x");
    refused("id/1/-1");          /* signs and blanks strtoull would take */
    refused("id/1/+1");
    refused("id/1/ 1");
    refused("id/1/3 ");
    refused("id/1/10000000000000000"); /* 65 bits */
    char long_id[128];
    memset(long_id, 'a', 64);    /* boot id of 64 characters: no room for its NUL */
    strcpy(long_id + 64, "/1/1");
    refused(long_id);
    char many[512] = "id/1/1"; /* ROFI_MASK_WORDS + 1 words */
    for (int w = 0; w < ROFI_MASK_WORDS; w++)
        strcat(many, ",1");
    refused(many);

    if (failures) {
        fprintf(stderr, "t_nodecard: %d check(s) failed\n", failures);
        return 1;
    }
    printf("t_nodecard: ok\n");
    return 0;
}
