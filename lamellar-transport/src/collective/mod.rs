//! Collectives over a team: broadcast, reduce, allreduce, allgather and alltoall, typed over
//! `Pod` buffers, for every backend alike.
//!
//! All are built on one mechanism (`exchange.rs`: numbered put-with-signal messages into a
//! per-team workspace), so a backend needs nothing beyond put, fence and atomics. Broadcast,
//! reduce, allreduce and allgather use recursive doubling (`schedule.rs`: ceil(log2 P)
//! rounds, two more when P is not a power of two); alltoall exchanges pairwise (P - 1
//! rounds, each message the size of one block). Data beyond a slot goes in passes of a slot
//! each.

mod exchange;
mod reduce;
mod schedule;

pub use reduce::{Reduce, ReduceOp};

use crate::error::{Error, Result};
use crate::team::Team;
use crate::transport::Transport;
use bytemuck::Pod;
use exchange::Workspace;
use schedule::Step;
use std::sync::Mutex;

/// A team's collectives, made by [`Transport::collectives`]. `Send` and `Sync`: calls from
/// several threads are serialized; as with every collective, each member must make the same
/// calls in the same order (with the same sizes, root and op: where they differ, every
/// member gets [`crate::ErrorKind::SizeMismatch`] and no buffer changes).
pub struct Collectives {
    ws: Mutex<Workspace>,
}

impl std::fmt::Debug for Collectives {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collectives").finish_non_exhaustive()
    }
}

// Fingerprint tags of the collectives.
const BROADCAST: u64 = 1;
const ALLREDUCE: u64 = 2;
const ALLGATHER: u64 = 3;
const ALLTOALL: u64 = 4;

impl Transport {
    /// Collective over `team` (this PE must be a member): the workspace of its collectives,
    /// one symmetric allocation of at most a few MiB.
    pub fn collectives(&self, team: &Team) -> Result<Collectives> {
        self.check_member(team)?;
        Ok(Collectives { ws: Mutex::new(Workspace::new(self, team)?) })
    }
}

impl Collectives {
    fn lock(&self) -> std::sync::MutexGuard<'_, Workspace> {
        self.ws.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn team(&self) -> Team {
        self.lock().team().clone()
    }

    /// Copies `buf` of member `root` (a world PE) into `buf` of every member.
    pub fn broadcast<T: Pod>(&self, root: usize, buf: &mut [T]) -> Result<()> {
        let mut w = self.lock();
        let r = root_index(&w, root)?;
        let me = w.me();
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(buf);
        let fp = [BROADCAST, r as u64, bytes.len() as u64];
        for range in passes(bytes.len(), w.slot()) {
            w.begin(&fp);
            // The schedule does not depend on the root (members that disagree on it must
            // still meet): the data spreads from wherever it is, an empty message elsewhere.
            let mut have = (me == r).then(|| bytes[range.clone()].to_vec());
            let mut k = 0;
            while let Some(step) = w.step(k) {
                k += 1;
                let (to, from) = peers(step);
                if let Some(j) = to {
                    w.send(j, have.as_deref().unwrap_or(&[]))?;
                }
                if let Some(j) = from {
                    let got = w.recv(j)?;
                    if have.is_none() && (!got.is_empty() || range.is_empty()) {
                        have = Some(got.to_vec());
                    }
                }
            }
            w.verdict("broadcast")?;
            match have {
                Some(d) if d.len() == range.len() => bytes[range].copy_from_slice(&d),
                _ => return Err(lost("broadcast")),
            }
        }
        Ok(())
    }

    /// Combines `buf` of every member element-wise by `op`; every member gets the result.
    pub fn allreduce<T: Reduce>(&self, op: ReduceOp, buf: &mut [T]) -> Result<()> {
        self.reduce_to(None, op, buf)
    }

    /// [`Collectives::allreduce`] whose result only member `root` (a world PE) keeps; the
    /// others' `buf` is left as it was.
    pub fn reduce<T: Reduce>(&self, root: usize, op: ReduceOp, buf: &mut [T]) -> Result<()> {
        self.reduce_to(Some(root), op, buf)
    }

    fn reduce_to<T: Reduce>(&self, root: Option<usize>, op: ReduceOp, buf: &mut [T]) -> Result<()> {
        if !T::supports(op) {
            return Err(Error::InvalidArgument(format!(
                "{op:?} does not apply to {}",
                std::any::type_name::<T>()
            )));
        }
        let mut w = self.lock();
        let keep = match root {
            Some(r) => root_index(&w, r)? == w.me(),
            None => true,
        };
        let per = (w.slot() / size_of::<T>()).max(1);
        let r = root.map_or(u64::MAX, |r| r as u64);
        let fp = [ALLREDUCE, op as u64, size_of::<T>() as u64, buf.len() as u64, r];
        for range in passes(buf.len(), per) {
            w.begin(&fp);
            let mut acc = buf[range.clone()].to_vec();
            let mut k = 0;
            while let Some(step) = w.step(k) {
                k += 1;
                let (to, from) = peers(step);
                if let Some(j) = to {
                    w.send(j, bytemuck::cast_slice(&acc))?;
                }
                if let Some(j) = from {
                    let got = w.recv(j)?;
                    let replace = matches!(step, Step::Replace(_));
                    for (i, a) in acc.iter_mut().enumerate() {
                        let Some(b) = got.get(i * size_of::<T>()..(i + 1) * size_of::<T>()) else {
                            break;
                        };
                        let x: T = bytemuck::pod_read_unaligned(b);
                        if replace { *a = x } else { T::combine(op, a, x) }
                    }
                }
            }
            w.verdict(if root.is_some() { "reduce" } else { "allreduce" })?;
            if keep {
                buf[range].copy_from_slice(&acc);
            }
        }
        Ok(())
    }

