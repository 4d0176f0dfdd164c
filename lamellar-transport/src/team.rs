//! Teams: an ordered list of distinct world PEs.

use crate::error::{Error, Result};
use std::sync::Arc;

/// A set of PEs that allocate and synchronize together. Cheap to clone.
///
/// Creating a team is local (no communication); collective calls on it must be made by every
/// member, in the same order on every member.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Team {
    pes: Arc<[usize]>,
}

impl Team {
    /// All PEs of a job of `num_pes`.
    pub fn world(num_pes: usize) -> Team {
        Team { pes: (0..num_pes).collect() }
    }

    /// A team of the given world PEs; each must be below `num_pes` and appear once.
    pub fn new(pes: &[usize], num_pes: usize) -> Result<Team> {
        if pes.is_empty() {
            return Err(Error::InvalidArgument("a team needs at least one PE".into()));
        }
        for (i, &pe) in pes.iter().enumerate() {
            if pe >= num_pes {
                return Err(Error::BadPe {
                    pe,
                    why: format!("team member must be below num_pes = {num_pes}"),
                });
            }
            if pes[..i].contains(&pe) {
                return Err(Error::InvalidArgument(format!("PE {pe} appears twice in the team")));
            }
        }
        Ok(Team { pes: pes.into() })
    }

    pub fn pes(&self) -> &[usize] {
        &self.pes
    }

    pub fn len(&self) -> usize {
        self.pes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pes.is_empty()
    }

    /// Position of world PE `pe` in the team.
    pub fn index_of(&self, pe: usize) -> Option<usize> {
        self.pes.iter().position(|&p| p == pe)
    }

    pub fn contains(&self, pe: usize) -> bool {
        self.index_of(pe).is_some()
    }

    /// The rounds of a dissemination barrier for member `pe`: in round k, signal the
    /// member 2^k places ahead and wait for the member 2^k places behind. ceil(log2 n) rounds;
    /// the distances are distinct, so no pair meets twice in one barrier.
    pub(crate) fn dissemination_partners(
        &self,
        pe: usize,
    ) -> impl Iterator<Item = (usize, usize)> + '_ {
        let n = self.pes.len();
        let idx = self.index_of(pe).expect("caller checked membership");
        std::iter::successors(Some(1usize), |d| d.checked_mul(2))
            .take_while(move |&d| d < n)
            .map(move |d| (self.pes[(idx + d) % n], self.pes[(idx + n - d) % n]))
    }

    /// A stable 64-bit name for the team, the same on every PE (FNV-1a of the PE list).
    pub fn key(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &pe in self.pes.iter() {
            for b in (pe as u64).to_le_bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }
}
