/* Tagged send/recv around a ring: order per tag, sizes, truncation. */
#include <time.h>

#include "common.h"

#define BIG (64 * 1024)

/* Receives from any PE under load: every PE sends K numbered messages to
 * every PE while it receives into R receives from any PE, posted again as
 * they complete; every message arrives once, with its source. */
static void any_under_load(void)
{
    enum { K = 300, R = 4 };
    uint64_t bufs[R];
    int srcs[R], seen[16] = { 0 }, got = 0, sent = 0;
    size_t lens[R];
    rofi_op_t *ops[R];
    for (int r = 0; r < R; r++)
        OK(rofi_recv_nb(ROFI_ANY_PE, &bufs[r], 8, 21, &srcs[r], &lens[r], &ops[r]));
    OK(rofi_barrier());
    uint64_t v;
    time_t end = time(NULL) + 30; /* a lost message ends the loop here, as a failure */
    while ((got < K * np || sent < K * np) && time(NULL) < end) {
        if (sent < K * np) {
            rofi_op_t *s;
            v = (uint64_t)me << 32 | (uint64_t)sent;
            OK(rofi_send_nb(sent % np, &v, 8, 21, &s));
            OK(rofi_wait(s));
            sent++;
        }
        for (int r = 0; r < R; r++) {
            int rc = rofi_test(ops[r]);
            if (rc == 0)
                continue;
            OK(rc);
            int src = (int)(bufs[r] >> 32);
            CHECK(src == srcs[r] && src < np && lens[r] == 8, "message of PE %d from %d (%zu B)",
                  src, srcs[r], lens[r]);
            if (src < np)
                seen[src]++;
            got++;
            OK(rofi_recv_nb(ROFI_ANY_PE, &bufs[r], 8, 21, &srcs[r], &lens[r], &ops[r]));
        }
    }
    for (int p = 0; p < np; p++)
        CHECK(seen[p] == K, "%d messages from PE %d, want %d", seen[p], p, K);
    if (failures)
        exit(1); /* peers may wait for messages that were lost: no barrier */
    OK(rofi_barrier());
    for (int r = 0; r < R; r++)
        FAILS_WITH(0, rofi_cancel(ops[r]));
}