    /// Gathers `src` of every member into `dst` of every member, in team order: `dst` holds
    /// `team.len()` times `src.len()` elements.
    pub fn allgather<T: Pod>(&self, src: &[T], dst: &mut [T]) -> Result<()> {
        let mut w = self.lock();
        let n = w.team().len();
        fits("allgather: dst", dst.len(), src.len(), n)?;
        let (src, dst): (&[u8], &mut [u8]) =
            (bytemuck::cast_slice(src), bytemuck::cast_slice_mut(dst));
        let block = src.len();
        // A message is a bitmap of the blocks it carries, then their pieces in team order.
        let map = n.div_ceil(8);
        let per = (w.slot().saturating_sub(map) / n).max(1);
        if map + n > w.slot() {
            return Err(Error::InvalidArgument(format!(
                "allgather over {n} members: team too large"
            )));
        }
        let fp = [ALLGATHER, block as u64];
        let me = w.me();
        for range in passes(block, per) {
            w.begin(&fp);
            let len = range.len();
            let mut have = vec![false; n];
            let mut out = vec![0u8; n * len];
            have[me] = true;
            out[me * len..][..len].copy_from_slice(&src[range.clone()]);
            let mut msg = Vec::with_capacity(map + n * len);
            let mut k = 0;
            while let Some(step) = w.step(k) {
                k += 1;
                let (to, from) = peers(step);
                if let Some(j) = to {
                    msg.clear();
                    msg.extend((0..map).map(|b| {
                        (0..8)
                            .filter(|k| have.get(b * 8 + k) == Some(&true))
                            .map(|k| 1u8 << k)
                            .sum::<u8>()
                    }));
                    for (i, _) in have.iter().enumerate().filter(|(_, h)| **h) {
                        msg.extend_from_slice(&out[i * len..][..len]);
                    }
                    w.send(j, &msg)?;
                }
                if let Some(j) = from {
                    let got = w.recv(j)?;
                    let mut at = map;
                    for i in
                        (0..n).filter(|i| got.get(i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1))
                    {
                        let Some(piece) = got.get(at..at + len) else { break };
                        out[i * len..][..len].copy_from_slice(piece);
                        have[i] = true;
                        at += len;
                    }
                }
            }
            w.verdict("allgather")?;
            if have.iter().any(|h| !h) {
                return Err(lost("allgather"));
            }
            for i in 0..n {
                dst[i * block + range.start..][..len].copy_from_slice(&out[i * len..][..len]);
            }
        }
        Ok(())
    }

    /// Sends block `i` of `src` to member `i` and receives member `i`'s block for this PE
    /// into block `i` of `dst`: `src` and `dst` hold `team.len()` blocks of equal size.
    pub fn alltoall<T: Pod>(&self, src: &[T], dst: &mut [T]) -> Result<()> {
        let mut w = self.lock();
        let n = w.team().len();
        if src.len() % n != 0 {
            return Err(Error::SizeMismatch {
                what: format!(
                    "alltoall: src has {} elements, not a multiple of {n} members",
                    src.len()
                ),
            });
        }
        fits("alltoall: dst", dst.len(), src.len() / n, n)?;
        let (src, dst): (&[u8], &mut [u8]) =
            (bytemuck::cast_slice(src), bytemuck::cast_slice_mut(dst));
        let block = src.len() / n;
        let fp = [ALLTOALL, block as u64];
        let me = w.me();
        let mut out = Vec::new();
        for range in passes(block, w.slot()) {
            w.begin(&fp);
            let len = range.len();
            out.clear();
            out.resize(n * len, 0);
            out[me * len..][..len].copy_from_slice(&src[me * block + range.start..][..len]);
            for r in 1..n {
                let (to, from) = ((me + r) % n, (me + n - r) % n);
                w.send(to, &src[to * block + range.start..][..len])?;
                let got = w.recv(from)?;
                let k = got.len().min(len);
                out[from * len..][..k].copy_from_slice(&got[..k]);
            }
            w.verdict("alltoall")?;
            for i in 0..n {
                dst[i * block + range.start..][..len].copy_from_slice(&out[i * len..][..len]);
            }
        }
        Ok(())
    }
}

/// Whom a step sends to and receives from.
fn peers(step: Step) -> (Option<usize>, Option<usize>) {
    match step {
        Step::Send(j) => (Some(j), None),
        Step::Exchange(j) => (Some(j), Some(j)),
        Step::Combine(j) | Step::Replace(j) => (None, Some(j)),
    }
}

/// The passes over `len` units, `per` at a time; one (empty) pass for nothing, so that every
/// member takes part and a member that passed more is seen.
fn passes(len: usize, per: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let count = len.div_ceil(per).max(1);
    (0..count).map(move |k| (k * per).min(len)..((k + 1) * per).min(len))
}

fn root_index(w: &Workspace, root: usize) -> Result<usize> {
    w.team().index_of(root).ok_or_else(|| Error::BadPe {
        pe: root,
        why: format!("the root must be a member of the team {:?}", w.team().pes()),
    })
}

fn fits(what: &str, have: usize, block: usize, n: usize) -> Result<()> {
    if have != block * n {
        return Err(Error::SizeMismatch {
            what: format!("{what} has {have} elements; {n} members of {block} need {}", block * n),
        });
    }
    Ok(())
}

/// A pass that ended without data though no member disagreed: a broken invariant.
fn lost(what: &str) -> Error {
    Error::InvalidArgument(format!("{what}: a pass ended without every member's data"))
}
