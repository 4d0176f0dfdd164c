//! One issuer's part of an epoch: its operations, drawn at random within the epoch's spans,
//! with the fences, quiets and scope ends that keep its own operations on one place in
//! program order; each applied to the model as it is drawn.

use super::{Amo, At, Finish, MEMS, Nb, Op, Program, Span, Use, WORDS};
use crate::random_program::rng::payload;

/// One issuer's operations being generated, and which of its writes may still be in flight.
pub(super) struct Issuer<'a> {
    pub p: &'a mut Program,
    pub spans: &'a [Vec<Span>],
    pub w: usize,
    /// Record what reads must return (only for the PE that runs these operations).
    pub keep: bool,
    pub ops: Vec<Op>,
    /// Writes not known complete, each with the number of fences issued before it.
    pub dirty: Vec<(At, u32)>,
    pub fences: u32,
    /// The scope being filled (non-blocking operations only).
    pub scope: Vec<Nb>,
}

impl Issuer<'_> {
    pub fn one_op(&mut self) {
        match self.p.rng.below(100) {
            0..=19 => self.put(false),
            20..=34 => self.get(false),
            // A scope of a few non-blocking puts and gets (split where they would overlap).
            35..=59 => {
                for _ in 0..self.p.rng.range(1, 8) {
                    let put = self.p.rng.below(2) == 0;
                    if put { self.put(true) } else { self.get(true) }
                }
                self.close_scope();
            }
            60..=91 => self.atomic(),
            92..=95 => self.quiet(),
            _ => self.fence(),
        }
    }

    /// A random allocation: mostly the byte ones, for puts and gets.
    fn pick_mem(&mut self) -> usize {
        match self.p.rng.below(10) {
            0..=3 => 0,
            4..=7 => 1,
            _ => WORDS,
        }
    }

    /// Mostly small, some up to a page, a few as large as the room allows (0 included).
    fn size(&mut self, room: usize) -> usize {
        let cap = match self.p.rng.below(20) {
            0 => room,
            1..=7 => 4096,
            _ => 16,
        };
        self.p.rng.range(0, cap.min(room))
    }

    /// A random range inside one run of adjacent spans that `ok` admits, on a random PE:
    /// in allocation `mem`, or the next one that has such a run.
    fn pick(&mut self, mem: usize, ok: impl Fn(Use) -> bool) -> Option<At> {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut mem = mem;
        for m in (0..MEMS).map(|i| (mem + i) % MEMS) {
            for &(s, e, _) in self.spans[m].iter().filter(|sp| ok(sp.2)) {
                match runs.last_mut() {
                    Some(last) if last.1 == s => last.1 = e,
                    _ => runs.push((s, e)),
                }
            }
            if !runs.is_empty() {
                mem = m;
                break;
            }
        }
        if runs.is_empty() {
            return None;
        }
        let (s, e) = runs[self.p.rng.below(runs.len())];
        let len = self.size(e - s);
        let off = s + self.p.rng.below(e - s - len + 1);
        Some(At { mem, pe: self.p.rng.below(self.p.npes), off, len })
    }

    fn finish(&mut self) -> Finish {
        [Finish::Wait, Finish::Drop, Finish::Forget][self.p.rng.below(3)]
    }

    fn put(&mut self, nb: bool) {
        let (mem, w) = (self.pick_mem(), self.w);
        let Some(at) = self.pick(mem, |u| u == Use::Writer(w)) else { return };
        // Writing what a get of this scope may still be reading: complete the scope first.
        if nb && self.scope.iter().any(|o| o.put_tag.is_none() && o.at.overlaps(&at)) {
            self.close_scope();
        }
        // Over an unordered write of its own: order them (either way).
        if self.dirty.iter().any(|(d, f)| *f == self.fences && d.overlaps(&at)) {
            if self.p.rng.below(2) == 0 { self.fence() } else { self.quiet() }
        }
        if !nb {
            self.close_scope();
        }
        let tag = self.p.rng.next_u64();
        self.p.model[at.mem][at.pe][at.off..at.off + at.len].copy_from_slice(&payload(tag, at.len));
        self.dirty.push((at, self.fences));
        if nb {
            let finish = self.finish();
            self.scope.push(Nb { at, put_tag: Some(tag), want: Vec::new(), finish });
        } else {
            self.ops.push(Op::Put { at, tag });
        }
    }

    fn get(&mut self, nb: bool) {
        let (mem, w) = (self.pick_mem(), self.w);
        let Some(at) = self.pick(mem, |u| u == Use::Stable || u == Use::Writer(w)) else {
            return;
        };
        if self.dirty.iter().any(|(d, _)| d.overlaps(&at)) {
            self.quiet();
        }
        if !nb {
            self.close_scope();
        }
        let want = if self.keep { self.model(&at).to_vec() } else { Vec::new() };
        if nb {
            let finish = self.finish();
            self.scope.push(Nb { at, put_tag: None, want, finish });
        } else {
            self.ops.push(Op::Get { at, want });
        }
    }

    /// On a random word: a fetch where it is stable, adds or xors where it is a shared
    /// counter, any supported atomic where this issuer owns it.
    fn atomic(&mut self) {
        let mem = if self.p.rng.below(5) == 0 { self.p.rng.below(2) } else { WORDS };
        // Spans holding a whole aligned word, not another issuer's.
        let w = self.w;
        let spans: Vec<Span> = self.spans[mem]
            .iter()
            .filter(|sp| sp.0.next_multiple_of(8) + 8 <= sp.1)
            .filter(|sp| !matches!(sp.2, Use::Writer(x) if x != w))
            .copied()
            .collect();
        if spans.is_empty() {
            return;
        }
        let (s, e, u) = spans[self.p.rng.below(spans.len())];
        let first = s.next_multiple_of(8);
        let off = first + self.p.rng.below((e - first) / 8) * 8;
        let at = At { mem, pe: self.p.rng.below(self.p.npes), off, len: 8 };
        let any = self.p.amos[self.p.rng.below(self.p.amos.len())];
        let amo = match u {
            Use::Stable => Amo::Fetch,
            Use::AddOnly => [Amo::Add, Amo::FetchAdd][self.p.rng.below(2)],
            Use::XorOnly => [Amo::Xor, Amo::FetchXor][self.p.rng.below(2)],
            Use::Writer(_) => any,
        };
        if !self.p.amos.contains(&amo) {
            return;
        }
        if self.dirty.iter().any(|(d, _)| d.overlaps(&at)) {
            self.quiet();
        }
        self.close_scope();
        let old = u64::from_ne_bytes(self.model(&at).try_into().unwrap());
        let value = self.p.rng.next_u64();
        let compare = match self.p.rng.below(2) {
            0 => old,
            _ => old ^ (1 + self.p.rng.below(1000) as u64),
        };
        let new = match amo {
            Amo::Fetch => old,
            Amo::Add | Amo::FetchAdd => old.wrapping_add(value),
            Amo::Xor | Amo::FetchXor => old ^ value,
            Amo::CompareSwap if old == compare => value,
            Amo::CompareSwap => old,
        };
        self.p.model[mem][at.pe][off..off + 8].copy_from_slice(&new.to_ne_bytes());
        let shared = matches!(u, Use::AddOnly | Use::XorOnly);
        let want = (!shared && !matches!(amo, Amo::Add | Amo::Xor)).then_some(old);
        self.ops.push(Op::Atomic { at, amo, value, compare, want });
    }

    fn model(&self, at: &At) -> &[u8] {
        &self.p.model[at.mem][at.pe][at.off..at.off + at.len]
    }

    fn quiet(&mut self) {
        self.close_scope();
        self.ops.push(Op::Quiet);
        self.dirty.clear();
    }

    fn fence(&mut self) {
        self.close_scope();
        self.ops.push(Op::Fence);
        self.fences += 1;
    }

    pub fn close_scope(&mut self) {
        if !self.scope.is_empty() {
            let reverse = self.p.rng.below(2) == 0;
            self.ops.push(Op::Scope { nbs: std::mem::take(&mut self.scope), reverse });
        }
    }
}
