/* Every atomic op on every type, with all PEs hitting the same word at
 * once; totals must come out exact.  Unsupported pairs must report
 * ROFI_ENOTSUP both in the query and from the call. */
#include "common.h"

#define ITERS 100
#define XITERS 101 /* odd: each PE's XOR bit ends up set */

static const char *tname[] = { "int32", "uint32", "int64", "uint64" };
static rofi_type_t T;
static int target;
static uint64_t *slots; /* symmetric: one 8-byte slot per test */

static int is32(void) { return T == ROFI_INT32 || T == ROFI_UINT32; }

static uint64_t norm(uint64_t v) /* value as the type would hold it */
{
    return is32() ? (uint64_t)(uint32_t)v : v;
}

static uint64_t local_word(int slot)
{
    if (is32()) {
        uint32_t x;
        memcpy(&x, &slots[slot], 4);
        return x;
    }
    return slots[slot];
}

/* One atomic on slot of the target; returns the fetched value (if any). */
static uint64_t at(rofi_atomic_op_t op, int slot, uint64_t operand, uint64_t compare)
{
    uint64_t opnd = 0, cmp = 0, res = 0;
    if (is32()) {
        uint32_t a = (uint32_t)operand, c = (uint32_t)compare;
        memcpy(&opnd, &a, 4);
        memcpy(&cmp, &c, 4);
    } else {
        opnd = operand;
        cmp = compare;
    }
    OK(rofi_atomic(op, T, &slots[slot], &opnd, &cmp, &res, target));
    return norm(res);
}

static int supported(rofi_atomic_op_t op)
{
    int s = rofi_atomic_supported(op, T);
    OK(s);
    if (!s) {
        uint64_t v = 1, r;
        FAILS_WITH(ROFI_ENOTSUP, rofi_atomic(op, T, &slots[15], &v, &v, &r, target));
        if (me == 0)
            printf("  %s op %d: not supported (ROFI_ENOTSUP checked)\n", tname[T], (int)op);
    }
    return s;
}

enum { S_FADD, S_ADD, S_CAS, S_SWAP, S_SWAPSUM, S_FOR, S_OR, S_FAND, S_AND, S_FXOR, S_XOR,
       S_SET, S_NEG };

