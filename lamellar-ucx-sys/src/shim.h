/* What bindgen cannot see in UCX's headers: function-like macros and static
 * inline functions, exported as real functions with a lamellar_ prefix. */
#ifndef LAMELLAR_UCX_SHIM_H
#define LAMELLAR_UCX_SHIM_H

#include <ucp/api/ucp.h>
#include <stdint.h>

int lamellar_ucs_ptr_is_err(ucs_status_ptr_t ptr);
int lamellar_ucs_ptr_is_ptr(ucs_status_ptr_t ptr);
/* UCS_INPROGRESS for a request pointer, else the status it encodes. */
ucs_status_t lamellar_ucs_ptr_status(ucs_status_ptr_t ptr);
ucs_status_t lamellar_ucs_ptr_raw_status(ucs_status_ptr_t ptr);
ucp_datatype_t lamellar_ucp_dt_make_contig(size_t elem_size);
/* ucp_init is static inline: it passes the header's API version to
 * ucp_init_version, which is what makes the version check meaningful. */
ucs_status_t lamellar_ucp_init(const ucp_params_t *params, const ucp_config_t *config,
                               ucp_context_h *context_p);

#endif
