//! The transport operations, with fixed definitions (write them down, so numbers compare):
//! - `put`: blocking put + quiet per operation (OSU putmem latency).
//! - `put_pingpong`: PE 0 and PE 1 put to each other and wait to see the data land; half
//!   the round trip (ucx_perftest ucp_put_lat: blocking put, i.e. local completion, no
//!   quiet; the receiver polls its own memory). Sizes of at least 8 bytes, multiple of 8.
//! - `get`: blocking get per operation.
//! - `put_nb` / `get_nb`: a window of non-blocking operations then one completion (quiet
//!   for puts, waiting every handle for gets); time per operation, so MB/s is bandwidth.
//! - `put_bw`: one stream of non-blocking puts, at most a window in flight (each waited for
//!   locally), one quiet at the end: streaming bandwidth as ucx_perftest ucp_put_bw.
//! - `fetch_add`, `compare_swap`: one blocking u64 atomic per operation.
//! - `barrier`: every PE loops barriers; bytes 0.
//! - `overhead`: the measuring loop and its timer with no operation (the harness's own cost
//!   per op, included in every figure).
//! - `put_signal_pingpong`: as `put_pingpong`, each side waiting for the other's
//!   `put_signal` with `signal_wait_until` (OpenSHMEM's put-with-signal round trip).
//! - `msg_latency`: PE 0 and the target bounce a message through their mailboxes
//!   (`Mailbox::send`, `recv`); half the round trip (ucx_perftest am_lat / tag_lat).
//! - `msg_rate`: PE 0 sends a stream of messages that the target receives; time per
//!   message, and `mups` = million messages per second (ucx_perftest am_bw's message rate).
//!
//! - the collectives and allocation rows: `collective_ops.rs`.
//!
//! PE 0 measures and PE 1 is the target (itself when P = 1); other PEs wait.

use crate::args::Args;
use crate::buf::AlignedBuf;
use crate::report::Measurement;
use lamellar_bench::stats::{plan, summarize, time_batches};
use lamellar_transport::{Cmp, Error, NbHandle, Result, SignalOp, SymAlloc, Transport};
use std::collections::VecDeque;
use std::time::Instant;

/// Operations per measurement: the requested count, fewer for large sizes so that one
/// measurement moves about 256 MiB at most.
pub fn iters_for(args: &Args, bytes: usize) -> usize {
    let budget = (256usize << 20) / bytes.max(1);
    args.iters().min(budget.max(20))
}

pub struct Bench<'a> {
    pub t: &'a Transport,
    pub args: &'a Args,
    pub buf: SymAlloc,
    pub target: usize,
}

