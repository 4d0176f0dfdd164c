//! # lamellar-run
//!
//! Launching a job on this node: spawn N PEs, serve them PMI-1, watch them, and bring the
//! whole job down when one fails, or when the launcher itself dies, however it dies. Used
//! by the `lamellar-run` binary and by `lamellar-bench --pes N`.

mod pmi_server;
mod supervise;

pub use supervise::{JobOutcome, JobSpec, parse_bind_to, run};
