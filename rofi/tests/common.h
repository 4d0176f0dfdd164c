/* common.h - tiny harness shared by ROFI's C tests.
 *
 * Each test is one program run under a launcher at P = 2 and 3 (see
 * launch.sh); the provider comes from ROFI_PROVIDER.  A test prints one
 * line per failed check and exits non-zero if any failed. */
#ifndef ROFI_TEST_COMMON_H
#define ROFI_TEST_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rofi.h>

/* (np goes unused in a one-process unit test such as t_nodecard) */
static int me = -1, np __attribute__((unused)) = 0, failures = 0;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "[pe %d] %s:%d: check failed: %s: ", me,         \
                    __FILE__, __LINE__, #cond);                              \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            failures++;                                                      \
        }                                                                    \
    } while (0)

/* A ROFI call that must succeed; on failure report and leave the test. */
#define OK(call)                                                             \
    do {                                                                     \
        int ok_rc_ = (call);                                                 \
        if (ok_rc_ < 0) {                                                    \
            fprintf(stderr, "[pe %d] %s:%d: %s -> %d (%s): %s\n", me,        \
                    __FILE__, __LINE__, #call, ok_rc_,                       \
                    rofi_strerror(ok_rc_), rofi_last_error());               \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

/* A ROFI call that must fail with exactly `code`. */
#define FAILS_WITH(code, call)                                               \
    do {                                                                     \
        int fw_rc_ = (call);                                                 \
        CHECK(fw_rc_ == (code), "%s returned %d (%s), want %d (%s); msg: %s", \
              #call, fw_rc_, rofi_strerror(fw_rc_), (code),                  \
              rofi_strerror(code), rofi_last_error());                       \
    } while (0)

/* One round of a peer's service check on `pe` (t_busy, t_away): fetch-add 1
 * to *counter there (if the provider has uint64 fetch_add), then read it
 * back: it must count at least our own `done + 1` adds. */
static inline void add_and_read(uint64_t *counter, int pe, uint64_t done, int adds)
{
    uint64_t one = 1, old = 0, got = 0;
    if (adds)
        OK(rofi_atomic(ROFI_ATOMIC_FETCH_ADD, ROFI_UINT64, counter, &one, NULL, &old, pe));
    OK(rofi_get(&got, counter, sizeof got, pe));
    CHECK(!adds || got > done, "our %llu adds not visible on PE %d: %llu",
          (unsigned long long)done + 1, pe, (unsigned long long)got);
}

static inline void test_init(void)
{
    OK(rofi_init(NULL, NULL));
    me = rofi_get_id();
    np = rofi_get_size();
}

static inline int test_finish(const char *name)
{
    OK(rofi_finalize());
    if (failures)
        fprintf(stderr, "[pe %d] %s: %d check(s) FAILED\n", me, name, failures);
    else if (me == 0)
        printf("%s: ok (P=%d)\n", name, np);
    return failures ? 1 : 0;
}

#endif