impl Bench<'_> {
    fn measurement(&self, op: &str, bytes: usize, iters: usize, samples: Vec<f64>) -> Measurement {
        let (median_ns, p99_ns) = summarize(samples);
        Measurement {
            backend: self.t.backend_name().into(),
            provider: self.t.provider(),
            op: op.into(),
            bytes,
            pes: self.t.num_pes(),
            iters,
            median_ns,
            p99_ns,
            group: "transport",
            native_library: self.t.native_library(),
            mups: (op == "msg_rate").then(|| 1e3 / median_ns),
            mups_total: None,
            target: Some(self.target),
            path: Some(match self.t.path_to(self.target) {
                Ok(lamellar_transport::PeerPath::SharedMemory) => "shared_memory",
                _ => "network",
            }),
        }
    }

    /// Runs one (op, size) on every PE; returns the measurement on PE 0.
    pub fn run(&self, op: &str, bytes: usize) -> Result<Option<Measurement>> {
        let t = self.t;
        let me = t.my_pe();
        let iters = iters_for(self.args, bytes);
        let (samples, batch) = plan(iters);
        // Warm-up: a tenth of the measurement plus 100, as ofi-baseline warms up (like with
        // like), at most ucx_perftest's default of 10000.
        let warmup = (iters / 10 + 100).min(10_000);
        let src = AlignedBuf::new(bytes, 0x5a);
        let mut dst = AlignedBuf::new(bytes, 0);
        let a = &self.buf;
        let target = self.target;
        t.barrier()?;
        let v = match (op, me) {
            ("barrier", _) => Some(time_batches(warmup, samples, batch, || t.barrier())?),
            ("put_pingpong", m) if t.num_pes() >= 2 && (m == 0 || m == target) => {
                self.pingpong(bytes, warmup, samples, batch)?
            }
            ("msg_latency" | "msg_rate", _) => self.messages(op, bytes, warmup, samples, batch)?,
            (op, _) if crate::collective_ops::COLLECTIVE_OPS.contains(&op) => {
                Some(self.collective(op, bytes, warmup, samples, batch)?)
            }
            ("put_signal_pingpong", m) if t.num_pes() >= 2 && (m == 0 || m == target) => {
                self.signal_pingpong(bytes, warmup, samples, batch)?
            }
            (_, 0) => Some(match op {
                // The measured closures take their operands by value (`move`), as a caller's
                // loop holds them in registers; captured by reference, each call reloaded them.
                "put" => {
                    let src: &[u8] = &src;
                    time_batches(warmup, samples, batch, move || {
                        a.put(target, 0, src)?;
                        t.quiet()
                    })?
                }
                "get" => {
                    let dst: &mut [u8] = &mut dst;
                    time_batches(warmup, samples, batch, move || a.get(target, 0, &mut *dst))?
                }
                "put_nb" => {
                    let w = self.args.window();
                    let v = time_batches(
                        warmup.div_ceil(w),
                        samples,
                        batch.div_ceil(w).max(1),
                        || {
                            t.scope(|s| -> Result<()> {
                                let hs = (0..w)
                                    .map(|_| s.put_nb(a, target, 0, &src))
                                    .collect::<Result<Vec<_>>>()?;
                                hs.into_iter().try_for_each(|h| h.wait().map(drop))
                            })??;
                            t.quiet()
                        },
                    )?;
                    v.into_iter().map(|x| x / w as f64).collect()
                }
                "put_bw" => self.put_stream(iters, warmup, &src)?,
                "get_nb" => {
                    let w = self.args.window();
                    let mut dsts: Vec<AlignedBuf> =
                        (0..w).map(|_| AlignedBuf::new(bytes, 0)).collect();
                    let v = time_batches(
                        warmup.div_ceil(w),
                        samples,
                        batch.div_ceil(w).max(1),
                        || {
                            t.scope(|s| -> Result<()> {
                                let hs = dsts
                                    .iter_mut()
                                    .map(|d| s.get_nb(a, target, 0, d))
                                    .collect::<Result<Vec<_>>>()?;
                                hs.into_iter().try_for_each(|h| h.wait().map(drop))
                            })?
                        },
                    )?;
                    v.into_iter().map(|x| x / w as f64).collect()
                }
                // The loop and the timer alone: what every figure above includes besides its op.
                "overhead" => time_batches(warmup, samples, batch, || {
                    std::hint::black_box(());
                    Ok::<(), Error>(())
                })?,
                "fetch_add" => time_batches(warmup, samples, batch, || {
                    a.atomic_fetch_add::<u64>(target, 0, 1).map(drop)
                })?,
                "compare_swap" => time_batches(warmup, samples, batch, || {
                    a.atomic_compare_swap::<u64>(target, 0, 0, 0).map(drop)
                })?,
                "put_pingpong" | "put_signal_pingpong" => return Ok(None), // needs two PEs
                other => return Err(Error::InvalidArgument(format!("unknown op {other}"))),
            }),
            _ => None,
        };
        t.barrier()?;
        Ok(v.filter(|_| me == 0).map(|v| self.measurement(op, bytes, iters, v)))
    }

    /// `put_bw`: one stream of `iters` non-blocking puts with at most a window in flight,
    /// each waited for locally (the oldest, once the window is full), and one quiet after the
    /// last: ucx_perftest's ucp_put_bw (its -O is our window). Ten samples, each a tenth of
    /// the stream and at least ten windows (so the stream moves as much as put_nb's hundred
    /// windows: a 1 MiB stream of 700 puts over UCX shm measured 0.9 of one of 6400, the
    /// first ~25 ms of a process being slower): local completions come in bursts (a put is
    /// complete once the kernel or the transport has taken it), which a few puts per sample
    /// would turn into noise. The warm-up (at least a window, so every timed put waits for
    /// an older one) runs before the clock starts; the last sample includes the quiet.
    fn put_stream(&self, iters: usize, warmup: usize, src: &AlignedBuf) -> Result<Vec<f64>> {
        let (t, a, w) = (self.t, &self.buf, self.args.window());
        let samples = iters.clamp(1, 10);
        let batch = (iters / samples).max(10 * w);
        let warmup = warmup.max(w);
        let total = warmup + samples * batch;
        t.scope(|s| -> Result<Vec<f64>> {
            let mut in_flight: VecDeque<NbHandle<_>> = VecDeque::with_capacity(w);
            let (mut v, mut t0) = (Vec::with_capacity(samples), Instant::now());
            for done in 1..=total {
                if in_flight.len() == w {
                    in_flight.pop_front().expect("window is full").wait()?;
                }
                in_flight.push_back(s.put_nb(a, self.target, 0, src)?);
                if done == warmup {
                    t0 = Instant::now();
                } else if done > warmup && (done - warmup) % batch == 0 {
                    if done == total {
                        in_flight.drain(..).try_for_each(|h| h.wait().map(drop))?;
                        t.quiet()?;
                    }
                    v.push(t0.elapsed().as_nanos() as f64 / batch as f64);
                    t0 = Instant::now();
                }
            }
            Ok(v)
        })?
    }

    /// The mailbox rows (every PE makes the mailbox; PE 0 and the target use it). PE 0's
    /// samples come back.
    fn messages(
        &self,
        op: &str,
        bytes: usize,
        warmup: usize,
        samples: usize,
        batch: usize,
    ) -> Result<Option<Vec<f64>>> {
        let (t, me, target) = (self.t, self.t.my_pe(), self.target);
        let mb = t.mailbox()?;
        let msg = vec![0x5au8; bytes];
        let expect = |(_, m): (usize, Vec<u8>)| {
            if m.len() == bytes {
                Ok(())
            } else {
                Err(Error::InvalidArgument(format!(
                    "{op}: a message of {} bytes, sent {bytes}",
                    m.len()
                )))
            }
        };
        let v = match (op, me) {
            _ if target == 0 => None, // one PE: nobody to talk to
            ("msg_latency", 0) => Some(
                time_batches(warmup, samples, batch, || {
                    mb.send(target, &msg)?;
                    expect(mb.recv()?)
                })?
                .into_iter()
                .map(|x| x / 2.0)
                .collect(),
            ),
            ("msg_latency", m) if m == target => {
                time_batches(warmup, samples, batch, || {
                    expect(mb.recv()?)?;
                    mb.send(0, &msg)
                })?;
                None
            }
            (_, 0) => Some(time_batches(warmup, samples, batch, || mb.send(target, &msg))?),
            (_, m) if m == target => {
                time_batches(warmup, samples, batch, || expect(mb.recv()?))?;
                None
            }
            _ => None,
        };
        t.barrier()?;
        mb.free()?;
        Ok(v)
    }

    /// Half round trip of a put-with-signal ping-pong between PE 0 and the target: the data
    /// at offset 0, the round number set in the signal word right after it (as put_pingpong's
    /// flag is its last word: one cache line for a short message, and for a long one a line
    /// the copy does not write: polling a line being copied into slowed a 4 KiB copy
    /// sixfold), which the other side waits
    /// for (`signal_wait_until`) before it answers. Against `put_pingpong` of the same size.
    fn signal_pingpong(
        &self,
        bytes: usize,
        warmup: usize,
        samples: usize,
        batch: usize,
    ) -> Result<Option<Vec<f64>>> {
        let (a, me) = (&self.buf, self.t.my_pe());
        let peer = if me == 0 { self.target } else { 0 };
        let msg = AlignedBuf::new(bytes, 0x3c);
        let sig = bytes.next_multiple_of(8);
        let mut seq = 0u64;
        let mut step = || -> Result<()> {
            seq += 1;
            if me == 0 {
                a.put_signal(peer, 0, &msg, sig, seq, SignalOp::Set)?;
                a.signal_wait_until(sig, Cmp::Eq, seq).map(drop)
            } else {
                a.signal_wait_until(sig, Cmp::Eq, seq)?;
                a.put_signal(peer, 0, &msg, sig, seq, SignalOp::Set)
            }
        };
        let v = time_batches(warmup, samples, batch, &mut step)?;
        Ok((me == 0).then(|| v.into_iter().map(|x| x / 2.0).collect()))
    }

    /// Half round trip of a put ping-pong between PE 0 and the target (ucx_perftest ucp_put_lat):
    /// the sequence number rides in the last 8 bytes of the payload; each side polls its own
    /// memory for it. Returns the samples on PE 0.
    fn pingpong(
        &self,
        bytes: usize,
        warmup: usize,
        samples: usize,
        batch: usize,
    ) -> Result<Option<Vec<f64>>> {
        if bytes < 8 || bytes % 8 != 0 {
            return Ok(None);
        }
        let (a, me) = (&self.buf, self.t.my_pe());
        let peer = if me == 0 { self.target } else { 0 };
        let mut msg = AlignedBuf::new(bytes, 0);
        let mut seq = 0u64;
        let mut step = || -> Result<()> {
            seq += 1;
            msg[bytes - 8..].copy_from_slice(&seq.to_ne_bytes());
            // As ucp_put_lat: a put completed locally, no quiet; the peer sees it land.
            if me == 0 {
                a.put(peer, 0, &msg)?;
                a.wait_until(bytes - 8, |v: u64| v == seq).map(drop)
            } else {
                a.wait_until(bytes - 8, |v: u64| v == seq)?;
                a.put(peer, 0, &msg)
            }
        };
        let v = time_batches(warmup, samples, batch, &mut step)?;
        // ns per round trip / 2 = one-way latency.
        Ok((me == 0).then(|| v.into_iter().map(|x| x / 2.0).collect()))
    }
}
