//! Collectives over teams: every op on every type, every root, sizes that cross the
//! workspace's slot (several passes), non-power-of-two P (the driver runs P = 1..4),
//! sub-teams side by side, and members that disagree.

use crate::cases::Case;
use lamellar_transport::{Collectives, ErrorKind, Reduce, ReduceOp, Transport};

pub fn all() -> Vec<Case> {
    vec![
        ("collectives_allreduce_every_op_and_type", allreduce_every_op_and_type),
        ("collectives_broadcast_every_root", broadcast_every_root),
        ("collectives_allgather_alltoall", allgather_alltoall),
        ("collectives_sub_teams", sub_teams),
        ("collectives_disagreeing_members", disagreeing_members),
    ]
}

/// Element counts: nothing, one, a few, and more than one slot of u64 (64 KiB).
const COUNTS: [usize; 4] = [0, 1, 7, 3 * 8192 + 5];
const OPS: [ReduceOp; 6] =
    [ReduceOp::Sum, ReduceOp::Min, ReduceOp::Max, ReduceOp::And, ReduceOp::Or, ReduceOp::Xor];

/// The value PE `p` contributes at index `i`: small, distinct, integral (exact in floats).
fn input(p: usize, i: usize) -> u64 {
    ((p as u64 + 1) * 37 + (i as u64 % 101) * 11) % 120
}

macro_rules! check_type {
    ($c:expr, $t:expr, $ty:ty) => {{
        let (c, t): (&Collectives, &Transport) = ($c, $t);
        let (me, n) = (t.my_pe(), t.num_pes());
        for op in OPS.into_iter().filter(|&op| <$ty as Reduce>::supports(op)) {
            for count in COUNTS {
                let mine: Vec<$ty> = (0..count).map(|i| input(me, i) as $ty).collect();
                let want: Vec<$ty> = (0..count)
                    .map(|i| {
                        let mut acc = input(0, i) as $ty;
                        for p in 1..n {
                            <$ty as Reduce>::combine(op, &mut acc, input(p, i) as $ty);
                        }
                        acc
                    })
                    .collect();
                let mut buf = mine.clone();
                c.allreduce(op, &mut buf).unwrap();
                assert_eq!(buf, want, "allreduce {op:?} on {} x {count}", stringify!($ty));
                let root = n - 1;
                let mut buf = mine.clone();
                c.reduce(root, op, &mut buf).unwrap();
                let expect = if me == root { &want } else { &mine };
                assert_eq!(&buf, expect, "reduce {op:?} to {root} on {}", stringify!($ty));
            }
        }
    }};
}

