//! A small active-message runtime on the public API alone, and a distributed histogram on it.
//!
//! ```text
//! cargo build --release --example active_messages
//! lamellar-run -n 2 target/release/examples/active_messages [updates per PE]
//! ```
//!
//! The runtime: handlers registered by index (the same order on every PE), `exec_am(pe,
//! handler, bytes)` sends a request through the transport's `Mailbox` and returns a future
//! of the reply; `progress()` receives requests (runs their handler, sends the reply back)
//! and replies (completes their future, wakes its waker); `block_on` drives a future with
//! it; `quiesce()` ends a phase: every PE tells every PE it has no more requests, and serves
//! until it has heard that from all (a barrier alone would stop serving peers that still
//! wait for replies).
//!
//! The histogram: every PE owns `TABLE / P` counters; each PE makes `updates` random
//! increments, batched per owner (256 indices per active message, as Lamellar's aggregation
//! does), and the owner's handler applies them. The counters must sum to updates x P.

use lamellar_transport::{Error, Mailbox, Result, Transport};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

const REQUEST: u8 = 1;
const REPLY: u8 = 2;
const DONE: u8 = 3;

type Handler = Box<dyn Fn(usize, &[u8]) -> Vec<u8>>;

/// One reply slot: filled by `progress`, taken by the future.
#[derive(Default)]
struct Slot {
    reply: Option<Vec<u8>>,
    waker: Option<Waker>,
}

struct Runtime<'t> {
    t: &'t Transport,
    mb: Mailbox,
    handlers: Vec<Handler>,
    pending: RefCell<HashMap<u64, Rc<RefCell<Slot>>>>,
    next_id: RefCell<u64>,
    done_from: RefCell<usize>,
}

/// The reply to one `exec_am`.
struct AmFuture {
    slot: Rc<RefCell<Slot>>,
}

