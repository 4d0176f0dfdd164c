//! rpath for the native libraries behind the enabled backends, so this crate's own binaries
//! (lamellar-run) and tests run without LD_LIBRARY_PATH.

fn main() {
    #[cfg(feature = "rofi")]
    build_support::rpath_from_deps(&["rofi"]);
}
