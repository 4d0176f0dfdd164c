//! Application kernels (the Bale kernels runtimes are benchmarked with), each validated:
//! - `histo`: every PE adds 1 to `--iters` random entries of a table of 1 Mi u64 counters
//!   per PE, one remote atomic add each; the counts must sum to `iters × P`.
//! - `histo_agg`: the same updates batched per owner (up to [`BATCH`]), shipped with one put
//!   per batch and applied by the owner to its part.
//! - `index_gather`: every PE reads `--iters` random entries (entry g holds g), one blocking
//!   get each; every value read must be its index.
//! - `index_gather_agg`: the reads batched per owner; the owner answers each batch with one
//!   put of the values.
//! - `randperm`: dart throwing: every PE places its `--iters` items (global ids) into random
//!   free slots of a table twice the total size by compare_swap; the slots then hold every
//!   id exactly once (count and sum checked).
//!
//! The batched kernels share one mailbox protocol ([`Mailboxes`]): per (source, owner) one
//! batch in flight; the sender puts the batch, fences, then sets its count word; the owner
//! sees the count, takes the batch, clears the count and answers (an ack, or the values).
//! Rate: million updates (or reads, or darts) per second, per PE and for the job, timed on
//! PE 0 between two barriers.

use lamellar_transport::{Error, Result, SymArray, Transport};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

pub const KERNELS: [&str; 5] =
    ["histo", "histo_agg", "index_gather", "index_gather_agg", "randperm"];
/// Table entries per PE for histo and index_gather.
pub const TABLE_PER_PE: usize = 1 << 20;
/// Updates or requests per batch in the aggregated kernels.
pub const BATCH: usize = 1024;
const EMPTY: u64 = u64::MAX;

/// Seconds PE 0 measured between the barriers around `work`.
fn timed(t: &Transport, work: impl FnOnce() -> Result<()>) -> Result<f64> {
    t.barrier()?;
    let start = Instant::now();
    work()?;
    t.quiet()?;
    t.barrier()?;
    Ok(start.elapsed().as_secs_f64())
}

fn rng(t: &Transport) -> SmallRng {
    SmallRng::seed_from_u64(0x5eed_0000 + t.my_pe() as u64)
}

fn invalid(kernel: &str, why: String) -> Error {
    Error::InvalidArgument(format!("{kernel}: validation failed: {why}"))
}

/// Sums `value` over the PEs at PE 0 (None elsewhere).
fn sum_at_0(t: &Transport, value: u64) -> Result<Option<u64>> {
    let total: SymArray<u64> = t.alloc_array(1)?;
    total.set(t.my_pe(), 0, 0)?;
    t.barrier()?;
    total.add(0, 0, value)?;
    t.quiet()?;
    t.barrier()?;
    let r = if t.my_pe() == 0 { Some(total.fetch(0, 0)?) } else { None };
    t.barrier()?;
    total.free()?;
    Ok(r)
}

/// Runs one kernel on every PE; returns the elapsed seconds (as PE 0 saw them).
pub fn run(t: &Transport, kernel: &str, n: usize) -> Result<f64> {
    match kernel {
        "histo" => histo(t, n),
        "histo_agg" => histo_agg(t, n),
        "index_gather" => index_gather(t, n),
        "index_gather_agg" => index_gather_agg(t, n),
        "randperm" => randperm(t, n),
        other => Err(Error::InvalidArgument(format!("unknown kernel {other}"))),
    }
}

fn histo(t: &Transport, n: usize) -> Result<f64> {
    let (me, p) = (t.my_pe(), t.num_pes());
    let table: SymArray<u64> = t.alloc_array(TABLE_PER_PE)?;
    table.put(me, 0, &vec![0; TABLE_PER_PE])?;
    let mut r = rng(t);
    let secs = timed(t, || {
        for _ in 0..n {
            let g = r.random_range(0..TABLE_PER_PE * p);
            table.add(g / TABLE_PER_PE, g % TABLE_PER_PE, 1)?;
        }
        Ok(())
    })?;
    let mut mine = vec![0u64; TABLE_PER_PE];
    table.get(me, 0, &mut mine)?;
    check_total(t, "histo", mine.iter().sum(), (n * p) as u64)?;
    table.free()?;
    Ok(secs)
}

fn check_total(t: &Transport, kernel: &str, local: u64, want: u64) -> Result<()> {
    match sum_at_0(t, local)? {
        Some(got) if got != want => {
            Err(invalid(kernel, format!("counts sum to {got}, expected {want}")))
        }
        _ => Ok(()),
    }
}

fn index_gather(t: &Transport, n: usize) -> Result<f64> {
    let (me, p) = (t.my_pe(), t.num_pes());
    let table: SymArray<u64> = t.alloc_array(TABLE_PER_PE)?;
    table.put(
        me,
        0,
        &(0..TABLE_PER_PE as u64).map(|i| (me * TABLE_PER_PE) as u64 + i).collect::<Vec<_>>(),
    )?;
    let mut r = rng(t);
    let mut wrong = 0u64;
    let secs = timed(t, || {
        let mut v = [0u64];
        for _ in 0..n {
            let g = r.random_range(0..TABLE_PER_PE * p);
            table.get(g / TABLE_PER_PE, g % TABLE_PER_PE, &mut v)?;
            wrong += (v[0] != g as u64) as u64;
        }
        Ok(())
    })?;
    check_total(t, "index_gather", wrong, 0)?;
    table.free()?;
    Ok(secs)
}

