//! `Transport`: a PE's handle on the job, and the entry point of the crate.

use crate::atomic::{AtomicOp, AtomicSupport, AtomicType, SupportTable};
use crate::backend::{Backend, Capabilities, PeerPath};
use crate::config;
use crate::dispatch::AnyBackend;
use crate::error::{Error, Result};
use crate::reactor::Reactor;
use crate::team::Team;
use lamellar_bootstrap::Job;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The job's bootstrap, shared by the transport and its backend (which finalizes it, and
/// for ROFI serves its exchange).
pub(crate) type SharedJob = Arc<Mutex<Job>>;

/// Backends this build knows, with the cargo feature that compiles each in.
pub const BACKENDS: [(&str, &str); 3] = [("shmem", "shmem"), ("rofi", "rofi"), ("ucx", "ucx")];

/// Names of the backends compiled into this build, in order of preference.
pub fn compiled_backends() -> Vec<&'static str> {
    let mut v = Vec::new();
    if cfg!(feature = "shmem") {
        v.push("shmem");
    }
    if cfg!(feature = "rofi") {
        v.push("rofi");
    }
    if cfg!(feature = "ucx") {
        v.push("ucx");
    }
    v
}

/// This PE's connection to the job. Cheap to clone (all clones share one backend); the job
/// ends for this PE with [`Transport::finalize`] or when the last clone drops.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    backend: AnyBackend,
    world: Team,
    /// What the backend does for each (op, type), asked once at init: checked on every
    /// atomic, where a virtual call per check was a measurable part of a UCX
    /// shared-memory atomic. Indexed by `op as usize`, `ty as usize`.
    support: SupportTable,
    /// The bound on every wait that depends on another process.
    timeout: Duration,
    /// Node index of every PE, and each PE's host name.
    nodes: Vec<usize>,
    hosts: Vec<String>,
    finalized: AtomicBool,
    /// Wakes pending futures (started at the first one).
    reactor: Reactor,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.finalized.swap(true, Ordering::AcqRel) {
            let _ = self.backend.finalize();
        }
    }
}

/// Chooses a backend and limits before [`Builder::init`].
#[derive(Clone, Debug, Default)]
pub struct Builder {
    backend: Option<String>,
    timeout: Option<Duration>,
}

impl Builder {
    /// The backend to use, overriding `LAMELLAR_TRANSPORT` / `LAMELLAR_BACKEND`.
    pub fn backend(mut self, name: &str) -> Self {
        self.backend = Some(name.to_ascii_lowercase());
        self
    }

    /// Limit for any wait on another process, overriding `LAMELLAR_TIMEOUT`.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Joins the job (collective over all PEs).
    pub fn init(self) -> Result<Transport> {
        // Every setting is checked before the launcher is contacted.
        let timeout = match self.timeout {
            Some(t) if t.is_zero() => {
                return Err(Error::InvalidArgument("timeout must be positive".into()));
            }
            Some(t) => t,
            None => config::timeout_from_env()?,
        };
        let yield_setting = config::yield_from_env()?;
        let name = match self.backend {
            Some(n) => n,
            None => match config::backend_from_env()? {
                Some(n) => n,
                None => compiled_backends().first().map(|s| s.to_string()).ok_or_else(|| {
                    Error::BackendUnavailable {
                        name: "(none)".into(),
                        why: "no backend feature is enabled".into(),
                    }
                })?,
            },
        };
        check_backend(&name)?;
        let job = Job::from_env(timeout)?;
        let yields = crate::node::yield_when_waiting(&job, yield_setting);
        let nodes: Vec<usize> = (0..job.size()).map(|p| job.node_of(p)).collect();
        let hosts: Vec<String> =
            (0..job.size()).map(|p| job.card(p).hostname().to_string()).collect();
        let backend = open_backend(&name, Arc::new(Mutex::new(job)), yields, timeout)?;
        crate::backoff::set_yield_when_waiting(backend.yields_when_waiting());
        let world = Team::world(backend.num_pes());
        let support =
            AtomicOp::ALL.map(|op| AtomicType::ALL.map(|ty| backend.atomic_support(op, ty)));
        let inner = Inner {
            backend,
            world,
            support,
            timeout,
            nodes,
            hosts,
            finalized: AtomicBool::new(false),
            reactor: Reactor::default(),
        };
        Ok(Transport { inner: Arc::new(inner) })
    }
}

/// `name` is a backend this build has.
fn check_backend(name: &str) -> Result<()> {
    let Some(&(_, feature)) = BACKENDS.iter().find(|(n, _)| *n == name) else {
        let known: Vec<_> = BACKENDS.iter().map(|(n, _)| *n).collect();
        return Err(Error::BackendUnavailable {
            name: name.into(),
            why: format!("unknown backend; known: {}", known.join(", ")),
        });
    };
    if compiled_backends().contains(&name) {
        return Ok(());
    }
    Err(Error::BackendUnavailable {
        name: name.into(),
        why: format!(
            "not compiled into this build; enable the cargo feature \"{feature}\" of lamellar-transport (compiled in: {})",
            compiled_backends().join(", ")
        ),
    })
}

