//! One symmetric allocation on the ucx backend: this PE's region and every team member's
//! remote key; the collective allocation and release protocols.

use super::Shared;
use super::atomics;
use super::control::{BOARD_FAILED, BOARD_KEY_MAX};
use super::memory::{Region, RemoteKey};
use crate::atomic::AtomicRequest;
use crate::backend::{OpToken, Segment, atomic_at_once, write_in_width};
use crate::error::{Error, Result};
use crate::team::Team;
use std::sync::Arc;

pub struct UcxSegment {
    /// This PE's part (None only while being dropped).
    region: Option<Region>,
    /// Per world PE: its part's address and key; None outside the team.
    remote: Vec<Option<RemoteKey>>,
    team: Team,
    /// Creation number within the team: what `free` checks every member agrees on.
    seq: u64,
    /// Set once every member agreed to free it: nobody addresses the region any more.
    freed: bool,
    shared: Arc<Shared>,
}

/// Collective over `team`: agree on the size, map, publish the key, read every member's.
pub fn alloc(shared: &Arc<Shared>, team: &Team, len: usize) -> Result<UcxSegment> {
    let ucx = &shared.ucx;
    let me = shared.me;
    let mut ctl = shared.lock_control();
    ctl.agree(ucx, team, len as u64, "allocation size in bytes")?;
    let seq = {
        let s = ctl.alloc_seq.entry(team.key()).or_insert(0);
        *s += 1;
        *s
    };
    // Map and publish; a local failure is published too, so that every member fails alike.
    let mapped = {
        let mut w = ucx.lock()?;
        Region::map(&mut w, len).and_then(|r| match r.pack(&mut w) {
            Ok(k) if k.len() <= BOARD_KEY_MAX => Ok((r, k)),
            Ok(k) => {
                r.unmap(&mut w);
                Err(Error::Backend {
                    backend: super::status::BACKEND,
                    code: 0,
                    message: format!("packed key of {} bytes exceeds {BOARD_KEY_MAX}", k.len()),
                })
            }
            Err(e) => {
                r.unmap(&mut w);
                Err(e)
            }
        })
    };
    match &mapped {
        Ok((r, k)) => ctl.publish(0, r.base() as u64, k),
        Err(_) => ctl.publish(BOARD_FAILED, 0, &[]),
    }
    let mut seg = UcxSegment {
        region: None,
        remote: (0..shared.npes).map(|_| None).collect(),
        team: team.clone(),
        seq,
        freed: false,
        shared: shared.clone(),
    };
    let mut failure = mapped.as_ref().err().map(|e| Error::Backend {
        backend: super::status::BACKEND,
        code: 0,
        message: format!("PE {me} could not allocate: {e}"),
    });
    let mut local_key = Vec::new();
    if let Ok((r, k)) = mapped {
        seg.region = Some(r);
        local_key = k;
    }
    ctl.barrier(ucx, team)?;
    for &pe in team.pes() {
        let p = if pe == me {
            super::control::Publication {
                status: if failure.is_some() { BOARD_FAILED } else { 0 },
                base: seg.region.as_ref().map_or(0, |r| r.base() as u64),
                key: std::mem::take(&mut local_key),
            }
        } else {
            ctl.read_publication(ucx, pe)?
        };
        if p.status == BOARD_FAILED {
            failure.get_or_insert_with(|| Error::Backend {
                backend: super::status::BACKEND,
                code: 0,
                message: format!("PE {pe} could not allocate its part of {len} bytes"),
            });
            continue;
        }
        if failure.is_none() {
            let mut w = ucx.lock()?;
            seg.remote[pe] = Some(RemoteKey::unpack(&mut w, pe, p.base, &p.key)?);
        }
    }
    // Nobody rewrites its board before every member has read it.
    ctl.barrier(ucx, team)?;
    drop(ctl);
    match failure {
        Some(e) => {
            // Every member fails alike, so nobody will address it: released at once.
            seg.freed = true;
            Err(e) // `seg` drops here, releasing whatever was made
        }
        None => Ok(seg),
    }
}

impl Drop for UcxSegment {
    fn drop(&mut self) {
        let mut w = self.shared.ucx.lock_for_release();
        for k in self.remote.iter_mut().filter_map(Option::take) {
            k.destroy(&mut w);
        }
        // Unmapped now only after a completed free; otherwise (dropped without one, or a free
        // that failed) peers may still put to it: it stays mapped while the worker lives.
        match self.region.take() {
            Some(r) if self.freed => r.unmap(&mut w),
            Some(r) => r.retire(&mut w),
            None => {}
        }
    }
}

impl UcxSegment {
    fn key(&self, pe: usize) -> &RemoteKey {
        // The safe layer checked that `pe` is a team member, and alloc made a key for each.
        self.remote[pe].as_ref().expect("a key for every team member")
    }

    fn local(&self) -> *mut u8 {
        self.region.as_ref().map_or(std::ptr::null_mut(), Region::base)
    }
}

