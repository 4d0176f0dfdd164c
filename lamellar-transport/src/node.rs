//! Does this node run more PEs than it has CPUs for them? Waits give the CPU away only then
//! (`backoff`): a yield lets a PE that shares our core run, but costs ~1 µs on a VM, during
//! which a waiting target that must progress the transport to answer does not. Open MPI's
//! `yield_when_idle` follows the same rule; ROFI's C waits decide the same way (node.c).
//!
//! Each PE publishes the machine it runs on (the kernel's boot id: equal for every process
//! of one kernel, containers and network namespaces included) and the CPUs it may run on.
//! The node is oversubscribed when its PEs outnumber the CPUs in the union of their masks.
//! `LAMELLAR_YIELD=0/1` overrides the decision (e.g. 1 when the application runs threads
//! of its own on the PEs' cores).

use crate::bootstrap::Bootstrap;
use crate::error::{Error, Result};

/// The machine a PE runs on and the CPUs it may use (bit `c` of word `c / 64`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct NodeCard {
    boot_id: String,
    cpus: Vec<u64>,
}

impl NodeCard {
    fn own() -> NodeCard {
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default().trim().to_string();
        NodeCard { boot_id, cpus: affinity().unwrap_or_else(|| vec![1]) } // unknown: one CPU
    }

    /// `<boot id>/<mask words in hex, lowest first>`: ROFI's node card format.
    fn encode(&self) -> String {
        let last = self.cpus.iter().rposition(|&w| w != 0).unwrap_or(0);
        let words: Vec<String> = self.cpus.iter().take(last + 1).map(|w| format!("{w:x}")).collect();
        format!("{}/{}", self.boot_id, words.join(","))
    }

    fn decode(s: &str) -> Option<NodeCard> {
        let (boot_id, mask) = s.split_once('/')?;
        // Hex digits only: from_str_radix would also take a sign.
        let word = |w: &str| w.bytes().all(|b| b.is_ascii_hexdigit()).then(|| u64::from_str_radix(w, 16).ok()).flatten();
        let cpus = mask.split(',').map(word).collect::<Option<Vec<u64>>>()?;
        Some(NodeCard { boot_id: boot_id.into(), cpus })
    }
}

/// This process's CPU affinity mask, or None if the kernel will not say.
fn affinity() -> Option<Vec<u64>> {
    // SAFETY: cpu_set_t is plain bits (all-zero is the empty set); sched_getaffinity writes
    // at most size_of::<cpu_set_t>() bytes into it; CPU_ISSET reads within it for
    // cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        let n = libc::CPU_SETSIZE as usize;
        let mut words = vec![0u64; n / 64];
        for cpu in (0..n).filter(|&c| libc::CPU_ISSET(c, &set)) {
            words[cpu / 64] |= 1 << (cpu % 64);
        }
        Some(words)
    }
}

/// Oversubscribed: more PEs on `mine`'s machine (itself included) than CPUs in their masks.
fn oversubscribed(mine: &NodeCard, others: &[NodeCard]) -> bool {
    let local: Vec<&NodeCard> = std::iter::once(mine).chain(others.iter().filter(|c| c.boot_id == mine.boot_id)).collect();
    let words = local.iter().map(|c| c.cpus.len()).max().unwrap_or(0);
    let cpus: u32 = (0..words).map(|w| local.iter().fold(0u64, |u, c| u | c.cpus.get(w).copied().unwrap_or(0)).count_ones()).sum();
    local.len() > cpus as usize
}

/// Collective over the job: whether this PE's waits should yield (see the module doc).
/// Every PE takes part in the exchange, whatever its `LAMELLAR_YIELD`, so that PEs with
/// different settings still agree on the keys.
pub(crate) fn yield_when_waiting(boot: &mut Bootstrap) -> Result<bool> {
    let mine = NodeCard::own();
    let mut others = Vec::new();
    if boot.size > 1 {
        boot.put(&format!("node{}", boot.rank), &mine.encode())?;
        boot.barrier()?;
        let (me, npes) = (boot.rank, boot.size);
        for pe in (0..npes).filter(|&pe| pe != me) {
            let s = boot.get(&format!("node{pe}"))?;
            others.push(NodeCard::decode(&s).ok_or_else(|| Error::Bootstrap(format!("PE {pe} published a malformed node card '{s}'")))?);
        }
    }
    Ok(crate::config::yield_from_env().unwrap_or_else(|| oversubscribed(&mine, &others)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(boot: &str, cpus: &[usize]) -> NodeCard {
        let mut w = vec![0u64; 2];
        cpus.iter().for_each(|&c| w[c / 64] |= 1 << (c % 64));
        NodeCard { boot_id: boot.into(), cpus: w }
    }

    #[test]
    fn counts_pes_of_this_machine_against_the_union_of_their_cpus() {
        let a = card("a", &[0, 1]);
        // Unbound, 2 PEs on 2 CPUs: fine; a third is one too many.
        assert!(!oversubscribed(&a, &[card("a", &[0, 1])]));
        assert!(oversubscribed(&a, &[card("a", &[0, 1]), card("a", &[0, 1])]));
        // Bound one per core: fine; two bound to the same core: oversubscribed.
        assert!(!oversubscribed(&card("a", &[0]), &[card("a", &[1])]));
        assert!(oversubscribed(&card("a", &[0]), &[card("a", &[0])]));
        // PEs on another machine do not count, CPUs past 64 do.
        assert!(!oversubscribed(&card("a", &[0]), &[card("b", &[0]), card("b", &[0])]));
        assert!(!oversubscribed(&card("a", &[0]), &[card("a", &[100])]));
        assert!(!oversubscribed(&a, &[]));
    }

    #[test]
    fn a_malformed_card_from_a_peer_is_a_bootstrap_error() {
        let seed = [("node1".to_string(), "no-slash".to_string())].into_iter().collect();
        let mut boot = crate::bootstrap::test_kvs::bootstrap(0, 2, 1024, seed);
        let e = yield_when_waiting(&mut boot).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Bootstrap, "{e}");
        assert!(e.to_string().contains("PE 1"), "{e}");
    }

    #[test]
    fn card_text_round_trips_and_rejects_garbage() {
        let c = card("3f2a-11", &[0, 5, 64, 127]);
        assert_eq!(c.encode(), "3f2a-11/21,8000000000000001");
        assert_eq!(NodeCard::decode(&c.encode()), Some(c));
        assert_eq!(NodeCard::decode("x/1").map(|c| c.cpus), Some(vec![1]));
        for bad in ["no-slash", "x/", "x/zz", "x/1,,2", "x/1,", "x/+1", "x/-1", "x/ 1", "x/10000000000000000"] {
            assert_eq!(NodeCard::decode(bad), None, "{bad}");
        }
        let own = NodeCard::own();
        assert!(own.cpus.iter().any(|&w| w != 0), "this process may run somewhere");
        assert_eq!(NodeCard::decode(&own.encode()).map(|c| c.cpus.iter().map(|w| w.count_ones()).sum::<u32>()), Some(own.cpus.iter().map(|w| w.count_ones()).sum()));
    }
}
