//! `Job`: a connected bootstrap plus where every PE runs, learned in one exchange at start.

use crate::error::{Error, Result};
use crate::{Bootstrap, host};
use std::time::Duration;

/// Where one PE runs: its host identity (see [`host`]) and the CPUs it may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeCard {
    pub host: String,
    /// Bit `c` of word `c / 64` is CPU `c`.
    pub cpus: Vec<u64>,
}

impl PeCard {
    pub fn own() -> PeCard {
        PeCard { host: host::host_identity(), cpus: host::cpus() }
    }

    /// `<host identity>\n<mask words in hex, lowest first, comma-separated>`.
    pub fn encode(&self) -> Vec<u8> {
        let last = self.cpus.iter().rposition(|&w| w != 0).unwrap_or(0);
        let words: Vec<String> =
            self.cpus.iter().take(last + 1).map(|w| format!("{w:x}")).collect();
        format!("{}\n{}", self.host, words.join(",")).into_bytes()
    }

    pub fn decode(b: &[u8]) -> Option<PeCard> {
        let (host, mask) = std::str::from_utf8(b).ok()?.split_once('\n')?;
        // Hex digits only: from_str_radix would also take a sign.
        let word = |w: &str| {
            w.bytes()
                .all(|b| b.is_ascii_hexdigit())
                .then(|| u64::from_str_radix(w, 16).ok())
                .flatten()
        };
        let cpus = mask.split(',').map(word).collect::<Option<Vec<u64>>>()?;
        (!host.is_empty()).then(|| PeCard { host: host.into(), cpus })
    }

    /// The host name part of the identity.
    pub fn hostname(&self) -> &str {
        self.host.split('/').next().unwrap_or("")
    }

    /// The kernel this PE runs on (its boot id; the whole identity where there is none):
    /// processes of one kernel share its CPUs, whatever namespaces or containers they run in.
    pub fn kernel(&self) -> &str {
        match self.host.split('/').nth(1) {
            Some(boot) if !boot.is_empty() => boot,
            _ => &self.host,
        }
    }
}

/// This PE's view of the job.
pub struct Job {
    boot: Box<dyn Bootstrap>,
    cards: Vec<PeCard>,
    /// Node index of every PE, numbered in order of each node's lowest PE.
    node: Vec<usize>,
}

impl Job {
    /// Connects to the launcher in the environment (or none: a singleton) and learns where
    /// every PE runs. Collective.
    pub fn from_env(timeout: Duration) -> Result<Job> {
        Job::over(crate::connect(timeout)?)
    }

    /// Learns where every PE runs through `boot`. Collective.
    pub fn over(boot: Box<dyn Bootstrap>) -> Result<Job> {
        let mut job = Job { boot, cards: Vec::new(), node: Vec::new() };
        let cards = job.exchange("lt-card", &PeCard::own().encode())?;
        job.cards = cards
            .iter()
            .enumerate()
            .map(|(pe, c)| {
                PeCard::decode(c).ok_or_else(|| {
                    Error::Launcher(format!(
                        "PE {pe} published a malformed node card {:?}",
                        String::from_utf8_lossy(c)
                    ))
                })
            })
            .collect::<Result<_>>()?;
        let mut hosts: Vec<&str> = Vec::new();
        for c in &job.cards {
            let n = hosts.iter().position(|h| *h == c.host).unwrap_or_else(|| {
                hosts.push(&c.host);
                hosts.len() - 1
            });
            job.node.push(n);
        }
        Ok(job)
    }

