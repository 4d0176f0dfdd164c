/* t_forgedcard.c - a peer that publishes a malformed node card through the
 * launcher's PMI makes rofi_init fail, on every other PE, with ROFI_EPMI
 * naming that peer and quoting its card; the forger's own rofi_init ends in
 * an error too (its peers never join the first barrier), within the timeout,
 * never a hang. Then every PE exits 0 if that is what it saw.
 *
 * The card is forged on the wire: this program defines send(), which ROFI's
 * PMI client calls (through the dynamic linker, so the executable's
 * definition wins); on PE 1, the "cmd=put"s of the node card key go out with
 * their values replaced. Everything else passes through unchanged. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "common.h"

#define FORGER 1
#define FORGED "not-a-card"

static int forged; /* cards this process forged */

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    static ssize_t (*real)(int, const void *, size_t, int);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "send");
    if (!real)
        return -1;
    char line[1024];
    /* (me: this PE's rank, which main reads from the launcher before rofi_init.)
     * ROFI sends each PMI command whole, in one call, as long as the socket
     * takes it; a command this test forges is short. */
    if (me == FORGER && len < sizeof line && len > 8 && !memcmp(buf, "cmd=put ", 8)) {
        memcpy(line, buf, len);
        line[len] = '\0';
        char *value = strstr(line, " value=");
        char *key = strstr(line, " key=");
        if (strstr(line, "-node") && value && key) {
            /* Values go out as a byte count ("KEY") and hex chunks ("KEY.0"): forge
             * both, so the card decodes to FORGED (with its terminating NUL). */
            char hex[2 * sizeof FORGED + 1];
            for (size_t i = 0; i < sizeof FORGED; i++)
                snprintf(hex + 2 * i, 3, "%02x", (unsigned char)FORGED[i]);
            int chunk = memchr(key, '.', (size_t)(value - key)) != NULL;
            int n = chunk ? snprintf(value, sizeof line - (size_t)(value - line), " value=%s\n", hex)
                          : snprintf(value, sizeof line - (size_t)(value - line), " value=%zu\n", sizeof FORGED);
            forged += chunk;
            ssize_t r = real(fd, line, (size_t)(value - line) + (size_t)n, flags);
            /* To ROFI, all of its own line went out. */
            return r < 0 ? r : (ssize_t)len;
        }
    }
    return real(fd, buf, len, flags);
}

int main(void)
{
    /* The forger waits for peers that have given up: keep that short. */
    setenv("ROFI_TIMEOUT", "5", 1);
    const char *env_rank = getenv("PMI_RANK"), *env_size = getenv("PMI_SIZE");
    me = env_rank ? atoi(env_rank) : -1;
    np = env_size ? atoi(env_size) : -1;
    CHECK(np >= 2, "needs a launcher with PMI_RANK/PMI_SIZE and P >= 2 (np=%d)", np);
    if (failures)
        return 1;
    int rc = rofi_init(NULL, NULL);
    const char *msg = rofi_last_error();
    if (me == FORGER) {
        CHECK(forged == 1, "forged %d node cards, want 1: the test did not test", forged);
        CHECK(rc < 0, "rofi_init succeeded on the forger though no peer could decode its card");
    } else {
        CHECK(rc == ROFI_EPMI, "rofi_init returned %d (%s), want ROFI_EPMI; msg: %s", rc,
              rofi_strerror(rc), msg);
        char want[64];
        snprintf(want, sizeof want, "PE %d published a malformed node card '" FORGED "'", FORGER);
        CHECK(strstr(msg, want) != NULL, "message '%s' lacks \"%s\"", msg, want);
    }
    if (rc == 0)
        rofi_finalize();
    if (failures)
        return 1;
    printf("[pe %d] forgedcard: ok (%s)\n", me, rc ? rofi_strerror(rc) : "initialized");
    return 0;
}