impl Segment for UcxSegment {
    fn local_base(&self) -> *mut u8 {
        self.local()
    }

    unsafe fn put(&self, pe: usize, offset: usize, src: *const u8, len: usize) -> Result<()> {
        if pe == self.shared.me {
            // SAFETY: range checked by the safe layer; `src` valid per the trait contract;
            // `copy` (memmove) because a put to oneself may overlap the source.
            unsafe { std::ptr::copy(src, self.local().add(offset), len) };
            return Ok(());
        }
        let k = self.key(pe);
        let mut w = self.shared.ucx.lock()?;
        // SAFETY: `src` is valid for the whole call and `complete` returns only once UCX is
        // done with it; the range is inside the allocation (checked) that `k` covers.
        let ptr = unsafe { w.put_raw(pe, src, len, k.base + offset as u64, k.rkey)? };
        w.complete(ptr, Some(pe), || format!("put of {len} bytes to PE {pe}"))
    }

    unsafe fn get(&self, pe: usize, offset: usize, dst: *mut u8, len: usize) -> Result<()> {
        if pe == self.shared.me {
            // SAFETY: as in `put`, with source and destination exchanged.
            unsafe { std::ptr::copy(self.local().add(offset), dst, len) };
            return Ok(());
        }
        let k = self.key(pe);
        let mut w = self.shared.ucx.lock()?;
        // SAFETY: as in `put`, for writes to `dst`.
        let ptr = unsafe { w.get_raw(pe, dst, len, k.base + offset as u64, k.rkey)? };
        w.complete(ptr, Some(pe), || format!("get of {len} bytes from PE {pe}"))
    }

    unsafe fn put_nb(
        &self,
        pe: usize,
        offset: usize,
        src: *const u8,
        len: usize,
    ) -> Result<OpToken> {
        if pe == self.shared.me {
            // SAFETY: forwarded contract; a local copy completes at once.
            unsafe { self.put(pe, offset, src, len)? };
            return Ok(OpToken::DONE);
        }
        let k = self.key(pe);
        let mut w = self.shared.ucx.lock()?;
        // SAFETY: the caller keeps `src` valid until the token completes (trait contract).
        let ptr = unsafe { w.put_raw(pe, src, len, k.base + offset as u64, k.rkey)? };
        w.track(ptr, pe, || format!("put_nb of {len} bytes to PE {pe}"))
    }

    unsafe fn get_nb(&self, pe: usize, offset: usize, dst: *mut u8, len: usize) -> Result<OpToken> {
        if pe == self.shared.me {
            // SAFETY: forwarded contract; a local copy completes at once.
            unsafe { self.get(pe, offset, dst, len)? };
            return Ok(OpToken::DONE);
        }
        let k = self.key(pe);
        let mut w = self.shared.ucx.lock()?;
        // SAFETY: the caller keeps `dst` valid and untouched until the token completes.
        let ptr = unsafe { w.get_raw(pe, dst, len, k.base + offset as u64, k.rkey)? };
        w.track(ptr, pe, || format!("get_nb of {len} bytes from PE {pe}"))
    }

    fn atomic(&self, pe: usize, offset: usize, req: AtomicRequest) -> Result<u64> {
        // Through UCX even to oneself: atomic with respect to peers' UCX atomics on the word.
        let k = self.key(pe);
        let caps = self.shared.caps();
        atomics::perform(
            &mut self.shared.ucx.lock()?,
            pe,
            req,
            k.base + offset as u64,
            k.rkey,
            caps,
        )
    }

    unsafe fn atomic_nb(
        &self,
        pe: usize,
        offset: usize,
        req: AtomicRequest,
        result: *mut u64,
    ) -> Result<OpToken> {
        // One UCX atomic with a reply: posted and tracked. The rest (bitwise ops, which UCX
        // 1.13 posts without a reply or gets wrong) are done at once, as `atomic` does them.
        let Some((opcode, operand, init)) = atomics::one_with_reply(req) else {
            // SAFETY: forwarded contract.
            return unsafe { atomic_at_once(self, pe, offset, req, result) };
        };
        let k = self.key(pe);
        let width = req.ty.width();
        let mut w = self.shared.ucx.lock()?;
        // SAFETY: `result` stays valid until the token completes (trait contract); it starts
        // with the compare-swap's new value, in the word's width.
        let ptr = unsafe {
            write_in_width(result, width, init);
            w.atomic_raw(pe, opcode, width, operand, result.cast(), k.base + offset as u64, k.rkey)?
        };
        w.track(ptr, pe, || format!("atomic_nb {:?} on PE {pe}", req.op))
    }

    fn free(mut self) -> Result<()> {
        let shared = self.shared.clone();
        let mut ctl = shared.lock_control();
        // The agreement's barriers start with a flush on every member: once it succeeds, no
        // put to this region is in flight anywhere.
        ctl.agree(&shared.ucx, &self.team, self.seq, "free: allocation number")?;
        self.freed = true;
        Ok(())
        // The region and keys are released when `self` drops here.
    }
}
