//! The `shmem` backend: PEs on one node share memory through POSIX shared-memory objects.
//!
//! Every PE creates one object per allocation, every team member maps every member's
//! object, and the names are unlinked as soon as all have mapped them, so a crash leaks
//! nothing. put/get are memcpy, atomics are CPU atomics on the mapped word, and barriers
//! are counters in shared memory with spin-then-yield waiting.

mod control;
mod object;
pub(crate) mod segment;

use crate::atomic::{AtomicOp, AtomicSupport, AtomicType};
use crate::backend::{Backend, Capabilities, OpToken, PeerPath};
use crate::dispatch::AnySegment;
use crate::error::{Error, Result};
use crate::team::Team;
use crate::transport::SharedJob;
use control::{Collectives, Control, control_len};
use segment::ShmemSegment;
use std::collections::HashMap;
use std::sync::atomic::{Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use object::name_prefix;

/// State shared by the backend and its segments.
pub(crate) struct Shared {
    pub me: usize,
    pub npes: usize,
    job_id: String,
    /// Collective state; one collective at a time per PE.
    coll: Mutex<CollState>,
    job: SharedJob,
    yields: bool,
}

struct CollState {
    coll: Collectives,
    /// Allocations made so far per team (by `Team::key`): the next one's number.
    alloc_seq: HashMap<u64, u64>,
}

impl std::ops::Deref for CollState {
    type Target = Collectives;
    fn deref(&self) -> &Collectives {
        &self.coll
    }
}
impl std::ops::DerefMut for CollState {
    fn deref_mut(&mut self) -> &mut Collectives {
        &mut self.coll
    }
}

impl Shared {
    fn lock_collectives(&self) -> MutexGuard<'_, CollState> {
        // A panic while holding this lock leaves only counters behind; keep going.
        self.coll.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn object_name(&self, what: &str, pe: usize) -> String {
        format!("{}{what}-{pe}", name_prefix(&self.job_id))
    }
}

pub struct ShmemBackend {
    shared: Arc<Shared>,
}

impl ShmemBackend {
    /// Joins the job: share one control block per PE. Every PE must be on this node.
    pub fn init(job: SharedJob, yields: bool, timeout: Duration) -> Result<ShmemBackend> {
        let mut boot = job.lock().unwrap_or_else(|p| p.into_inner());
        let (me, npes) = (boot.rank(), boot.size());
        if boot.nodes() > 1 {
            let away = (0..npes).find(|&p| boot.node_of(p) != boot.node_of(me)).unwrap_or(0);
            return Err(Error::BackendUnavailable {
                name: "shmem".into(),
                why: format!(
                    "it reaches only PEs on its own node, and this job spans {} nodes (PE {me} runs on {}, PE {away} on {}); \
                     use LAMELLAR_TRANSPORT=rofi (ROFI_PROVIDER=\"tcp;ofi_rxm\" or verbs, cxi) or ucx",
                    boot.nodes(),
                    boot.card(me).hostname(),
                    boot.card(away).hostname()
                ),
            });
        }
        let job_id = boot.job_id().to_string();
        let prefix = name_prefix(&job_id);
        let ctl_name = |pe: usize| format!("{prefix}ctl-{pe}");
        let len = control_len(npes);
        let (own, mut own_name) = object::create(&ctl_name(me), len)?;
        let own = Control::new(own);
        own.init_header(npes);
        boot.fence()?;
        let mut ctl = Vec::with_capacity(npes);
        let mut own = Some(own);
        for pe in 0..npes {
            let c = if pe == me {
                own.take().expect("own control block once")
            } else {
                Control::new(object::open(&ctl_name(pe), len)?)
            };
            c.check_header(npes)?;
            ctl.push(c);
        }
        boot.fence()?;
        own_name.unlink();
        drop(boot);
        let coll = Collectives { me, ctl, timeout, expected: vec![0; npes] };
        let shared = Shared {
            me,
            npes,
            job_id,
            coll: Mutex::new(CollState { coll, alloc_seq: HashMap::new() }),
            job,
            yields,
        };
        Ok(ShmemBackend { shared: Arc::new(shared) })
    }
}

impl Backend for ShmemBackend {
    fn name(&self) -> &'static str {
        "shmem"
    }

    fn provider(&self) -> String {
        "posix-shm".into()
    }

    fn my_pe(&self) -> usize {
        self.shared.me
    }

    fn num_pes(&self) -> usize {
        self.shared.npes
    }

    fn alloc(&self, team: &Team, len: usize) -> Result<AnySegment> {
        let sh = &self.shared;
        let mut st = sh.lock_collectives();
        st.agree(team, len as u64, "allocation size in bytes")?;
        let seq = {
            let s = st.alloc_seq.entry(team.key()).or_insert(0);
            *s += 1;
            *s
        };
        let what = format!("{:016x}-{seq}", team.key());
        // Create ours, meet, map everyone's, meet, unlink ours. A failure still goes through
        // both meetings so that peers fail fast on the missing object instead of timing out.
        let created = object::create(&sh.object_name(&what, sh.me), len);
        st.barrier(team)?;
        let mut maps = Vec::with_capacity(team.len());
        let mut bases = vec![std::ptr::null_mut(); sh.npes];
        let mut failure = None;
        let mut own_name = None;
        match created {
            Ok((m, name)) => {
                bases[sh.me] = m.as_ptr();
                maps.push(m);
                own_name = Some(name);
            }
            Err(e) => failure = Some(e),
        }
        for &pe in team.pes().iter().filter(|&&pe| pe != sh.me) {
            if failure.is_some() {
                break;
            }
            match object::open(&sh.object_name(&what, pe), len) {
                Ok(m) => {
                    bases[pe] = m.as_ptr();
                    maps.push(m);
                }
                Err(e) => failure = Some(e),
            }
        }
        st.barrier(team)?;
        drop(own_name); // unlinks: every member has mapped it (or given up)
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(AnySegment::Shmem(ShmemSegment {
            bases,
            _maps: maps,
            team: team.clone(),
            seq,
            shared: sh.clone(),
        }))
    }

    fn test(&self, _op: OpToken) -> Result<bool> {
        Ok(true)
    }

    fn wait(&self, _op: OpToken) -> Result<()> {
        Ok(())
    }

    #[inline]
    fn quiet(&self) -> Result<()> {
        // Every copy already happened; order them before anything this PE does next.
        fence(Ordering::SeqCst);
        Ok(())
    }

    #[inline]
    fn fence(&self) -> Result<()> {
        fence(Ordering::Release);
        Ok(())
    }

    fn barrier(&self, team: &Team) -> Result<()> {
        self.shared.lock_collectives().barrier(team)
    }

    fn capabilities(&self) -> Capabilities {
        // Every op completes at issue: nothing is ever outstanding, so a quiet for one PE
        // is exact and a fence is a release fence.
        Capabilities {
            put_signal: false,
            atomic_nb: false,
            quiet_pe: true,
            fence_orders_only: true,
            messages: false,
        }
    }

    fn path_to(&self, _pe: usize) -> PeerPath {
        PeerPath::SharedMemory // every PE of a shmem job is on this node (checked at init)
    }

    fn atomic_support(&self, _op: AtomicOp, _ty: AtomicType) -> AtomicSupport {
        AtomicSupport::Native
    }

    fn yields_when_waiting(&self) -> bool {
        self.shared.yields
    }

    fn finalize(&self) -> Result<()> {
        // Peers keep their mappings of our objects valid after we exit, so no barrier is
        // needed here; only the launcher must hear that we finished.
        Ok(self.shared.job.lock().unwrap_or_else(|p| p.into_inner()).finalize()?)
    }
}
