//! Joining the job: bootstrap, UCX context and worker, the exchange of worker addresses
//! and control-region keys through PMI, endpoints to every PE (wired up before init ends),
//! the atomics probe, the progress thread.

use super::card::Card;
use super::control::{Control, control_len};
use super::memory::{Region, RemoteKey};
use super::peers::{self, Peers};
use super::progress::ProgressThread;
use super::worker::Ucx;
use super::{Shared, UcxBackend, atomics, status};
use crate::error::{Error, Result};
use crate::transport::SharedJob;
use lamellar_bootstrap::Job;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

impl UcxBackend {
    /// Joins the job: bootstrap, UCX context and worker, endpoints to every PE, control
    /// regions, progress thread.
    pub fn init(job: SharedJob, yields: bool, timeout: Duration) -> Result<UcxBackend> {
        let mut boot = job.lock().unwrap_or_else(|p| p.into_inner());
        let (me, npes) = (boot.rank(), boot.size());
        let host = peers::host_id();

        // Our card first: the worker and the control region exist before any peer's.
        // Peers' liveness info is filled in once the cards are in; until then nobody fails.
        let mut ucx = Ucx::open(npes, Peers::new(vec![None; npes]), timeout)?;
        let (region, own) = {
            let mut w = ucx.lock()?;
            let address = w.address()?;
            let region = Region::map(&mut w, control_len(npes))?;
            let key = match region.pack(&mut w) {
                Ok(k) => k,
                Err(e) => {
                    region.unmap(&mut w);
                    return Err(e);
                }
            };
            let own = Card {
                pid: std::process::id(),
                host: host.clone(),
                worker_address: address,
                control_base: region.base() as u64,
                control_key: key,
            };
            (region, own)
        };
        let cards = match exchange(&mut boot, me, npes, own) {
            Ok(c) => c,
            Err(e) => {
                region.unmap(&mut ucx.lock_for_release());
                return Err(e);
            }
        };
        ucx.peers =
            Peers::new(cards.iter().map(|c| (c.host == host).then_some(c.pid as i32)).collect());
        let ucx = Arc::new(ucx);
        // From here the control region is owned by `Shared`, whose drop releases it (and the
        // keys unpacked so far) on any error below.
        let shared = Arc::new(Shared {
            me,
            npes,
            control: Mutex::new(Some(Control::new(me, region))),
            ucx: ucx.clone(),
            caps: OnceLock::new(),
        });
        {
            let mut ctl = shared.lock_control();
            let mut w = ucx.lock()?;
            for (pe, c) in cards.iter().enumerate() {
                w.connect(pe, &c.worker_address)?;
            }
            for (pe, c) in cards.iter().enumerate() {
                ctl.add_peer(RemoteKey::unpack(&mut w, pe, c.control_base, &c.control_key)?);
            }
            // Mailbox messages may arrive as soon as peers are connected.
            w.set_am_handlers()?;
            let (local, remote, rkey) = ctl.scratch();
            let _ = shared.caps.set(atomics::probe(&mut w, me, local, remote, rkey)?);
        }
        // The progress thread serves peers' wireup while this PE waits in the flushes and
        // in PMI below.
        let progress = ProgressThread::start(ucx.clone()).map_err(|e| Error::Backend {
            backend: status::BACKEND,
            code: e.raw_os_error().unwrap_or(0) as i64,
            message: format!("cannot start the progress thread: {e}"),
        })?;
        // Every endpoint finishes its wireup now (a flush waits for it), not lazily in the
        // first barrier: a peer that leaves right after init then fails a connected endpoint,
        // whereas a wireup under way when it left can abort the survivor inside UCX 1.13
        // (`wireup_ep->pending_count == 0` asserted while the endpoint is discarded).
        for pe in (0..npes).filter(|&pe| pe != me) {
            ucx.lock()?.flush_ep(pe)?;
        }
        // Every PE has its endpoints wired up before anyone leaves init.
        boot.fence()?;
        drop(boot);
        let provider = std::env::var("UCX_TLS")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "all".into());
        Ok(UcxBackend { shared, job, provider, yields, progress: Mutex::new(progress) })
    }
}

/// Publishes our card through PMI and reads everyone's (a singleton has only its own).
fn exchange(boot: &mut Job, me: usize, npes: usize, own: Card) -> Result<Vec<Card>> {
    let all = boot.exchange("ucx", &own.encode())?;
    debug_assert_eq!(all.len(), npes);
    all.iter()
        .enumerate()
        .map(|(pe, c)| if pe == me { Ok(own.clone()) } else { Card::decode(pe, c) })
        .collect()
}
