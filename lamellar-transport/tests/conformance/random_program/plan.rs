//! The random program: from a seed, every PE generates the same epochs of operations for
//! every PE, and the same model of every PE's memory, so that each PE can check its own
//! part and the values its own gets and atomics return.
//!
//! Why the memory after each epoch is one value, whatever order operations land in:
//! - Each epoch splits every allocation into spans (the same on every target PE). A span
//!   belongs to one writer PE (the only PE that puts to it or uses atomics on it, and the
//!   only one that reads it back), or to nobody (read by anyone, written by no one), or,
//!   for words of the u64 array, it is a shared counter that takes only adds or only xors
//!   (commutative; read by no one until the epoch ends).
//! - An issuer's own operations on one place keep program order: a write overlapping an
//!   earlier write not known complete comes after a fence or a quiet; a read or an atomic
//!   overlapping such a write comes after a quiet; inside a scope nothing overlaps an
//!   operation in flight (the scope is closed first).
//!
//! So a PE's spans change only by its own operations, in program order, and the model can
//! apply the issuers one after another, recording what each read must return.

mod issuer;

use super::rng::{Rng, payload};
use issuer::Issuer;

/// Allocations: two byte allocations and one array of u64 (its bytes, in the model).
pub const MEMS: usize = 3;
pub const WORDS: usize = 2;
pub const MEM_NAMES: [&str; MEMS] = ["small bytes", "large bytes", "u64 array"];

/// A range of one allocation on one PE.
#[derive(Clone, Copy, Debug)]
pub struct At {
    pub mem: usize,
    pub pe: usize,
    pub off: usize,
    pub len: usize,
}

impl At {
    fn overlaps(&self, o: &At) -> bool {
        self.mem == o.mem
            && self.pe == o.pe
            && self.off < o.off + o.len
            && o.off < self.off + self.len
    }
}

/// Remote atomics on a u64 word.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Amo {
    Fetch,
    Add,
    FetchAdd,
    Xor,
    FetchXor,
    CompareSwap,
}

/// How a non-blocking handle is completed inside its scope.
#[derive(Clone, Copy, Debug)]
pub enum Finish {
    Wait,
    Drop,
    /// `mem::forget`: the scope completes it.
    Forget,
}

/// A non-blocking put (`tag` names its data) or get (`want`: what it must read).
pub struct Nb {
    pub at: At,
    pub put_tag: Option<u64>,
    pub want: Vec<u8>,
    pub finish: Finish,
}

pub enum Op {
    Put {
        at: At,
        tag: u64,
    },
    Get {
        at: At,
        want: Vec<u8>,
    },
    /// `want`: the value it must return, where that is one value (not on shared counters).
    Atomic {
        at: At,
        amo: Amo,
        value: u64,
        compare: u64,
        want: Option<u64>,
    },
    Quiet,
    Fence,
    /// Non-blocking operations in one `Transport::scope`, completed in reverse when asked.
    Scope {
        nbs: Vec<Nb>,
        reverse: bool,
    },
}

/// For failure messages: without the data a read expects (up to 256 KiB).
impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Put { at, tag } => write!(f, "Put {{ {at:?}, tag: {tag:#x} }}"),
            Op::Get { at, .. } => write!(f, "Get {{ {at:?} }}"),
            Op::Atomic { at, amo, value, compare, .. } => {
                write!(f, "{amo:?} {{ {at:?}, value: {value:#x}, compare: {compare:#x} }}")
            }
            Op::Quiet => write!(f, "Quiet"),
            Op::Fence => write!(f, "Fence"),
            Op::Scope { nbs, reverse } => {
                write!(f, "Scope {{ {} ops, reverse: {reverse} }}", nbs.len())
            }
        }
    }
}

/// Who may touch a span of an allocation in one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Use {
    Stable,
    Writer(usize),
    AddOnly,
    XorOnly,
}

type Span = (usize, usize, Use);

pub struct Program {
    rng: Rng,
    npes: usize,
    pub lens: [usize; MEMS],
    pub epochs: usize,
    /// Every PE's memory as it must be: `model[mem][pe]`.
    pub model: Vec<Vec<Vec<u8>>>,
    /// The atomics this backend supports on u64.
    amos: Vec<Amo>,
}

impl Program {
    pub fn new(seed: u64, npes: usize, amos: Vec<Amo>) -> Program {
        let mut rng = Rng::new(seed);
        let words = rng.range(8, 128);
        let lens = [rng.range(1, 16 << 10), rng.range(64 << 10, 256 << 10), words * 8];
        let model = (0..MEMS)
            .map(|m| (0..npes).map(|_| payload(rng.next_u64(), lens[m])).collect())
            .collect();
        let epochs = rng.range(2, 6);
        Program { rng, npes, lens, epochs, model, amos }
    }

    /// The next epoch: every issuer's operations, applied to the model in turn; returns
    /// `me`'s (the others' reads record nothing).
    pub fn next_epoch(&mut self, me: usize) -> Vec<Op> {
        let spans: Vec<Vec<Span>> = (0..MEMS).map(|m| self.spans(m)).collect();
        let mut mine = Vec::new();
        for w in 0..self.npes {
            let count = self.rng.range(8, 40);
            let mut g = Issuer {
                p: self,
                spans: &spans,
                w,
                keep: w == me,
                ops: Vec::new(),
                dirty: Vec::new(),
                fences: 0,
                scope: Vec::new(),
            };
            for _ in 0..count {
                g.one_op();
            }
            g.close_scope();
            if w == me {
                mine = g.ops;
            }
        }
        mine
    }

    /// Random spans of allocation `m`, adjacent ones of one use merged; word-aligned in the
    /// array.
    fn spans(&mut self, m: usize) -> Vec<Span> {
        let (len, unit) = if m == WORDS { (self.lens[m] / 8, 8) } else { (self.lens[m], 1) };
        let mut cuts: Vec<usize> = (0..self.rng.range(0, 2 * self.npes + 2))
            .map(|_| self.rng.range(1, len.max(2) - 1))
            .collect();
        cuts.extend([0, len]);
        cuts.sort_unstable();
        cuts.dedup();
        let mut v: Vec<Span> = Vec::new();
        for c in cuts.windows(2) {
            let u = match self.rng.below(10) {
                0..=2 => Use::Stable,
                3 if m == WORDS => Use::AddOnly,
                4 if m == WORDS => Use::XorOnly,
                _ => Use::Writer(self.rng.below(self.npes)),
            };
            match v.last_mut() {
                Some(last) if last.2 == u => last.1 = c[1] * unit,
                _ => v.push((c[0] * unit, c[1] * unit, u)),
            }
        }
        v
    }
}
