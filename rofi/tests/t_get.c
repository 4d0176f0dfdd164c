/* Blocking get returns with the data, for many sizes, from peers and self. */
#include "common.h"

#define MAXSZ ((1 << 20) + 5)

static unsigned char pattern(int pe, size_t i)
{
    return (unsigned char)(pe * 17 + i * 3 + 5);
}

int main(void)
{
    test_init();
    unsigned char *heap, *dst = malloc(MAXSZ);
    OK(rofi_alloc(MAXSZ, (void **)&heap));
    for (size_t i = 0; i < MAXSZ; i++)
        heap[i] = pattern(me, i);
    OK(rofi_barrier());
    size_t sizes[] = { 1, 8, 100, 4096, 65536, MAXSZ };
    for (int d = 0; d < np; d++) {
        int pe = (me + d) % np;
        for (int s = 0; s < 6; s++) {
            size_t off = sizes[s] == MAXSZ ? 0 : 3;
            memset(dst, 0, sizes[s]);
            OK(rofi_get(dst, heap + off, sizes[s], pe));
            for (size_t i = 0; i < sizes[s]; i++)
                if (dst[i] != pattern(pe, i + off)) {
                    CHECK(0, "get %zu from PE %d: byte %zu wrong", sizes[s], pe, i);
                    break;
                }
        }
    }
    OK(rofi_barrier());
    OK(rofi_release(heap));
    free(dst);
    return test_finish("get");
}