fn allreduce_every_op_and_type(t: &Transport) {
    let c = t.collectives(t.world()).unwrap();
    check_type!(&c, t, u8);
    check_type!(&c, t, u16);
    check_type!(&c, t, u32);
    check_type!(&c, t, u64);
    check_type!(&c, t, usize);
    check_type!(&c, t, i8);
    check_type!(&c, t, i16);
    check_type!(&c, t, i32);
    check_type!(&c, t, i64);
    check_type!(&c, t, isize);
    check_type!(&c, t, f32);
    check_type!(&c, t, f64);
    // Bitwise ops do not apply to floats: an error before any message.
    let e = c.allreduce(ReduceOp::Xor, &mut [1.0f64]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

fn broadcast_every_root(t: &Transport) {
    let c = t.collectives(t.world()).unwrap();
    let me = t.my_pe();
    for root in 0..t.num_pes() {
        for len in [0, 1, 7, (64 << 10) + 3, 3 * (64 << 10)] {
            let want: Vec<u8> = (0..len).map(|i| (i * 7 + root * 13) as u8).collect();
            let mut buf = if me == root { want.clone() } else { vec![0xAAu8; len] };
            c.broadcast(root, &mut buf).unwrap();
            assert!(buf == want, "broadcast of {len} B from {root} differs on PE {me}");
        }
        let mut words = [me as u64; 3];
        c.broadcast(root, &mut words).unwrap();
        assert_eq!(words, [root as u64; 3]);
    }
    let e = c.broadcast(t.num_pes(), &mut [0u8; 4]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadPe, "{e}");
}

fn allgather_alltoall(t: &Transport) {
    let c = t.collectives(t.world()).unwrap();
    let (me, n) = (t.my_pe(), t.num_pes());
    for block in [0, 1, 3, 20_000] {
        let src: Vec<u32> = (0..block).map(|i| (me * 1_000_000 + i) as u32).collect();
        let mut dst = vec![u32::MAX; n * block];
        c.allgather(&src, &mut dst).unwrap();
        for p in 0..n {
            for i in 0..block {
                assert_eq!(dst[p * block + i], (p * 1_000_000 + i) as u32, "allgather {p}/{i}");
            }
        }
        // Block i of src goes to PE i; block p of dst comes from PE p.
        let src: Vec<u32> = (0..n * block)
            .map(|k| (me * 1_000_000 + k / block.max(1) * 1000 + k % block.max(1)) as u32)
            .collect();
        let mut dst = vec![u32::MAX; n * block];
        c.alltoall(&src, &mut dst).unwrap();
        for p in 0..n {
            for i in 0..block {
                let want = (p * 1_000_000 + me * 1000 + i) as u32;
                assert_eq!(dst[p * block + i], want, "alltoall from {p}, element {i}");
            }
        }
    }
    let e = c.allgather(&[1u8; 2], &mut vec![0u8; 2 * n + 1]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SizeMismatch, "{e}");
}

/// Even and odd PEs form two teams that run collectives at the same time, each in its own
/// order of members (reversed), each with its own workspace.
fn sub_teams(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    let mut pes: Vec<usize> = (0..n).filter(|p| p % 2 == me % 2).collect();
    pes.reverse();
    let team = t.team(&pes).unwrap();
    let c = t.collectives(&team).unwrap();
    let mut sum = [me as u64 + 1, 1];
    c.allreduce(ReduceOp::Sum, &mut sum).unwrap();
    assert_eq!(sum, [pes.iter().map(|&p| p as u64 + 1).sum(), pes.len() as u64]);
    let mut all = vec![0u64; pes.len()];
    c.allgather(&[me as u64], &mut all).unwrap();
    assert_eq!(all, pes.iter().map(|&p| p as u64).collect::<Vec<_>>(), "team order");
    let root = pes[pes.len() - 1];
    let mut b = [me as u16; 5];
    c.broadcast(root, &mut b).unwrap();
    assert_eq!(b, [root as u16; 5]);
    // A PE of the other team is no root here.
    if n > 1 {
        let outsider = if me % 2 == 0 { 1 } else { 0 };
        let e = c.broadcast(outsider, &mut b).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadPe, "{e}");
    }
}

/// PE 0 passes one element more (or another root, or another op): every member gets
/// SizeMismatch, no buffer changes, and the next call works.
fn disagreeing_members(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    if n < 2 {
        return;
    }
    let c = t.collectives(t.world()).unwrap();
    let mut buf = vec![me as u64; if me == 0 { 4 } else { 3 }];
    let before = buf.clone();
    let e = c.allreduce(ReduceOp::Sum, &mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SizeMismatch, "allreduce: {e}");
    assert_eq!(buf, before, "a failed allreduce changed the buffer");
    let op = if me == n - 1 { ReduceOp::Max } else { ReduceOp::Sum };
    let e = c.allreduce(op, &mut [1u32; 2]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SizeMismatch, "ops differ: {e}");
    let mut b = vec![me as u8; 100 + (me == 1) as usize];
    let e = c.broadcast(0, &mut b).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SizeMismatch, "broadcast: {e}");
    assert!(b.iter().all(|&x| x == me as u8));
    let root = if me == 0 { 1 } else { 0 };
    let e = c.broadcast(root, &mut [0u8; 8]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SizeMismatch, "roots differ: {e}");
    let src = vec![1u8; if me == 0 { 2 * n } else { n }];
    let e = c.alltoall(&src, &mut vec![0u8; src.len()]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SizeMismatch, "alltoall: {e}");
    let e = c.allgather(&src, &mut vec![0u8; src.len() * n]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SizeMismatch, "allgather: {e}");
    // In step again.
    let mut sum = [1u64];
    c.allreduce(ReduceOp::Sum, &mut sum).unwrap();
    assert_eq!(sum, [n as u64]);
}
