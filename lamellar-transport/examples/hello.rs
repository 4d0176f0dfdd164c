//! The smallest job: every PE joins, meets the others at a barrier, says where it runs.
//! `lamellar-run -n 4 target/release/examples/hello`, or under hydra, mpirun or srun.

use lamellar_transport::Transport;

fn main() -> Result<(), lamellar_transport::Error> {
    let t = Transport::init()?;
    t.barrier()?;
    let me = t.my_pe();
    let waits = if t.yields_when_waiting() { "yield" } else { "spin" };
    println!(
        "PE {me} of {} on {} (node {} of {}), backend {}, waits {waits}",
        t.num_pes(),
        t.host_of(me)?,
        t.node_of(me)?,
        t.nodes(),
        t.backend_name()
    );
    t.finalize()
}