fn open_backend(name: &str, job: SharedJob, yields: bool, timeout: Duration) -> Result<AnyBackend> {
    match name {
        #[cfg(feature = "shmem")]
        "shmem" => Ok(AnyBackend::Shmem(crate::shmem::ShmemBackend::init(job, yields, timeout)?)),
        #[cfg(feature = "ucx")]
        "ucx" => Ok(AnyBackend::Ucx(crate::ucx::UcxBackend::init(job, yields, timeout)?)),
        #[cfg(feature = "rofi")]
        "rofi" => Ok(AnyBackend::Rofi(crate::rofi::RofiBackend::init(job, yields, timeout)?)),
        // Not reached: check_backend lets through only the backends compiled in.
        _ => {
            let _ = (job, yields, timeout);
            Err(Error::BackendUnavailable {
                name: name.into(),
                why: "not compiled into this build".into(),
            })
        }
    }
}

impl Transport {
    /// A job of one PE on the heap-memory backend double (`double.rs`), for Miri.
    #[cfg(test)]
    pub(crate) fn double() -> Transport {
        let backend = AnyBackend::Double(crate::double::DoubleBackend::default());
        let support =
            AtomicOp::ALL.map(|op| AtomicType::ALL.map(|ty| backend.atomic_support(op, ty)));
        let inner = Inner {
            backend,
            world: Team::world(1),
            support,
            timeout: Duration::from_secs(5),
            nodes: vec![0],
            hosts: vec!["double".into()],
            finalized: AtomicBool::new(false),
            reactor: Reactor::default(),
        };
        Transport { inner: Arc::new(inner) }
    }

    /// Joins the job with the backend and timeout from the environment
    /// (`LAMELLAR_TRANSPORT`, `LAMELLAR_TIMEOUT`); a program started without a launcher is a
    /// job of one PE.
    pub fn init() -> Result<Transport> {
        Builder::default().init()
    }

    pub fn builder() -> Builder {
        Builder::default()
    }

    #[inline]
    pub(crate) fn backend(&self) -> &AnyBackend {
        &self.inner.backend
    }

    /// For a pending future: its waker is woken by the transport's waker thread, after a
    /// nap that grows with how long the future has waited (since its first pending poll).
    pub(crate) fn wake_later(&self, waker: &std::task::Waker, since: &mut Option<Instant>) {
        let since = *since.get_or_insert_with(Instant::now);
        self.inner.reactor.register(waker, since);
    }

    /// This PE's index, `0..num_pes()`.
    #[inline]
    pub fn my_pe(&self) -> usize {
        self.inner.backend.my_pe()
    }

    #[inline]
    pub fn num_pes(&self) -> usize {
        self.inner.world.len()
    }

    /// The node PE `pe` runs on, `0..nodes()`: PEs on one node share a host identity
    /// (host name, boot id and shared-memory namespace), as learned from the launcher.
    pub fn node_of(&self, pe: usize) -> Result<usize> {
        self.inner
            .nodes
            .get(pe)
            .copied()
            .ok_or_else(|| Error::BadPe { pe, why: format!("the job has {} PEs", self.num_pes()) })
    }

    /// How many nodes the job spans.
    pub fn nodes(&self) -> usize {
        self.inner.nodes.iter().max().map_or(0, |m| m + 1)
    }

    /// The PEs on this PE's node, ascending (this PE included).
    pub fn local_pes(&self) -> Vec<usize> {
        let mine = self.inner.nodes[self.my_pe()];
        (0..self.num_pes()).filter(|&p| self.inner.nodes[p] == mine).collect()
    }

    /// How this PE's puts, gets and atomics reach PE `pe`: through memory shared with it,
    /// or through the network. The transport's own routing table, not a guess from
    /// [`Transport::node_of`]: a backend that routes by node (rofi, ucx with a transport list
    /// holding shared memory and a network) reaches node-local PEs through shared memory
    /// and the others through the network, in one job.
    pub fn path_to(&self, pe: usize) -> Result<PeerPath> {
        if pe >= self.num_pes() {
            return Err(Error::BadPe { pe, why: format!("the job has {} PEs", self.num_pes()) });
        }
        Ok(self.inner.backend.path_to(pe))
    }

    /// The host name PE `pe` runs on.
    pub fn host_of(&self, pe: usize) -> Result<&str> {
        self.inner
            .hosts
            .get(pe)
            .map(String::as_str)
            .ok_or_else(|| Error::BadPe { pe, why: format!("the job has {} PEs", self.num_pes()) })
    }

