/* error.c - error codes, their text, and the per-thread last-error message. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "rofi_internal.h"

/* Per thread, so concurrent RMA callers do not overwrite each other's text. */
static _Thread_local char last_error[2048];
static _Thread_local int last_pe = -1;

const char *rofi_strerror(int err)
{
    switch (err) {
    case ROFI_SUCCESS:   return "success";
    case ROFI_EINVAL:    return "invalid argument (PE, address range or alignment)";
    case ROFI_ENOMEM:    return "out of memory";
    case ROFI_ENOPROV:   return "requested libfabric provider/domain not available";
    case ROFI_EFABRIC:   return "libfabric call failed";
    case ROFI_EPMI:      return "PMI bootstrap failed";
    case ROFI_ETIMEDOUT: return "timed out waiting for a remote PE (ROFI_TIMEOUT)";
    case ROFI_ENOTSUP:   return "atomic operation/type not supported by the provider";
    case ROFI_ESIZE:     return "collective allocation with different sizes";
    case ROFI_ESTATE:    return "ROFI not initialized, or already initialized";
    case ROFI_ETRUNC:    return "message larger than the receive buffer";
    case ROFI_EPEER:     return "a peer PE is gone (its connection failed)";
    default:             return "unknown ROFI error code";
    }
}

const char *rofi_last_error(void)
{
    return last_error;
}

int rofi_error_pe(void)
{
    return last_pe;
}

int rofi_error(int code, const char *fmt, ...)
{
    va_list ap;
    last_pe = -1;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

int rofi_fi_code(int fi_err, int is_recv)
{
    switch (fi_err) {
    case FI_ETIMEDOUT: return ROFI_ETIMEDOUT;
    case FI_ENOMEM:    return ROFI_ENOMEM;
    case FI_ETRUNC:    return ROFI_ETRUNC;
    /* ROFI cancels only receives, on timeout; anything else the provider
     * cancelled because the connection behind it went away (ofi_rxm). */
    case FI_ECANCELED: return is_recv ? ROFI_ETIMEDOUT : ROFI_EPEER;
    case FI_ENOTCONN:
    case FI_ECONNRESET:
    case FI_ECONNREFUSED:
    case FI_ECONNABORTED:
    case FI_EHOSTUNREACH:
    case FI_ENETUNREACH:
    case EPIPE:        return ROFI_EPEER;
    default:           return ROFI_EFABRIC;
    }
}

int rofi_fi_error_pe(const char *call, long fi_rc, int pe)
{
    int code = rofi_fi_code((int)-fi_rc, 0);
    rofi_error(code, "%s failed: %s (%ld)%s", call, fi_strerror((int)-fi_rc), fi_rc,
               code == ROFI_EPEER ? ": the target PE is gone" : "");
    if (code == ROFI_EPEER)
        last_pe = pe;
    return code;
}

int rofi_fi_error(const char *call, long fi_rc)
{
    return rofi_fi_error_pe(call, fi_rc, -1);
}

int rofi_peer_error(int pe, int fi_err)
{
    rofi_error(ROFI_EPEER, "operation to PE %d failed: %s (%d)", pe,
               fi_strerror(fi_err), fi_err);
    last_pe = pe;
    return ROFI_EPEER;
}
