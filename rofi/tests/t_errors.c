/* Bad arguments are rejected with ROFI_EINVAL before any byte moves. */
#include "common.h"

int main(void)
{
    test_init();
    char *heap, local[64] = { 0 };
    rofi_op_t *op;
    OK(rofi_alloc(64, (void **)&heap));
    FAILS_WITH(ROFI_EINVAL, rofi_put(heap, local, 65, 0));       /* past the end */
    FAILS_WITH(ROFI_EINVAL, rofi_put(heap + 60, local, 8, 0));   /* straddles end */
    FAILS_WITH(ROFI_EINVAL, rofi_get(local, heap + 64, 1, 0));   /* starts at end */
    FAILS_WITH(ROFI_EINVAL, rofi_put(heap, local, 8, np));       /* bad PE */
    FAILS_WITH(ROFI_EINVAL, rofi_put(heap, local, 8, -1));
    FAILS_WITH(ROFI_EINVAL, rofi_put(local, heap, 8, 0));        /* not symmetric */
    FAILS_WITH(ROFI_EINVAL, rofi_put_nb(heap, local, 8, 0, NULL));
    FAILS_WITH(ROFI_EINVAL, rofi_get_nb(local, heap, 100, 0, &op));
    FAILS_WITH(ROFI_EINVAL, rofi_release(heap + 1));
    FAILS_WITH(ROFI_EINVAL, rofi_send(np, local, 8, 0));
    FAILS_WITH(ROFI_EINVAL, rofi_atomic_supported(ROFI_NUM_ATOMIC_OPS, ROFI_UINT64));
    CHECK(strcmp(rofi_strerror(ROFI_ETIMEDOUT), rofi_strerror(ROFI_EINVAL)) != 0, "strerror");
    OK(rofi_barrier());
    OK(rofi_release(heap));
    return test_finish("errors");
}
