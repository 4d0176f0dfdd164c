#include "shim.h"

int lamellar_ucs_ptr_is_err(ucs_status_ptr_t ptr) { return UCS_PTR_IS_ERR(ptr); }

int lamellar_ucs_ptr_is_ptr(ucs_status_ptr_t ptr) { return UCS_PTR_IS_PTR(ptr); }

ucs_status_t lamellar_ucs_ptr_status(ucs_status_ptr_t ptr) { return UCS_PTR_STATUS(ptr); }

ucs_status_t lamellar_ucs_ptr_raw_status(ucs_status_ptr_t ptr) { return UCS_PTR_RAW_STATUS(ptr); }

ucp_datatype_t lamellar_ucp_dt_make_contig(size_t elem_size) { return ucp_dt_make_contig(elem_size); }

ucs_status_t lamellar_ucp_init(const ucp_params_t *params, const ucp_config_t *config,
                               ucp_context_h *context_p)
{
    return ucp_init(params, config, context_p);
}