    /// "shmem", "rofi" or "ucx".
    pub fn backend_name(&self) -> &'static str {
        self.inner.backend.name()
    }

    /// The fabric provider or transport list in use.
    pub fn provider(&self) -> String {
        self.inner.backend.provider()
    }

    /// The native library the backend runs on, as loaded at run time (e.g. "libfabric 1.17",
    /// "ucx 1.13.1"); None for shmem.
    pub fn native_library(&self) -> Option<String> {
        self.inner.backend.native_library()
    }

    /// All PEs.
    pub fn world(&self) -> &Team {
        &self.inner.world
    }

    /// A team of the given PEs (local; see [`Team`]).
    pub fn team(&self, pes: &[usize]) -> Result<Team> {
        Team::new(pes, self.num_pes())
    }

    pub(crate) fn check_member(&self, team: &Team) -> Result<()> {
        let me = self.my_pe();
        if team.len() > self.num_pes() || team.pes().iter().any(|&p| p >= self.num_pes()) {
            return Err(Error::BadPe {
                pe: team.len(),
                why: "team does not belong to this job".into(),
            });
        }
        if !team.contains(me) {
            return Err(Error::BadPe {
                pe: me,
                why: format!("this PE is not a member of team {:?}", team.pes()),
            });
        }
        Ok(())
    }

    /// Every operation this PE issued is complete at its target.
    #[inline]
    pub fn quiet(&self) -> Result<()> {
        self.inner.backend.quiet()
    }

    /// Advances the transport once, without blocking. A PE that polls its own memory for
    /// peers' puts with [`SymAlloc::local_load`] (several mailboxes, say) calls it on each
    /// pass, as [`SymAlloc::wait_until`] does: over software transports (libfabric's shm and
    /// tcp) a put lands only while its target makes progress, and the progress thread alone
    /// may take milliseconds.
    pub fn progress(&self) -> Result<()> {
        self.inner.backend.progress()
    }

    /// Orders delivery: operations to a PE issued before the fence arrive before those after.
    #[inline]
    pub fn fence(&self) -> Result<()> {
        self.inner.backend.fence()
    }

    /// Every operation this PE issued to `pe` is complete at `pe` (OpenSHMEM's per-context
    /// quiet, for one peer): a runtime that hands a buffer to `pe` need not wait for
    /// everyone. Natively where [`Capabilities::quiet_pe`] says so, else a [`Transport::quiet`].
    pub fn quiet_pe(&self, pe: usize) -> Result<()> {
        if pe >= self.num_pes() {
            return Err(Error::BadPe { pe, why: format!("the job has {} PEs", self.num_pes()) });
        }
        self.inner.backend.quiet_pe(pe)
    }

    /// Which operations this backend does natively (the rest are composed, and work alike).
    pub fn capabilities(&self) -> Capabilities {
        self.inner.backend.capabilities()
    }

    /// Quiet, then wait until every PE arrives. A write before the barrier is visible to
    /// every PE after it.
    pub fn barrier(&self) -> Result<()> {
        self.inner.backend.barrier(&self.inner.world)
    }

    /// [`Transport::barrier`] over the members of `team` (this PE must be one).
    pub fn barrier_team(&self, team: &Team) -> Result<()> {
        self.check_member(team)?;
        self.inner.backend.barrier(team)
    }

    /// Whether this PE's waits give the CPU away (once per 10 µs of waiting): when its node
    /// runs more PEs than the CPUs they may use together, or when `LAMELLAR_YIELD=1`
    /// (`LAMELLAR_YIELD=0`: never). Without oversubscription a yield only delays a waiting
    /// PE's answer to its peers.
    pub fn yields_when_waiting(&self) -> bool {
        self.inner.backend.yields_when_waiting()
    }

    /// The bound on every wait that depends on another process (`LAMELLAR_TIMEOUT`, or
    /// [`Builder::timeout`]); such a wait ends in `ErrorKind::Timeout` after it.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// How this backend performs `op` on `ty`.
    ///
    /// Atomicity across paths: every remote atomic on one word is atomic with respect to every
    /// other, whichever PE issues it and whichever path ([`Transport::path_to`]) carries it.
    /// The rule each backend keeps: the atomics of all paths to a word end in CPU atomics on
    /// it, or all go through one mechanism. shmem: CPU atomics on the shared mapping. rofi:
    /// node-local peers' atomics are CPU atomics on the mapping only when the provider applies
    /// its own atomics with the target's CPU (`ofi_rxm`, `ofi_rxd`, `tcp`, `udp`, `sockets`,
    /// `shm`); with any other provider (NIC atomics) every atomic goes through the provider.
    /// ucx: UCX keeps its shared-memory and network transports coherent when `UCX_TLS` lists
    /// both. Both mixes are tested across two hosts. Mixing in CPU atomics of your own is
    /// atomic only where [`SymArray::local_view`] gives a view
    /// ([`PeerView::atomic`](crate::PeerView::atomic)): there the backend's atomics are CPU
    /// atomics on the same mapping, or coherent with them.
    #[inline]
    pub fn atomic_support(&self, op: AtomicOp, ty: AtomicType) -> AtomicSupport {
        self.inner.support[op as usize][ty as usize]
    }

    /// Leaves the job now, reporting errors (drop does the same silently).
    pub fn finalize(&self) -> Result<()> {
        if self.inner.finalized.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.inner.backend.finalize()
    }
}
