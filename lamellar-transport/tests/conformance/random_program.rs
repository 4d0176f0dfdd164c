//! A seeded random program (issue 27): epochs of puts, gets, remote atomics and
//! non-blocking puts and gets in scopes, to random PEs, on two byte allocations and a u64
//! array, separated by barriers. Every PE generates the same program and model from the
//! seed (plan.rs says why the memory is one value); after each epoch every PE checks its own
//! part of each allocation against the model, and every get and atomic checks what it read.
//!
//! Seeds 0..20 in the suite; `LT_RANDOM_SEED_START` and `LT_RANDOM_SEEDS` (a count) select
//! others, e.g. the long run of docs/testing.md.

mod plan;
mod rng;

use crate::cases::Case;
use lamellar_transport::{AtomicOp, AtomicSupport, AtomicType, NbHandle, SymAlloc, SymArray};
use lamellar_transport::{Error, Transport};
use plan::{Amo, At, Finish, MEM_NAMES, MEMS, Nb, Op, Program, WORDS};
use rng::payload;

pub fn all() -> Vec<Case> {
    vec![("random_program_seeds", seeds_from_env)]
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name}={v}")))
}

/// The seeds `LT_RANDOM_SEED_START..+LT_RANDOM_SEEDS` (default 0..20), one after another.
pub fn seeds_from_env(t: &Transport) {
    let start = env_u64("LT_RANDOM_SEED_START", 0);
    let count = env_u64("LT_RANDOM_SEEDS", 20);
    for seed in start..start + count {
        run_seed(t, seed);
    }
}

/// The atomics the program may use: those this backend supports on u64 (the same on every PE).
fn supported_amos(t: &Transport) -> Vec<Amo> {
    let op = |a| match a {
        Amo::Fetch => AtomicOp::Fetch,
        Amo::Add => AtomicOp::Add,
        Amo::FetchAdd => AtomicOp::FetchAdd,
        Amo::Xor => AtomicOp::Xor,
        Amo::FetchXor => AtomicOp::FetchXor,
        Amo::CompareSwap => AtomicOp::CompareSwap,
    };
    [Amo::Fetch, Amo::Add, Amo::FetchAdd, Amo::Xor, Amo::FetchXor, Amo::CompareSwap]
        .into_iter()
        .filter(|&a| t.atomic_support(op(a), AtomicType::U64) != AtomicSupport::Unsupported)
        .collect()
}

/// One seed's program, on fresh allocations, checked after every epoch.
pub fn run_seed(t: &Transport, seed: u64) {
    let me = t.my_pe();
    let mut p = Program::new(seed, t.num_pes(), supported_amos(t));
    let small = t.alloc(p.lens[0]).unwrap();
    let large = t.alloc(p.lens[1]).unwrap();
    let words = t.alloc_array::<u64>(p.lens[WORDS] / 8).unwrap();
    let mut x =
        Exec { t, seed, me, epoch: 0, mems: [&small, &large, words.bytes()], words: &words };
    // Initial contents from the seed: each PE writes its own part.
    for m in 0..MEMS {
        x.mems[m].put(me, 0, &p.model[m][me]).unwrap();
    }
    t.barrier().unwrap();
    for epoch in 0..p.epochs {
        x.epoch = epoch;
        for (k, op) in p.next_epoch(me).iter().enumerate() {
            x.op(k, op);
        }
        t.barrier().unwrap_or_else(|e| panic!("{}: barrier: {e}", x.whom()));
        x.check_own(&p.model);
        // Nobody writes the next epoch into memory still being checked.
        t.barrier().unwrap();
    }
    words.free().unwrap();
    large.free().unwrap();
    small.free().unwrap();
}

/// Runs one PE's operations and checks what they read.
struct Exec<'a> {
    t: &'a Transport,
    seed: u64,
    me: usize,
    epoch: usize,
    mems: [&'a SymAlloc; MEMS],
    words: &'a SymArray<u64>,
}