static void run_type(void)
{
    uint64_t mine = 1ULL << me, all = (np >= 64 ? ~0ULL : (1ULL << np) - 1);
    if (me == target) {
        memset(slots, 0, 16 * sizeof *slots);
        uint64_t ones = ~0ULL;
        memcpy(&slots[S_FAND], &ones, 8);
        memcpy(&slots[S_AND], &ones, 8);
    }
    OK(rofi_barrier());

    if (supported(ROFI_ATOMIC_FETCH_ADD)) {
        uint64_t last = 0;
        for (int i = 0; i < ITERS; i++) {
            uint64_t old = at(ROFI_ATOMIC_FETCH_ADD, S_FADD, 1, 0);
            CHECK(old < (uint64_t)np * ITERS && (i == 0 || old > last),
                  "%s fetch_add returned %llu after %llu", tname[T],
                  (unsigned long long)old, (unsigned long long)last);
            last = old;
        }
    }
    if (supported(ROFI_ATOMIC_ADD))
        for (int i = 0; i < ITERS; i++)
            at(ROFI_ATOMIC_ADD, S_ADD, 2, 0);
    if (supported(ROFI_ATOMIC_CSWAP) && supported(ROFI_ATOMIC_FETCH))
        for (int i = 0; i < ITERS; i++) {
            uint64_t cur = at(ROFI_ATOMIC_FETCH, S_CAS, 0, 0), old;
            while ((old = at(ROFI_ATOMIC_CSWAP, S_CAS, cur + 1, cur)) != cur)
                cur = old;
        }
    if (supported(ROFI_ATOMIC_SWAP) && supported(ROFI_ATOMIC_ADD)) {
        /* Conservation: everything swapped out + what is left = swapped in. */
        uint64_t got = 0;
        for (int i = 0; i < ITERS; i++)
            got += at(ROFI_ATOMIC_SWAP, S_SWAP, (uint64_t)(me + 1) * 1000 + (uint64_t)i, 0);
        at(ROFI_ATOMIC_ADD, S_SWAPSUM, got, 0);
    }
    if (supported(ROFI_ATOMIC_FETCH_OR))
        for (int i = 0; i < ITERS; i++) {
            uint64_t old = at(ROFI_ATOMIC_FETCH_OR, S_FOR, mine, 0);
            CHECK(i == 0 || (old & mine), "%s fetch_or lost my bit", tname[T]);
        }
    if (supported(ROFI_ATOMIC_OR))
        for (int i = 0; i < ITERS; i++)
            at(ROFI_ATOMIC_OR, S_OR, mine, 0);
    if (supported(ROFI_ATOMIC_FETCH_AND))
        for (int i = 0; i < ITERS; i++) {
            uint64_t old = at(ROFI_ATOMIC_FETCH_AND, S_FAND, ~mine, 0);
            CHECK(i == 0 || !(old & mine), "%s fetch_and: my bit came back", tname[T]);
        }
    if (supported(ROFI_ATOMIC_AND))
        for (int i = 0; i < ITERS; i++)
            at(ROFI_ATOMIC_AND, S_AND, ~mine, 0);
    if (supported(ROFI_ATOMIC_FETCH_XOR))
        for (int i = 0; i < XITERS; i++) {
            uint64_t old = at(ROFI_ATOMIC_FETCH_XOR, S_FXOR, mine, 0);
            CHECK(!!(old & mine) == (i & 1), "%s fetch_xor: my bit wrong at %d", tname[T], i);
        }
    if (supported(ROFI_ATOMIC_XOR))
        for (int i = 0; i < XITERS; i++)
            at(ROFI_ATOMIC_XOR, S_XOR, mine, 0);
    if (supported(ROFI_ATOMIC_SET) && supported(ROFI_ATOMIC_FETCH))
        for (int i = 0; i < ITERS; i++) {
            at(ROFI_ATOMIC_SET, S_SET, (uint64_t)me + 1, 0);
            uint64_t v = at(ROFI_ATOMIC_FETCH, S_SET, 0, 0);
            CHECK(v >= 1 && v <= (uint64_t)np, "%s fetch saw %llu", tname[T],
                  (unsigned long long)v);
        }
    if ((T == ROFI_INT32 || T == ROFI_INT64) && rofi_atomic_supported(ROFI_ATOMIC_ADD, T) == 1)
        for (int i = 0; i < ITERS; i++)
            at(ROFI_ATOMIC_ADD, S_NEG, (uint64_t)-3, 0);

    OK(rofi_barrier());
    if (me != target)
        goto out;
#define WANT(slot, op, expect)                                                    \
    if (rofi_atomic_supported(op, T) == 1)                                       \
        CHECK(local_word(slot) == norm(expect), "%s slot %d: %llu, want %llu",   \
              tname[T], slot, (unsigned long long)local_word(slot),              \
              (unsigned long long)norm(expect))
    WANT(S_FADD, ROFI_ATOMIC_FETCH_ADD, (uint64_t)np * ITERS);
    WANT(S_ADD, ROFI_ATOMIC_ADD, 2ULL * np * ITERS);
    WANT(S_CAS, ROFI_ATOMIC_CSWAP, (uint64_t)np * ITERS);
    uint64_t in = 0;
    for (int pe = 0; pe < np; pe++)
        for (int i = 0; i < ITERS; i++)
            in += (uint64_t)(pe + 1) * 1000 + (uint64_t)i;
    if (rofi_atomic_supported(ROFI_ATOMIC_SWAP, T) == 1)
        CHECK(norm(local_word(S_SWAP) + local_word(S_SWAPSUM)) == norm(in),
              "%s swap conservation: %llu + %llu != %llu", tname[T],
              (unsigned long long)local_word(S_SWAP),
              (unsigned long long)local_word(S_SWAPSUM), (unsigned long long)in);
    WANT(S_FOR, ROFI_ATOMIC_FETCH_OR, all);
    WANT(S_OR, ROFI_ATOMIC_OR, all);
    WANT(S_FAND, ROFI_ATOMIC_FETCH_AND, ~all);
    WANT(S_AND, ROFI_ATOMIC_AND, ~all);
    WANT(S_FXOR, ROFI_ATOMIC_FETCH_XOR, all);
    WANT(S_XOR, ROFI_ATOMIC_XOR, all);
    if (T == ROFI_INT32 || T == ROFI_INT64)
        WANT(S_NEG, ROFI_ATOMIC_ADD, (uint64_t)(-3LL * np * ITERS));
out:
    OK(rofi_barrier());
}

int main(void)
{
    test_init();
    OK(rofi_alloc(16 * sizeof(uint64_t), (void **)&slots));
    int any = 0;
    for (int t = 0; t < ROFI_NUM_TYPES; t++)
        for (int o = 0; o < ROFI_NUM_ATOMIC_OPS; o++)
            any |= rofi_atomic_supported(o, t) == 1;
    if (me == 0 && !any)
        printf("provider %s has no atomics: only ROFI_ENOTSUP is checked\n",
               rofi_provider_name());
    for (int t = 0; t < ROFI_NUM_TYPES; t++) {
        T = (rofi_type_t)t;
        target = t % np; /* vary the target, including self */
        run_type();
    }
    /* Misaligned and out-of-range atomics are rejected before any I/O. */
    uint64_t v = 1, r;
    if (rofi_atomic_supported(ROFI_ATOMIC_FETCH_ADD, ROFI_UINT64) == 1) {
        FAILS_WITH(ROFI_EINVAL, rofi_atomic(ROFI_ATOMIC_FETCH_ADD, ROFI_UINT64,
                                            (char *)slots + 4, &v, NULL, &r, 0));
        FAILS_WITH(ROFI_EINVAL, rofi_atomic(ROFI_ATOMIC_FETCH_ADD, ROFI_UINT64, &slots[16],
                                            &v, NULL, &r, 0));
        FAILS_WITH(ROFI_EINVAL, rofi_atomic(ROFI_ATOMIC_FETCH_ADD, ROFI_UINT64, &slots[0], &v,
                                            NULL, &r, np));
        /* Non-blocking form. */
        rofi_op_t *op;
        OK(rofi_atomic_nb(ROFI_ATOMIC_FETCH_ADD, ROFI_UINT64, &slots[14], &v, NULL, &r,
                          (me + 1) % np, &op));
        OK(rofi_wait(op));
        OK(rofi_barrier());
        CHECK(slots[14] == 1, "nb fetch_add: slot is %llu, want 1 (one add from the previous PE)",
              (unsigned long long)slots[14]);
    }
    OK(rofi_barrier());
    OK(rofi_release(slots));
    return test_finish("atomic");
}
