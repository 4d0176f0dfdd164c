//! Raw bindings to ROFI (`rofi.h`): every function returns `ROFI_SUCCESS` (0) or a negative
//! `ROFI_E*` code; `rofi_strerror` / `rofi_last_error` describe it. The safe wrapper is the
//! `rofi` backend of lamellar-transport.
//!
//! Build metadata for dependents: `DEP_ROFI_ROOT`, `DEP_ROFI_LIB` (ROFI's and libfabric's
//! lib directories), `DEP_ROFI_INCLUDE`, `DEP_ROFI_OFI_ROOT`; a downstream build.rs calls
//! `build_support::rpath_from_deps(&["rofi"])` so its binaries find both at run time.

#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

unsafe extern "C" {
    /// libfabric's `fi_version()`: the version of the libfabric actually loaded, major in the
    /// high 16 bits, minor in the low (rofi.h does not include fabric.h, so it is declared here).
    pub fn fi_version() -> u32;
}