int main(void)
{
    test_init();
    int next = (me + 1) % np, prev = (me + np - 1) % np;
    for (uint64_t i = 0; i < 10; i++) {
        uint64_t v = (uint64_t)me * 100 + i;
        OK(rofi_send(next, &v, sizeof v, 7));
    }
    for (uint64_t i = 0; i < 10; i++) {
        uint64_t v = 0;
        size_t got = 0;
        OK(rofi_recv(prev, &v, sizeof v, 7, &got));
        CHECK(got == sizeof v && v == (uint64_t)prev * 100 + i, "msg %llu: got %llu (%zu B)",
              (unsigned long long)i, (unsigned long long)v, got);
    }
    unsigned char *a = malloc(BIG), *b = malloc(BIG);
    for (int i = 0; i < BIG; i++)
        a[i] = (unsigned char)(i * 3 + me);
    /* A large blocking send may wait for the matching receive (rendezvous):
     * break the ring's cycle by letting PE 0 receive first. */
    size_t got = 0;
    if (me != 0)
        OK(rofi_send(next, a, BIG, 9));
    OK(rofi_recv(prev, b, BIG, 9, &got));
    if (me == 0)
        OK(rofi_send(next, a, BIG, 9));
    CHECK(got == BIG, "big message %zu bytes", got);
    for (int i = 0; i < BIG; i++)
        if (b[i] != (unsigned char)(i * 3 + prev)) {
            CHECK(0, "big message byte %d wrong", i);
            break;
        }
    /* A message longer than the receive buffer is ROFI_ETRUNC.  Not on
     * tcp;ofi_rxm (libfabric 1.17): there a truncated receive after a
     * rendezvous-sized message drops the tcp connection ("dynamically
     * provided rbuf is too small"), breaking all later traffic. */
    if (strcmp(rofi_provider_name(), "tcp;ofi_rxm") != 0) {
        OK(rofi_send(next, a, 64, 11));
        FAILS_WITH(ROFI_ETRUNC, rofi_recv(prev, b, 16, 11, NULL));
    } else if (me == 0) {
        printf("ROFI_ETRUNC check skipped on tcp;ofi_rxm (provider drops the connection)\n");
    }
    OK(rofi_barrier());

    /* Receives from any PE: every PE sends 3 numbered messages to PE 0 with
     * rofi_send_nb; PE 0's receives, posted from ROFI_ANY_PE before they
     * arrive, learn each source from their completion, in order per source. */
    enum { PER = 3, MAXP = 16 };
    uint64_t vals[PER * MAXP], out[PER];
    int srcs[PER * MAXP];
    size_t lens[PER * MAXP];
    rofi_op_t *rops[PER * MAXP], *sops[PER];
    int n = PER * np;
    rofi_op_t *c;
    uint64_t x = 0;
    int cs = -5;
    size_t cl = 0;
    if (strcmp(rofi_provider_name(), "shm") == 0) {
        FAILS_WITH(ROFI_ENOTSUP, rofi_recv_nb(ROFI_ANY_PE, &x, 8, 13, &cs, &cl, &c));
    } else {
        if (me == 0)
            for (int k = 0; k < n; k++)
                OK(rofi_recv_nb(ROFI_ANY_PE, &vals[k], 8, 13, &srcs[k], &lens[k], &rops[k]));
        OK(rofi_barrier());
        for (int i = 0; i < PER; i++) {
            out[i] = (uint64_t)me * 100 + (uint64_t)i;
            OK(rofi_send_nb(0, &out[i], 8, 13, &sops[i]));
        }
        for (int i = 0; i < PER; i++)
            OK(rofi_wait(sops[i]));
        if (me == 0) {
            int next[MAXP] = { 0 };
            for (int k = 0; k < n; k++) {
                srcs[k] = -7;
                OK(rofi_wait(rops[k]));
                CHECK(lens[k] == 8 && srcs[k] >= 0 && srcs[k] < np, "receive %d: %zu B from %d", k,
                      lens[k], srcs[k]);
                if (srcs[k] < 0 || srcs[k] >= np)
                    continue;
                CHECK(vals[k] == (uint64_t)srcs[k] * 100 + (uint64_t)next[srcs[k]],
                      "receive %d from PE %d: %llu, want message %d", k, srcs[k],
                      (unsigned long long)vals[k], next[srcs[k]]);
                next[srcs[k]]++;
            }
            for (int p = 0; p < np; p++)
                CHECK(next[p] == PER, "%d messages from PE %d", next[p], p);
        }
        /* The same with the messages there first (unexpected at the receiver):
         * the source still comes from each message's own tag. */
        for (int i = 0; i < PER; i++) {
            out[i] = (uint64_t)me * 100 + (uint64_t)i;
            OK(rofi_send_nb(0, &out[i], 8, 14, &sops[i]));
        }
        for (int i = 0; i < PER; i++)
            OK(rofi_wait(sops[i]));
        OK(rofi_barrier());
        if (me == 0) {
            int next[MAXP] = { 0 };
            for (int k = 0; k < n; k++) {
                srcs[k] = -7;
                OK(rofi_recv_nb(ROFI_ANY_PE, &vals[k], 8, 14, &srcs[k], &lens[k], &rops[k]));
                OK(rofi_wait(rops[k]));
                CHECK(lens[k] == 8 && srcs[k] >= 0 && srcs[k] < np, "unexpected %d: %zu B from %d",
                      k, lens[k], srcs[k]);
                if (srcs[k] < 0 || srcs[k] >= np)
                    continue;
                CHECK(vals[k] == (uint64_t)srcs[k] * 100 + (uint64_t)next[srcs[k]],
                      "unexpected %d from PE %d: %llu, want message %d", k, srcs[k],
                      (unsigned long long)vals[k], next[srcs[k]]);
                next[srcs[k]]++;
            }
        }
        OK(rofi_barrier());
        /* A receive nobody sends to is withdrawn; one a message completed first
         * is reported as received. */
        OK(rofi_recv_nb(ROFI_ANY_PE, &x, 8, 15, &cs, &cl, &c));
        FAILS_WITH(0, rofi_cancel(c));
        CHECK(cs == -5, "a withdrawn receive reported source %d", cs);
        uint64_t self = 4242;
        OK(rofi_send(me, &self, 8, 17));
        OK(rofi_recv_nb(ROFI_ANY_PE, &x, 8, 17, &cs, &cl, &c));
        for (int i = 0; i < 1000 && rofi_test(c) == 0; i++)
            ;
        CHECK(x == 4242 && cs == me && cl == 8, "message to self: %llu from %d (%zu B)",
              (unsigned long long)x, cs, cl);
        any_under_load();
    }
    /* A directed receive is withdrawn too. */
    OK(rofi_recv_nb(me, &x, 8, 23, NULL, NULL, &c));
    FAILS_WITH(0, rofi_cancel(c));
    FAILS_WITH(ROFI_EINVAL, rofi_recv_nb(np, &x, 8, 1, NULL, NULL, &c));
    FAILS_WITH(ROFI_EINVAL, rofi_recv_nb(-2, &x, 8, 1, NULL, NULL, &c));
    FAILS_WITH(ROFI_EINVAL, rofi_send_nb(np, &x, 8, 1, &c));
    FAILS_WITH(ROFI_EINVAL, rofi_recv_nb(0, &x, 8, 1, NULL, NULL, NULL));
    OK(rofi_send_nb(me, &x, 8, 19, &c));
    FAILS_WITH(ROFI_EINVAL, rofi_cancel(c));
    OK(rofi_wait(c));
    OK(rofi_recv(me, &x, 8, 19, NULL));
    OK(rofi_barrier());
    free(a);
    free(b);
    return test_finish("msg");
}
