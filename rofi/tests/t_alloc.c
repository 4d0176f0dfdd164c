/* Collective alloc/release, zeroed memory, address translation. */
#include <pthread.h>

#include "common.h"

/* One thread's puts to two allocations while another thread allocates and
 * releases others: every put must land where it was sent. */
struct rma_thread {
    long *x, *y;
    int peer, rc;
};

static void *rma_thread_main(void *arg)
{
    struct rma_thread *w = arg;
    for (long i = 0; i < 2000 && !w->rc; i++) {
        w->rc = rofi_put(&w->x[i % 8], &i, sizeof i, w->peer);
        if (!w->rc)
            w->rc = rofi_put(&w->y[i % 8], &i, sizeof i, w->peer);
    }
    return NULL;
}

int main(void)
{
    test_init();
    size_t sizes[] = { 0, 1, 8, 4096, 1 << 20, 3 << 20 };
    void *bufs[6];
    for (int i = 0; i < 6; i++) {
        OK(rofi_alloc(sizes[i], &bufs[i]));
        CHECK(bufs[i] != NULL, "alloc %zu gave NULL", sizes[i]);
        for (size_t b = 0; b < sizes[i]; b++)
            if (((unsigned char *)bufs[i])[b]) {
                CHECK(0, "alloc %zu byte %zu not zero", sizes[i], b);
                break;
            }
    }
    for (int i = 1; i < 6; i++) {
        char *last = (char *)bufs[i] + sizes[i] - 1;
        CHECK(rofi_get_remote_addr(last, me) == last, "self translation");
        for (int pe = 0; pe < np; pe++) {
            void *r = rofi_get_remote_addr(last, pe);
            CHECK(r != NULL, "no remote addr for PE %d", pe);
            CHECK(rofi_get_local_addr(r, pe) == last, "inverse translation PE %d", pe);
        }
        CHECK(rofi_get_remote_addr(last, np) == NULL, "PE out of range translated");
    }
    int local;
    CHECK(rofi_get_remote_addr(&local, 0) == NULL, "stack address translated");
    for (int i = 5; i >= 0; i--)
        OK(rofi_release(bufs[i]));
    FAILS_WITH(ROFI_EINVAL, rofi_release(&local));
    /* Many alloc/release cycles: keys and sequence numbers keep working. */
    for (int i = 0; i < 50; i++) {
        void *p;
        OK(rofi_alloc(64, &p));
        OK(rofi_put(p, &i, sizeof i, (me + 1) % np));
        OK(rofi_barrier());
        CHECK(*(int *)p == i, "cycle %d got %d", i, *(int *)p);
        OK(rofi_release(p));
    }
    /* ROFI keeps, per thread, the allocation it last addressed: alternating
     * between two must still use each one's own keys and addresses, and a
     * released one must be forgotten, even if its address comes back with
     * another size. */
    int *a, *b;
    OK(rofi_alloc(64, (void **)&a));
    OK(rofi_alloc(4096, (void **)&b));
    int peer = (me + 1) % np;
    for (int i = 0; i < 8; i++) {
        int va = 100 + i, vb = 200 + i;
        OK(rofi_put(&a[i], &va, sizeof va, peer));
        OK(rofi_put(&b[1000 + i], &vb, sizeof vb, peer));
    }
    OK(rofi_barrier());
    for (int i = 0; i < 8; i++)
        CHECK(a[i] == 100 + i && b[1000 + i] == 200 + i, "alternating puts: a[%d] = %d, b = %d",
              i, a[i], b[1000 + i]);
    OK(rofi_put(&a[15], &peer, sizeof peer, peer)); /* a: the thread's last (a[15]: not checked) */
    OK(rofi_release(a));
    FAILS_WITH(ROFI_EINVAL, rofi_put(a, &peer, sizeof peer, peer));
    CHECK(rofi_get_remote_addr(a, peer) == NULL, "released allocation translated");
    char big[4096] = { 0 };
    for (int i = 0; i < 20; i++) {
        char *small, *large;
        OK(rofi_alloc(16, (void **)&small));
        OK(rofi_put(small, big, 16, peer));
        OK(rofi_release(small));
        OK(rofi_alloc(4096, (void **)&large)); /* often at small's address */
        OK(rofi_put(large, big, sizeof big, peer));
        OK(rofi_release(large));
        OK(rofi_alloc(16, (void **)&small));
        FAILS_WITH(ROFI_EINVAL, rofi_put(small, big, sizeof big, peer));
        OK(rofi_release(small));
    }
    OK(rofi_release(b));

    struct rma_thread w = { .peer = peer };
    OK(rofi_alloc(64, (void **)&w.x));
    OK(rofi_alloc(64, (void **)&w.y));
    pthread_t tid;
    CHECK(pthread_create(&tid, NULL, rma_thread_main, &w) == 0, "pthread_create");
    for (int i = 0; i < 20; i++) {
        void *z;
        OK(rofi_alloc(32 << (i % 4), &z));
        OK(rofi_put(z, big, 32, peer));
        OK(rofi_release(z));
    }
    pthread_join(tid, NULL);
    CHECK(w.rc == 0, "put thread: %d (%s)", w.rc, rofi_strerror(w.rc));
    OK(rofi_barrier());
    for (int k = 0; k < 8; k++)
        CHECK(w.x[k] == 1992 + k && w.y[k] == 1992 + k, "x[%d] = %ld, y[%d] = %ld (want %d)",
              k, w.x[k], k, w.y[k], 1992 + k);
    OK(rofi_release(w.x));
    OK(rofi_release(w.y));
    return test_finish("alloc");
}
