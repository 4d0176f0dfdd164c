//! Launching a job on this node: spawn N PEs, serve them PMI-1, watch them, and bring the
//! whole job down when one fails. Used by `lamellar-run` and by `lamellar-bench`.

mod pmi_server;
mod supervise;

pub use supervise::{JobOutcome, JobSpec, parse_bind_to, run};
