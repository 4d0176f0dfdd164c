//! rpath for the native libraries behind the enabled backends, so this crate's own tests
//! run without LD_LIBRARY_PATH; and the same lib directories passed on as this crate's
//! `DEP_LAMELLAR_TRANSPORT_LIB`, so that a program depending on lamellar-transport alone
//! gets them with one line in its build.rs:
//! `build_support::rpath_from_deps(&["lamellar-transport"]);`

fn main() {
    let mut links = Vec::new();
    if cfg!(feature = "rofi") {
        links.push("rofi");
    }
    if cfg!(feature = "ucx") {
        links.push("ucx");
    }
    build_support::rpath_from_deps(&links);
    build_support::reexport_lib_dirs(&links);
}