enum Pending<'s, 'e> {
    Put(NbHandle<'s, 'e, &'s [u8]>),
    Get(NbHandle<'s, 'e, &'s mut [u8]>),
}

fn to_words(b: &[u8]) -> Vec<u64> {
    b.chunks(8).map(|c| u64::from_ne_bytes(c.try_into().unwrap())).collect()
}

impl Exec<'_> {
    fn whom(&self) -> String {
        format!("random program seed {} epoch {} PE {}", self.seed, self.epoch, self.me)
    }

    /// Whole words of the array go through the typed API, other ranges through its bytes.
    fn typed(at: &At) -> bool {
        at.mem == WORDS && at.off % 8 == 0 && at.len % 8 == 0
    }

    fn op(&self, k: usize, op: &Op) {
        let fail = |e: Error| -> ! { panic!("{}: op {k} {op:?}: {e}", self.whom()) };
        match op {
            Op::Put { at, tag } => {
                let data = payload(*tag, at.len);
                let r = if Self::typed(at) {
                    self.words.put(at.pe, at.off / 8, &to_words(&data))
                } else {
                    self.mems[at.mem].put(at.pe, at.off, &data)
                };
                r.unwrap_or_else(|e| fail(e));
            }
            Op::Get { at, want } => {
                let got = if Self::typed(at) {
                    let mut w = vec![0u64; at.len / 8];
                    self.words.get(at.pe, at.off / 8, &mut w).unwrap_or_else(|e| fail(e));
                    w.iter().flat_map(|v| v.to_ne_bytes()).collect()
                } else {
                    let mut b = vec![0u8; at.len];
                    self.mems[at.mem].get(at.pe, at.off, &mut b).unwrap_or_else(|e| fail(e));
                    b
                };
                self.check_read(k, "get", at, want, &got);
            }
            Op::Atomic { at, amo, value, compare, want } => {
                let got = self.atomic(at, *amo, *value, *compare).unwrap_or_else(|e| fail(e));
                if let Some(w) = want.filter(|&w| w != got) {
                    panic!(
                        "{}: op {k}: {amo:?} on PE {} {} offset {}: expected {w:#x}, actual {got:#x}",
                        self.whom(),
                        at.pe,
                        MEM_NAMES[at.mem],
                        at.off
                    );
                }
            }
            Op::Quiet => self.t.quiet().unwrap_or_else(|e| fail(e)),
            Op::Fence => self.t.fence().unwrap_or_else(|e| fail(e)),
            Op::Scope { nbs, reverse } => self.scope(k, nbs, *reverse),
        }
    }

    /// The array's words through the typed API, the byte allocations' through `SymAlloc`.
    fn atomic(&self, at: &At, amo: Amo, value: u64, compare: u64) -> Result<u64, Error> {
        let (pe, off, i) = (at.pe, at.off, at.off / 8);
        if at.mem == WORDS {
            let w = self.words;
            return match amo {
                Amo::Fetch => w.fetch(pe, i),
                Amo::Add => w.add(pe, i, value).map(|()| 0),
                Amo::FetchAdd => w.fetch_add(pe, i, value),
                Amo::Xor => w.xor(pe, i, value).map(|()| 0),
                Amo::FetchXor => w.fetch_xor(pe, i, value),
                Amo::CompareSwap => w.compare_swap(pe, i, compare, value),
            };
        }
        let a = self.mems[at.mem];
        match amo {
            Amo::Fetch => a.atomic_fetch::<u64>(pe, off),
            Amo::Add => a.atomic_add::<u64>(pe, off, value).map(|()| 0),
            Amo::FetchAdd => a.atomic_fetch_add::<u64>(pe, off, value),
            Amo::Xor => a.atomic_xor::<u64>(pe, off, value).map(|()| 0),
            Amo::FetchXor => a.atomic_fetch_xor::<u64>(pe, off, value),
            Amo::CompareSwap => a.atomic_compare_swap::<u64>(pe, off, compare, value),
        }
    }

    /// Issues a scope's operations, completes the handles (in reverse when asked) by wait,
    /// drop or forget, and checks what the gets read once the scope has ended.
    fn scope(&self, k: usize, nbs: &[Nb], reverse: bool) {
        let mut bufs: Vec<Vec<u8>> = nbs
            .iter()
            .map(|nb| nb.put_tag.map_or_else(|| vec![0; nb.at.len], |t| payload(t, nb.at.len)))
            .collect();
        let r = self.t.scope(|s| {
            let mut hs = Vec::new();
            for (nb, buf) in nbs.iter().zip(bufs.iter_mut()) {
                let (a, at) = (self.mems[nb.at.mem], &nb.at);
                let h = match nb.put_tag {
                    Some(_) => Pending::Put(s.put_nb(a, at.pe, at.off, buf)?),
                    None => Pending::Get(s.get_nb(a, at.pe, at.off, buf)?),
                };
                hs.push((h, nb.finish));
            }
            if reverse {
                hs.reverse();
            }
            for (h, finish) in hs {
                match (h, finish) {
                    (Pending::Put(h), Finish::Wait) => drop(h.wait()?),
                    (Pending::Get(h), Finish::Wait) => drop(h.wait()?),
                    (h, Finish::Drop) => drop(h),
                    (h, Finish::Forget) => std::mem::forget(h),
                }
            }
            Ok::<(), Error>(())
        });
        r.and_then(|r| r)
            .unwrap_or_else(|e| panic!("{}: op {k} scope of {} ops: {e}", self.whom(), nbs.len()));
        for (nb, got) in nbs.iter().zip(&bufs).filter(|(nb, _)| nb.put_tag.is_none()) {
            self.check_read(k, "get_nb", &nb.at, &nb.want, got);
        }
    }

    fn check_read(&self, k: usize, what: &str, at: &At, want: &[u8], got: &[u8]) {
        if let Some(i) = (0..want.len()).find(|&i| want[i] != got[i]) {
            let differ = want.iter().zip(got).filter(|(w, g)| w != g).count();
            panic!(
                "{}: op {k}: {what} of {} bytes from PE {} {} at {}: offset {}: expected {:#04x}, actual {:#04x} ({differ} bytes differ)",
                self.whom(),
                at.len,
                at.pe,
                MEM_NAMES[at.mem],
                at.off,
                at.off + i,
                want[i],
                got[i]
            );
        }
    }

    /// After the epoch's barrier: this PE's own memory is the model's.
    fn check_own(&self, model: &[Vec<Vec<u8>>]) {
        for (m, a) in self.mems.iter().enumerate() {
            // SAFETY: the part is `len` bytes mapped while `a` lives, and no PE writes it
            // between the barrier that ended the epoch and the one after this check.
            let mine = unsafe { std::slice::from_raw_parts(a.local_ptr(), a.len()) };
            let want = &model[m][self.me];
            if let Some(i) = (0..want.len()).find(|&i| want[i] != mine[i]) {
                let differ = want.iter().zip(mine).filter(|(w, g)| w != g).count();
                let word = |b: &[u8]| u64::from_ne_bytes(b[i / 8 * 8..][..8].try_into().unwrap());
                let words = if m == WORDS {
                    format!(
                        " (word {}: expected {:#x}, actual {:#x})",
                        i / 8,
                        word(want),
                        word(mine)
                    )
                } else {
                    String::new()
                };
                panic!(
                    "{}: own part of {}, offset {i}: expected {:#04x}, actual {:#04x}{words} ({differ} of {} bytes differ)",
                    self.whom(),
                    MEM_NAMES[m],
                    want[i],
                    mine[i],
                    want.len()
                );
            }
        }
    }
}