fn randperm(t: &Transport, n: usize) -> Result<f64> {
    let (me, p) = (t.my_pe(), t.num_pes());
    let slots = 2 * n.max(1);
    let table: SymArray<u64> = t.alloc_array(slots)?;
    table.put(me, 0, &vec![EMPTY; slots])?;
    let mut r = rng(t);
    let secs = timed(t, || {
        for i in 0..n {
            let item = (me * n + i) as u64;
            loop {
                let g = r.random_range(0..slots * p);
                if table.compare_swap(g / slots, g % slots, EMPTY, item)? == EMPTY {
                    break;
                }
            }
        }
        Ok(())
    })?;
    let mut mine = vec![0u64; slots];
    table.get(me, 0, &mut mine)?;
    let placed: Vec<u64> = mine.into_iter().filter(|&v| v != EMPTY).collect();
    let total = (n * p) as u64;
    check_total(t, "randperm (items placed)", placed.len() as u64, total)?;
    // Ids 0..total placed once each sum to total(total-1)/2; a lost or doubled id shows.
    check_total(
        t,
        "randperm (sum of ids)",
        placed.iter().sum(),
        total * total.saturating_sub(1) / 2,
    )?;
    table.free()?;
    Ok(secs)
}

/// Per (source, owner) one batch in flight: PE `o` holds, for every source `s`, a request
/// box (count + BATCH words) and, for every owner it asked, a reply box.
struct Mailboxes {
    t_pes: usize,
    words: SymArray<u64>,
}

impl Mailboxes {
    const BOX: usize = BATCH + 1;

    fn new(t: &Transport) -> Result<Mailboxes> {
        let p = t.num_pes();
        // Request boxes, reply boxes, then a "finished" counter.
        let words: SymArray<u64> = t.alloc_array(2 * p * Self::BOX + 1)?;
        words.put(t.my_pe(), 0, &vec![0; 2 * p * Self::BOX + 1])?;
        t.barrier()?;
        Ok(Mailboxes { t_pes: p, words })
    }
    fn request(&self, src: usize) -> usize {
        src * Self::BOX
    }
    fn reply(&self, owner: usize) -> usize {
        (self.t_pes + owner) * Self::BOX
    }
    fn finished(&self) -> usize {
        2 * self.t_pes * Self::BOX
    }
    /// Puts `batch` into box `at` on `pe`, then (ordered after it) its count.
    fn send(&self, t: &Transport, pe: usize, at: usize, batch: &[u64]) -> Result<()> {
        self.words.put(pe, at + 1, batch)?;
        t.fence()?;
        self.words.set(pe, at, batch.len() as u64)
    }
    /// The batch waiting in this PE's box `at`, if any; the box is cleared.
    fn take(&self, t: &Transport, at: usize, into: &mut Vec<u64>) -> Result<bool> {
        let n = self.words.bytes().local_load::<u64>(at * 8)? as usize;
        if n == 0 {
            return Ok(false);
        }
        into.resize(n, 0);
        self.words.get(t.my_pe(), at + 1, into)?;
        self.words.set(t.my_pe(), at, 0)?;
        Ok(true)
    }
}

/// One PE's side of an aggregated kernel: the owner turns each request batch into an answer
/// batch (`answer`, which may apply it); the sender checks each answer against what it asked
/// (`check`).
struct Aggregator<'a, A, C> {
    t: &'a Transport,
    mb: Mailboxes,
    in_flight: Vec<Option<Vec<u64>>>,
    req: Vec<u64>,
    ans: Vec<u64>,
    answer: A,
    check: C,
}

