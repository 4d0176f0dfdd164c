/* team.c - PE lists, dissemination barrier and allgather.
 *
 * Collectives use tagged messages whose tag carries (kind, source, team,
 * round, sequence).  Members of a team run its collectives in the same
 * order, so the per-team sequence number agrees everywhere, and the
 * provider's tag matching pairs each receive with exactly the right
 * message, however early it arrived.  No shared slots, nothing to reset. */
#include <stdlib.h>
#include <string.h>

#include "rofi_internal.h"

static uint32_t team_id(const int *pes, int n)
{
    uint32_t h = 2166136261u; /* FNV-1a over the member list */
    for (int i = 0; i < n; i++) {
        h ^= (uint32_t)pes[i];
        h *= 16777619u;
    }
    return 1 + h % 4095; /* 12 bits; 0 is the world team */
}

int rofi_team_get(const int *pes, int npes, struct rofi_team **out)
{
    int world = pes == NULL;
    int n = world ? rofi.size : npes, me = -1;

    if (!world) {
        if (npes < 1 || npes > rofi.size)
            return rofi_error(ROFI_EINVAL, "team: %d PEs (job has %d)", npes, rofi.size);
        for (int i = 0; i < npes; i++) {
            if (pes[i] < 0 || pes[i] >= rofi.size || (i && pes[i] <= pes[i - 1]))
                return rofi_error(ROFI_EINVAL,
                                  "team: PE list must be ascending ids in [0, %d)",
                                  rofi.size);
            if (pes[i] == rofi.rank)
                me = i;
        }
        if (me < 0)
            return rofi_error(ROFI_EINVAL, "team: caller (PE %d) is not a member", rofi.rank);
        for (struct rofi_team *t = rofi.teams; t; t = t->next)
            if (t->n == npes && memcmp(t->pes, pes, (size_t)npes * sizeof *pes) == 0) {
                *out = t;
                return 0;
            }
    }
    struct rofi_team *t = calloc(1, sizeof *t);
    if (!t || !(t->pes = malloc((size_t)n * sizeof *t->pes))) {
        free(t);
        return rofi_error(ROFI_ENOMEM, "team: out of memory");
    }
    t->n = n;
    for (int i = 0; i < n; i++)
        t->pes[i] = world ? i : pes[i];
    t->me = world ? rofi.rank : me;
    t->id = world ? 0 : team_id(pes, npes);
    t->next = rofi.teams;
    rofi.teams = t;
    *out = t;
    return 0;
}

void rofi_team_free_all(void)
{
    while (rofi.teams) {
        struct rofi_team *t = rofi.teams;
        rofi.teams = t->next;
        free(t->pes);
        free(t);
    }
    rofi.world = NULL;
}

/* Post a receive of len bytes into op scratch from pe with tag. */
static struct rofi_op *recv_from(int pe, size_t len, uint64_t tag)
{
    struct rofi_op *op = rofi_op_new(OP_UNCOUNTED);
    if (op) {
        op->is_recv = 1;
        rofi_post_recv(op, pe, op->scratch, len, tag, 0); /* failure finishes op */
    }
    return op;
}

static struct rofi_op *send_to(int pe, const void *data, size_t len, uint64_t tag)
{
    struct rofi_op *op = rofi_op_new(OP_UNCOUNTED);
    if (op) {
        memcpy(op->scratch, data, len);
        rofi_post_send(op, pe, op->scratch, len, tag);
    }
    return op;
}

/* Wait for op (NULL = allocation failed), keep the first error. */
static void wait_keep_first(struct rofi_op *op, double deadline, int *rc, void *copy_out,
                            size_t len)
{
    int orphaned = 0, r;
    if (!op) {
        r = rofi_error(ROFI_ENOMEM, "collective: out of memory");
    } else {
        r = rofi_op_wait_until(op, deadline, &orphaned);
        if (!r && copy_out)
            memcpy(copy_out, op->scratch, len);
        if (!orphaned)
            rofi_op_wait(op); /* already done: just frees */
    }
    if (r && !*rc)
        *rc = r;
}

int rofi_team_barrier(struct rofi_team *t)
{
    int rc = rofi_quiet();
    if (rc)
        return rc;
    uint32_t seq = t->seq++;
    double deadline = rofi_now() + rofi_timeout_s();
    /* Round r: tell the member 2^r ahead, hear from the one 2^r behind.
     * After ceil(log2 n) rounds everyone has (transitively) heard from all. */
    for (int dist = 1, round = 0; dist < t->n && !rc; dist <<= 1, round++) {
        int to = t->pes[(t->me + dist) % t->n];
        int from = t->pes[(t->me - dist + t->n) % t->n];
        uint64_t token = seq;
        struct rofi_op *r = recv_from(from, sizeof token,
                                      rofi_tag_coll(TAG_BARRIER, from, t->id, round, seq));
        struct rofi_op *s = send_to(to, &token, sizeof token,
                                    rofi_tag_coll(TAG_BARRIER, rofi.rank, t->id, round, seq));
        wait_keep_first(s, deadline, &rc, NULL, 0);
        wait_keep_first(r, deadline, &rc, NULL, 0);
    }
    return rc;
}

int rofi_team_allgather(struct rofi_team *t, const void *mine, size_t len, void *out)
{
    struct rofi_op **ops = calloc(2 * (size_t)t->n, sizeof *ops);
    if (!ops || len > sizeof ((struct rofi_op *)0)->scratch) {
        free(ops);
        return rofi_error(ROFI_ENOMEM, "allgather: out of memory");
    }
    uint32_t seq = t->seq++;
    double deadline = rofi_now() + rofi_timeout_s();
    int rc = 0;
    /* Everyone sends its contribution to everyone: n-1 messages each,
     * fine for the sizes a single node or small cluster job has. */
    for (int j = 0; j < t->n; j++)
        if (j != t->me)
            ops[j] = recv_from(t->pes[j], len,
                               rofi_tag_coll(TAG_ALLGATHER, t->pes[j], t->id, 0, seq));
    for (int j = 0; j < t->n; j++)
        if (j != t->me)
            ops[t->n + j] = send_to(t->pes[j], mine, len,
                                    rofi_tag_coll(TAG_ALLGATHER, rofi.rank, t->id, 0, seq));
    memcpy((char *)out + (size_t)t->me * len, mine, len);
    for (int j = 0; j < t->n; j++)
        if (j != t->me) {
            wait_keep_first(ops[t->n + j], deadline, &rc, NULL, 0);
            wait_keep_first(ops[j], deadline, &rc, (char *)out + (size_t)j * len, len);
        }
    free(ops);
    return rc;
}

int rofi_barrier(void)
{
    ROFI_CHECK_INIT();
    return rofi_team_barrier(rofi.world);
}

int rofi_barrier_pes(const int *pes, int npes)
{
    ROFI_CHECK_INIT();
    struct rofi_team *t;
    int rc = pes ? rofi_team_get(pes, npes, &t)
                 : rofi_error(ROFI_EINVAL, "rofi_barrier_pes: NULL PE list");
    return rc ? rc : rofi_team_barrier(t);
}
