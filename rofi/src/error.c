/* error.c - error codes, their text, and the per-thread last-error message. */
#include <stdarg.h>
#include <stdio.h>

#include "rofi_internal.h"

/* Per thread, so concurrent RMA callers do not overwrite each other's text. */
static _Thread_local char last_error[2048];

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
    default:             return "unknown ROFI error code";
    }
}

const char *rofi_last_error(void)
{
    return last_error;
}

int rofi_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

int rofi_fi_error(const char *call, long fi_rc)
{
    int code = ROFI_EFABRIC;
    if (fi_rc == -FI_ETIMEDOUT)
        code = ROFI_ETIMEDOUT;
    else if (fi_rc == -FI_ENOMEM)
        code = ROFI_ENOMEM;
    return rofi_error(code, "%s failed: %s (%ld)", call,
                      fi_strerror((int)-fi_rc), fi_rc);
}
