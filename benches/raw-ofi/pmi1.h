/*
 * pmi1.h - the baseline's own PMI-1 client: just what a job needs to swap
 * endpoint names, over the socket a launcher hands each process in PMI_FD
 * (lamellar-run; MPICH's mpiexec.hydra does the same).
 *
 * Every call returns 0, or -1 with the reason in pmi1_error().  Replies are
 * awaited at most `timeout_s` seconds each, so a dead launcher or a missing
 * PE ends the run with an error instead of a hang.
 */
#ifndef OFI_BASELINE_PMI1_H
#define OFI_BASELINE_PMI1_H

#include <stddef.h>

/* Reads PMI_FD, PMI_RANK and PMI_SIZE; runs init, get_maxes, get_my_kvsname. */
int pmi1_init(int *rank, int *size, double timeout_s);

/* Publishes `len` bytes under `key` (keys are job-wide: put the rank in it).
 * Visible to the other PEs after the next pmi1_barrier(). */
int pmi1_put(const char *key, const void *data, size_t len);

/* Reads what some PE put under `key`: at most `cap` bytes, the size in *len. */
int pmi1_get(const char *key, void *data, size_t cap, size_t *len);

/* Returns once every PE of the job has entered it. */
int pmi1_barrier(void);

/* Says goodbye (hydra counts an exit without it as a failed PE). */
int pmi1_finalize(void);

const char *pmi1_error(void);

#endif
