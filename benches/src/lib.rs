//! lamellar-bench's shared parts: what its binaries (`lamellar-bench`, `core-pingpong`,
//! `ofi-baseline`) and the criterion bench (benches/transport.rs) measure with alike, so that
//! their figures come from the same loops.

pub mod bare;
pub mod cacheline;
#[cfg(feature = "rofi")]
pub mod raw_ofi;
pub mod stats;
