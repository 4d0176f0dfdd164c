// Records the target triple so probes run from unit tests (no TARGET variable)
// still know which multiarch directory and compiler target to use.
fn main() {
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    println!("cargo::rustc-env=BUILD_SUPPORT_TARGET={target}");
    println!("cargo::rerun-if-changed=build.rs");
}
