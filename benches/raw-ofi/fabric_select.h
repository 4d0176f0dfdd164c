/*
 * fabric_select.h - which libfabric provider and domain to run on.
 */
#ifndef OFI_BASELINE_FABRIC_SELECT_H
#define OFI_BASELINE_FABRIC_SELECT_H

#include <rdma/fabric.h>

/* provs and doms are NULL (any) or comma-separated lists of exact names in
 * order of preference ("tcp;ofi_rxm", "shm,tcp;ofi_rxm"): the first
 * provider, in the first domain that has it, wins, with FI_ATOMIC where that
 * provider offers it there.  The fi_info is the caller's to fi_freeinfo;
 * NULL if nothing matches. */
struct fi_info *fabric_select(const char *provs, const char *doms);

#endif