impl Future for AmFuture {
    type Output = Vec<u8>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<u8>> {
        let mut s = self.slot.borrow_mut();
        match s.reply.take() {
            Some(r) => Poll::Ready(r),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<'t> Runtime<'t> {
    fn new(t: &'t Transport, handlers: Vec<Handler>) -> Result<Runtime<'t>> {
        Ok(Runtime {
            t,
            mb: t.mailbox()?,
            handlers,
            pending: RefCell::default(),
            next_id: RefCell::new(0),
            done_from: RefCell::new(0),
        })
    }

    /// Runs `handler` on `pe` with `args`; the future resolves to its reply.
    fn exec_am(&self, pe: usize, handler: u16, args: &[u8]) -> Result<AmFuture> {
        let id = {
            let mut n = self.next_id.borrow_mut();
            *n += 1;
            *n
        };
        let slot = Rc::new(RefCell::new(Slot::default()));
        self.pending.borrow_mut().insert(id, slot.clone());
        let mut msg = Vec::with_capacity(11 + args.len());
        msg.push(REQUEST);
        msg.extend_from_slice(&handler.to_le_bytes());
        msg.extend_from_slice(&id.to_le_bytes());
        msg.extend_from_slice(args);
        self.mb.send(pe, &msg)?;
        Ok(AmFuture { slot })
    }

    /// Serves whatever has arrived; returns whether anything had.
    fn progress(&self) -> Result<bool> {
        let mut any = false;
        while let Some((src, msg)) = self.mb.try_recv()? {
            any = true;
            match msg[0] {
                REQUEST => {
                    let handler = u16::from_le_bytes([msg[1], msg[2]]) as usize;
                    let reply = (self.handlers[handler])(src, &msg[11..]);
                    let mut out = Vec::with_capacity(9 + reply.len());
                    out.push(REPLY);
                    out.extend_from_slice(&msg[3..11]);
                    out.extend_from_slice(&reply);
                    self.mb.send(src, &out)?;
                }
                REPLY => {
                    let id = u64::from_le_bytes(msg[1..9].try_into().expect("8 bytes"));
                    if let Some(slot) = self.pending.borrow_mut().remove(&id) {
                        let mut s = slot.borrow_mut();
                        s.reply = Some(msg[9..].to_vec());
                        if let Some(w) = s.waker.take() {
                            w.wake();
                        }
                    }
                }
                DONE => *self.done_from.borrow_mut() += 1,
                other => panic!("unknown message kind {other} from PE {src}"),
            }
        }
        Ok(any)
    }

    /// Drives `f` to completion, serving peers meanwhile; `Timeout` after the transport's
    /// timeout, like every wait on another process.
    fn block_on<F: Future>(&self, f: F) -> Result<F::Output> {
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        let start = Instant::now();
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return Ok(v);
            }
            self.idle(start, "a reply to an active message")?;
        }
    }

    /// One pass of a wait: serve what has arrived, else give the CPU away; past the
    /// transport's timeout, the wait ends in `Timeout`.
    fn idle(&self, start: Instant, what: &str) -> Result<()> {
        if !self.progress()? {
            if start.elapsed() > self.t.timeout() {
                return Err(Error::Timeout {
                    what: format!("{what} on PE {}", self.t.my_pe()),
                    after: self.t.timeout(),
                });
            }
            std::thread::yield_now();
        }
        Ok(())
    }

    /// Ends a phase: no PE sends requests after it. Call once every reply this PE waits for
    /// has come.
    fn quiesce(&self) -> Result<()> {
        for pe in 0..self.t.num_pes() {
            self.mb.send(pe, &[DONE])?;
        }
        let start = Instant::now();
        while *self.done_from.borrow() < self.t.num_pes() {
            self.idle(start, "every PE's end of the phase")?;
        }
        *self.done_from.borrow_mut() = 0;
        self.t.barrier()
    }
}

const TABLE: usize = 1 << 16;
const BATCH: usize = 256;
const HISTO: u16 = 0;
const SUM: u16 = 1;

fn main() -> Result<()> {
    let updates: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("updates per PE: a number"))
        .unwrap_or(100_000);
    let t = Transport::init()?;
    let (me, n) = (t.my_pe(), t.num_pes());
    let per_pe = TABLE.div_ceil(n);
    let table = Rc::new(RefCell::new(vec![0u64; per_pe]));
    let (tab_h, tab_s) = (table.clone(), table.clone());
    let handlers: Vec<Handler> = vec![
        // HISTO: a batch of local indices (u32 each); replies with how many it applied.
        Box::new(move |_src, args| {
            let mut tab = tab_h.borrow_mut();
            for ix in args.chunks_exact(4) {
                tab[u32::from_le_bytes(ix.try_into().expect("4 bytes")) as usize] += 1;
            }
            ((args.len() / 4) as u64).to_le_bytes().to_vec()
        }),
        // SUM: this PE's counters, summed.
        Box::new(move |_src, _| tab_s.borrow().iter().sum::<u64>().to_le_bytes().to_vec()),
    ];
    let rt = Runtime::new(&t, handlers)?;
    t.barrier()?;

    // Random updates, batched per owner; one batch in flight per owner at a time.
    let start = Instant::now();
    let mut rng = 0x9e3779b97f4a7c15u64 ^ (me as u64).wrapping_mul(0xbf58476d1ce4e5b9);
    let mut batches: Vec<Vec<u8>> = vec![Vec::with_capacity(4 * BATCH); n];
    let mut in_flight: Vec<Option<AmFuture>> = (0..n).map(|_| None).collect();
    let mut applied = 0u64;
    let mut flush =
        |owner: usize, batch: &mut Vec<u8>, slot: &mut Option<AmFuture>| -> Result<()> {
            if let Some(f) = slot.take() {
                applied += u64::from_le_bytes(rt.block_on(f)?.try_into().expect("8 bytes"));
            }
            if !batch.is_empty() {
                *slot = Some(rt.exec_am(owner, HISTO, batch)?);
                batch.clear();
            }
            Ok(())
        };
    for _ in 0..updates {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let global = (rng % TABLE as u64) as usize;
        let (owner, local) = (global / per_pe, (global % per_pe) as u32);
        batches[owner].extend_from_slice(&local.to_le_bytes());
        if batches[owner].len() == 4 * BATCH {
            flush(owner, &mut batches[owner], &mut in_flight[owner])?;
        }
    }
    for owner in 0..n {
        flush(owner, &mut batches[owner], &mut in_flight[owner])?;
        flush(owner, &mut batches[owner], &mut in_flight[owner])?; // the last reply
    }
    assert_eq!(applied, updates as u64, "PE {me}: owners applied {applied} of {updates} updates");
    rt.quiesce()?;
    let secs = start.elapsed().as_secs_f64();

    // Every PE's counters, through the runtime too: they must add up to every update.
    if me == 0 {
        let mut total = 0u64;
        for pe in 0..n {
            let f = rt.exec_am(pe, SUM, &[])?;
            total += u64::from_le_bytes(rt.block_on(f)?.try_into().expect("8 bytes"));
        }
        assert_eq!(total, (updates * n) as u64, "the counters lost or doubled updates");
        println!(
            "histogram: ok: {} updates on {n} PEs ({} backend) in {secs:.3} s: {:.2} million updates per second per PE",
            updates * n,
            t.backend_name(),
            updates as f64 / secs / 1e6
        );
    }
    rt.quiesce()?;
    rt.mb.free()?;
    t.finalize()
}
