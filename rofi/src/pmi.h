/* pmi.h - minimal PMI-1 wire-protocol client (the "simple" PMI of MPICH
 * hydra, also served by lamellar-run).  All calls return 0 or a negative
 * ROFI_E* code, never block longer than ROFI_TIMEOUT, and fall back to a
 * process-local key-value store for a singleton (no PMI environment). */
#ifndef ROFI_PMI_H
#define ROFI_PMI_H

#include <stddef.h>

/* Connect (PMI_FD, or PMI_PORT + PMI_ID) and run init/get_maxes/
 * get_my_kvsname.  Idempotent: a second call returns the cached rank/size.
 * Registers an atexit handler that sends cmd=finalize if the program
 * exits without rofi_pmi_finalize(). */
int rofi_pmi_init(int *rank, int *size);
int rofi_pmi_put(const char *key, const char *value);
int rofi_pmi_get(const char *key, char *value, size_t cap);
int rofi_pmi_barrier(void);
int rofi_pmi_finalize(void);

/* Binary values: hex-encoded and split into chunks of at most vallen_max
 * characters (keys "<key>" = byte count, "<key>.<i>" = chunk i). */
int rofi_pmi_put_bytes(const char *key, const void *data, size_t len);
int rofi_pmi_get_bytes(const char *key, void *data, size_t cap, size_t *len);

#endif