impl<A: FnMut(&[u64], &mut Vec<u64>), C: FnMut(usize, &[u64], &[u64])> Aggregator<'_, A, C> {
    /// One pass over the boxes: answer requests, take answers. Whether anything came.
    fn serve(&mut self) -> Result<bool> {
        let (t, me) = (self.t, self.t.my_pe());
        // Puts to our boxes land only while we make progress on software transports.
        t.progress()?;
        let mut came = false;
        for other in (0..self.mb.t_pes).filter(|&o| o != me) {
            if self.mb.take(t, self.mb.request(other), &mut self.req)? {
                self.ans.clear();
                (self.answer)(&self.req, &mut self.ans);
                self.mb.send(t, other, self.mb.reply(me), &self.ans)?;
                came = true;
            }
            if self.in_flight[other].is_some()
                && self.mb.take(t, self.mb.reply(other), &mut self.ans)?
            {
                let asked = self.in_flight[other].take().expect("checked above");
                (self.check)(other, &asked, &self.ans);
                came = true;
            }
        }
        Ok(came)
    }

    /// A pass while waiting for `what`: with nothing to do, give the CPU to the PEs we wait
    /// for (more PEs than cores is common here); past the transport's timeout, a `Timeout`.
    fn serve_waiting(&mut self, since: Instant, what: &str) -> Result<()> {
        if !self.serve()? {
            if since.elapsed() > self.t.timeout() {
                return Err(Error::Timeout { what: what.into(), after: self.t.timeout() });
            }
            std::thread::yield_now();
        }
        Ok(())
    }

    /// Sends a batch once the previous one to the same owner is answered.
    fn ship(&mut self, owner: usize, batch: Vec<u64>) -> Result<()> {
        let since = Instant::now();
        while self.in_flight[owner].is_some() {
            self.serve_waiting(since, &format!("PE {owner}'s answer to a batch"))?;
        }
        self.mb.send(self.t, owner, self.mb.request(self.t.my_pe()), &batch)?;
        self.in_flight[owner] = Some(batch);
        Ok(())
    }

    /// A batch for this PE itself: answered and checked in place.
    fn local(&mut self, batch: &[u64]) {
        self.ans.clear();
        (self.answer)(batch, &mut self.ans);
        (self.check)(self.t.my_pe(), batch, &self.ans);
    }

    /// Waits for every answer, then tells every PE so, serving until all have said it.
    fn finish(&mut self) -> Result<()> {
        let since = Instant::now();
        while self.in_flight.iter().any(Option::is_some) {
            self.serve_waiting(since, "the answers to the last batches")?;
        }
        let done = self.mb.finished();
        for pe in 0..self.mb.t_pes {
            self.mb.words.add(pe, done, 1)?;
        }
        self.t.quiet()?;
        let since = Instant::now();
        while self.mb.words.bytes().local_load::<u64>(done * 8)? < self.mb.t_pes as u64 {
            self.serve_waiting(since, "every PE to finish the kernel")?;
        }
        Ok(())
    }
}

/// An aggregated kernel: `pick` chooses each item's owner and the word to send it.
fn aggregated(
    t: &Transport,
    n: usize,
    pick: impl Fn(&mut SmallRng) -> (usize, u64),
    answer: impl FnMut(&[u64], &mut Vec<u64>),
    check: impl FnMut(usize, &[u64], &[u64]),
) -> Result<f64> {
    let (me, p) = (t.my_pe(), t.num_pes());
    let mut a = Aggregator {
        t,
        mb: Mailboxes::new(t)?,
        in_flight: vec![None; p],
        req: Vec::new(),
        ans: Vec::new(),
        answer,
        check,
    };
    let mut r = rng(t);
    let mut pending: Vec<Vec<u64>> = vec![Vec::with_capacity(BATCH); p];
    let secs = timed(t, || {
        for _ in 0..n {
            let (owner, word) = pick(&mut r);
            pending[owner].push(word);
            if pending[owner].len() == BATCH {
                let batch = std::mem::replace(&mut pending[owner], Vec::with_capacity(BATCH));
                if owner == me { a.local(&batch) } else { a.ship(owner, batch)? }
            }
        }
        for (owner, batch) in pending.iter_mut().enumerate() {
            let batch = std::mem::take(batch);
            if batch.is_empty() {
                continue;
            }
            if owner == me { a.local(&batch) } else { a.ship(owner, batch)? }
        }
        a.finish()
    })?;
    a.mb.words.free()?;
    Ok(secs)
}

fn histo_agg(t: &Transport, n: usize) -> Result<f64> {
    let p = t.num_pes();
    // Only the owner touches its part: plain local memory, updated when a batch arrives.
    let mut mine = vec![0u64; TABLE_PER_PE];
    let secs = aggregated(
        t,
        n,
        |r| {
            let g = r.random_range(0..TABLE_PER_PE * p);
            (g / TABLE_PER_PE, (g % TABLE_PER_PE) as u64)
        },
        |offsets, ack| {
            offsets.iter().for_each(|&i| mine[i as usize] += 1);
            ack.push(offsets.len() as u64);
        },
        |_, _, _| {},
    )?;
    check_total(t, "histo_agg", mine.iter().sum(), (n * p) as u64)?;
    Ok(secs)
}

fn index_gather_agg(t: &Transport, n: usize) -> Result<f64> {
    let (me, p) = (t.my_pe(), t.num_pes());
    let base = (me * TABLE_PER_PE) as u64;
    let mut wrong = 0u64;
    let mut answered = 0u64;
    let secs = aggregated(
        t,
        n,
        |r| {
            let g = r.random_range(0..TABLE_PER_PE * p);
            (g / TABLE_PER_PE, (g % TABLE_PER_PE) as u64)
        },
        // The owner's entry i holds its global index.
        |offsets, values| values.extend(offsets.iter().map(|&i| base + i)),
        |owner, asked, values| {
            answered += values.len() as u64;
            wrong += (asked.len() != values.len()) as u64;
            wrong += asked
                .iter()
                .zip(values)
                .filter(|&(&i, &v)| v != (owner * TABLE_PER_PE) as u64 + i)
                .count() as u64;
        },
    )?;
    check_total(t, "index_gather_agg (wrong values)", wrong, 0)?;
    check_total(t, "index_gather_agg (values read)", answered, (n * p) as u64)?;
    Ok(secs)
}