    pub fn protocol(&self) -> &'static str {
        self.boot.protocol()
    }
    pub fn rank(&self) -> usize {
        self.boot.rank()
    }
    pub fn size(&self) -> usize {
        self.boot.size()
    }
    pub fn job_id(&self) -> &str {
        self.boot.job_id()
    }

    /// Where PE `pe` runs.
    pub fn card(&self, pe: usize) -> &PeCard {
        &self.cards[pe]
    }
    /// The node PE `pe` runs on, `0..nodes()`.
    pub fn node_of(&self, pe: usize) -> usize {
        self.node[pe]
    }
    /// How many nodes the job spans.
    pub fn nodes(&self) -> usize {
        self.node.iter().max().map_or(0, |m| m + 1)
    }
    /// The PEs on this PE's node, ascending (this PE included).
    pub fn local_pes(&self) -> Vec<usize> {
        let mine = self.node[self.rank()];
        (0..self.size()).filter(|&p| self.node[p] == mine).collect()
    }
    /// This PE's index among [`local_pes`](Self::local_pes).
    pub fn local_rank(&self) -> usize {
        let me = self.rank();
        self.local_pes().iter().position(|&p| p == me).unwrap_or(0)
    }
    pub fn local_size(&self) -> usize {
        self.local_pes().len()
    }

    /// Collective: publishes `own` under `key` and returns every PE's value, by rank.
    pub fn exchange(&mut self, key: &str, own: &[u8]) -> Result<Vec<Vec<u8>>> {
        let (me, n) = (self.rank(), self.size());
        if n == 1 {
            return Ok(vec![own.to_vec()]);
        }
        self.boot.put(key, own)?;
        self.boot.commit()?;
        self.boot.fence()?;
        (0..n).map(|pe| if pe == me { Ok(own.to_vec()) } else { self.boot.get(pe, key) }).collect()
    }

    pub fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.boot.put(key, value)
    }
    pub fn commit(&mut self) -> Result<()> {
        self.boot.commit()
    }
    /// Collective: every PE arrives (a singleton returns at once).
    pub fn fence(&mut self) -> Result<()> {
        if self.size() == 1 { Ok(()) } else { self.boot.fence() }
    }
    pub fn get(&mut self, rank: usize, key: &str) -> Result<Vec<u8>> {
        self.boot.get(rank, key)
    }
    pub fn abort(&mut self, code: i32, why: &str) -> Result<()> {
        self.boot.abort(code, why)
    }
    pub fn finalize(&mut self) -> Result<()> {
        self.boot.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A bootstrap for PE `rank` of `size` whose peers' values are given in advance.
    struct Seeded {
        rank: usize,
        size: usize,
        kv: HashMap<(usize, String), Vec<u8>>,
    }

    impl Bootstrap for Seeded {
        fn protocol(&self) -> &'static str {
            "seeded"
        }
        fn rank(&self) -> usize {
            self.rank
        }
        fn size(&self) -> usize {
            self.size
        }
        fn job_id(&self) -> &str {
            "t"
        }
        fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
            self.kv.insert((self.rank, key.into()), value.into());
            Ok(())
        }
        fn commit(&mut self) -> Result<()> {
            Ok(())
        }
        fn fence(&mut self) -> Result<()> {
            Ok(())
        }
        fn get(&mut self, rank: usize, key: &str) -> Result<Vec<u8>> {
            self.kv
                .get(&(rank, key.into()))
                .cloned()
                .ok_or_else(|| Error::Launcher(format!("no {key} from {rank}")))
        }
        fn abort(&mut self, _: i32, _: &str) -> Result<()> {
            Ok(())
        }
        fn finalize(&mut self) -> Result<()> {
            Ok(())
        }
    }

    fn job(rank: usize, peers: &[(usize, &str)]) -> Result<Job> {
        let kv = peers
            .iter()
            .map(|&(pe, card)| ((pe, "lt-card".to_string()), card.as_bytes().to_vec()))
            .collect();
        Job::over(Box::new(Seeded { rank, size: peers.len() + 1, kv }))
    }

    #[test]
    fn nodes_are_host_identities_numbered_by_lowest_pe() {
        let me = String::from_utf8(PeCard::own().encode()).unwrap();
        // Same host name and boot id but another /dev/shm: another node.
        let j =
            job(1, &[(0, "h/b/1:1\n3"), (2, &me), (3, "h/b/1:2\n3"), (4, "h/b/1:1\n1")]).unwrap();
        assert_eq!((0..5).map(|p| j.node_of(p)).collect::<Vec<_>>(), vec![0, 1, 1, 2, 0]);
        assert_eq!(
            (j.nodes(), j.local_pes(), j.local_rank(), j.local_size()),
            (3, vec![1, 2], 0, 2)
        );
        assert_eq!(j.card(0).hostname(), "h");
        assert_eq!(j.card(0).kernel(), "b");
    }

    #[test]
    fn a_malformed_card_from_a_peer_is_an_error_naming_it() {
        let e = job(0, &[(1, "no-newline")]).err().unwrap().to_string();
        assert!(e.contains("PE 1"), "{e}");
    }

    #[test]
    fn card_text_round_trips_and_rejects_garbage() {
        let c = PeCard { host: "h/3f2a-11/5:7".into(), cpus: vec![0x21, 0x8000000000000001, 0] };
        assert_eq!(c.encode(), b"h/3f2a-11/5:7\n21,8000000000000001");
        assert_eq!(
            PeCard::decode(&c.encode()).map(|d| d.cpus),
            Some(vec![0x21, 0x8000000000000001])
        );
        for bad in [
            "no-newline",
            "\n1",
            "x\n",
            "x\nzz",
            "x\n1,,2",
            "x\n1,",
            "x\n+1",
            "x\n-1",
            "x\n 1",
            "x\n10000000000000000",
        ] {
            assert_eq!(PeCard::decode(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn a_singleton_is_one_node_of_one_pe() {
        let mut j = Job::over(Box::new(crate::singleton::Singleton::new())).unwrap();
        assert_eq!((j.rank(), j.size(), j.nodes(), j.local_pes()), (0, 1, 1, vec![0]));
        assert_eq!(j.exchange("k", b"v").unwrap(), vec![b"v".to_vec()]);
        assert_eq!(j.card(0).host, PeCard::own().host);
    }
}
