//! Does this machine run more PEs than it has CPUs for them? Waits give the CPU away only then
//! (`backoff`): a yield lets a PE that shares our core run, but costs a syscall on a VM, during
//! which a waiting target that must progress the transport to answer does not. Open MPI's
//! `yield_when_idle` follows the same rule; ROFI's C waits decide the same way (node.c).
//!
//! The bootstrap learned at start where every PE runs (host identity and CPU mask,
//! [`lamellar_bootstrap::PeCard`]). The machine is oversubscribed when the PEs on its kernel
//! outnumber the CPUs in the union of their masks: PEs in other containers or network
//! namespaces of the same kernel (another "host" by name) share those CPUs all the same. `LAMELLAR_YIELD=0/1` overrides the decision (e.g. 1
//! when the application runs threads of its own on the PEs' cores).

use lamellar_bootstrap::{Job, PeCard};

/// Oversubscribed: more PEs on `mine`'s kernel (itself included) than CPUs in their masks.
fn oversubscribed(mine: &PeCard, others: &[&PeCard]) -> bool {
    let local: Vec<&PeCard> = std::iter::once(mine)
        .chain(others.iter().copied().filter(|c| c.kernel() == mine.kernel()))
        .collect();
    let words = local.iter().map(|c| c.cpus.len()).max().unwrap_or(0);
    let cpus: u32 = (0..words)
        .map(|w| {
            local.iter().fold(0u64, |u, c| u | c.cpus.get(w).copied().unwrap_or(0)).count_ones()
        })
        .sum();
    local.len() > cpus as usize
}

/// Whether this PE's waits should yield (see the module doc).
pub(crate) fn yield_when_waiting(job: &Job, setting: Option<bool>) -> bool {
    let me = job.rank();
    let others: Vec<&PeCard> = (0..job.size()).filter(|&p| p != me).map(|p| job.card(p)).collect();
    setting.unwrap_or_else(|| oversubscribed(job.card(me), &others))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(host: &str, cpus: &[usize]) -> PeCard {
        let mut w = vec![0u64; 2];
        cpus.iter().for_each(|&c| w[c / 64] |= 1 << (c % 64));
        PeCard { host: format!("{host}/boot-{host}/0:1"), cpus: w }
    }

    #[test]
    fn counts_pes_of_this_node_against_the_union_of_their_cpus() {
        let a = card("a", &[0, 1]);
        // Unbound, 2 PEs on 2 CPUs: fine; a third is one too many.
        assert!(!oversubscribed(&a, &[&card("a", &[0, 1])]));
        assert!(oversubscribed(&a, &[&card("a", &[0, 1]), &card("a", &[0, 1])]));
        // Bound one per core: fine; two bound to the same core: oversubscribed.
        assert!(!oversubscribed(&card("a", &[0]), &[&card("a", &[1])]));
        assert!(oversubscribed(&card("a", &[0]), &[&card("a", &[0])]));
        // PEs on another node do not count, CPUs past 64 do.
        assert!(!oversubscribed(&card("a", &[0]), &[&card("b", &[0]), &card("b", &[0])]));
        assert!(!oversubscribed(&card("a", &[0]), &[&card("a", &[100])]));
        assert!(!oversubscribed(&a, &[]));
    }

    #[test]
    fn hosts_on_one_kernel_share_its_cpus() {
        // Two network-namespace hosts of one machine, two PEs each, on its 2 CPUs.
        let on =
            |name: &str| PeCard { host: format!("{name}/the-boot-id/{name}:7"), cpus: vec![0b11] };
        let (h1, h2) = (on("h1"), on("h2"));
        assert!(oversubscribed(&h1, &[&on("h1"), &h2, &on("h2")]));
        assert!(!oversubscribed(&h1, &[&h2]));
    }
}
