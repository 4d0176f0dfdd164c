//! Conformance cases for what runtimes build on: put-with-signal, waits on several words,
//! and the mailbox. Public API only, like `cases.rs`.

use crate::cases::Case;
use lamellar_transport::{Cmp, ErrorKind, SignalOp, Transport};

pub fn all() -> Vec<Case> {
    vec![
        ("put_signal_delivers_data_first", put_signal_delivers_data_first),
        ("signal_add_from_every_pe", signal_add_from_every_pe),
        ("wait_until_any_all_some", wait_until_any_all_some),
        ("signal_bad_input", signal_bad_input),
        ("mailbox_order_sizes_backpressure", mailbox_order_sizes_backpressure),
    ]
}

const ROUNDS: usize = 40;
const WORDS: usize = 32;

/// Each PE streams ROUNDS blocks to its right neighbour, each with a put_signal setting the
/// round number; the neighbour waits for each round's signal and finds the whole block, then
/// acknowledges with a signal of its own so the sender may reuse the buffer.
fn put_signal_delivers_data_first(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    let (right, left) = ((me + 1) % n, (me + n - 1) % n);
    // Layout: [signal][ack][block of WORDS u64]
    let a = t.alloc(16 + 8 * WORDS).unwrap();
    t.barrier().unwrap();
    for round in 1..=ROUNDS as u64 {
        let block: Vec<u8> = (0..WORDS as u64).flat_map(|i| (round * 1000 + me as u64 * 100 + i).to_ne_bytes()).collect();
        if round > 1 {
            a.signal_wait_until(8, Cmp::Ge, round - 1).unwrap(); // the right PE took the last block
        }
        if round % 2 == 0 {
            a.put_signal(right, 16, &block, 0, round, SignalOp::Set).unwrap();
        } else {
            t.scope(|s| s.put_signal_nb(&a, right, 16, &block, 0, round, SignalOp::Set).map(drop)).unwrap().unwrap();
        }
        assert!(a.signal_wait_until(0, Cmp::Eq, round).unwrap() == round);
        let mut got = vec![0u8; 8 * WORDS];
        a.get(me, 16, &mut got).unwrap();
        for i in 0..WORDS {
            let w = u64::from_ne_bytes(got[8 * i..8 * i + 8].try_into().unwrap());
            assert_eq!(w, round * 1000 + left as u64 * 100 + i as u64, "PE {me} round {round} word {i}: the signal came before the data");
        }
        a.atomic_set::<u64>(left, 8, round).unwrap();
    }
    t.barrier().unwrap();
    a.free().unwrap();
}

/// Every PE adds 1 to every PE's counter ROUNDS times with put_signal(Add), each time with
/// its own data slot: the counters reach n * ROUNDS exactly, and every slot holds its data.
fn signal_add_from_every_pe(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    let a = t.alloc(8 + 8 * n).unwrap();
    t.barrier().unwrap();
    for r in 1..=ROUNDS as u64 {
        for pe in 0..n {
            a.put_signal(pe, 8 + 8 * me, &(r * 10 + me as u64).to_ne_bytes(), 0, 1, SignalOp::Add).unwrap();
        }
    }
    let total = (n * ROUNDS) as u64;
    assert_eq!(a.signal_wait_until(0, Cmp::Ge, total).unwrap(), total, "PE {me}: adds lost or extra");
    t.barrier().unwrap();
    assert_eq!(a.signal_fetch(0).unwrap(), total);
    for src in 0..n {
        assert_eq!(a.local_load::<u64>(8 + 8 * src).unwrap(), ROUNDS as u64 * 10 + src as u64, "last data from PE {src}");
    }
    t.barrier().unwrap();
    a.free().unwrap();
}

/// Word `w` of every PE is set to w + 1 by PE w: wait_until_all sees all, some lists all,
/// any finds the one asked for.
fn wait_until_any_all_some(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    let a = t.alloc(8 * n).unwrap();
    t.barrier().unwrap();
    let offsets: Vec<usize> = (0..n).map(|w| 8 * w).collect();
    for pe in 0..n {
        a.put_signal(pe, 0, &[], 8 * me, me as u64 + 1, SignalOp::Set).unwrap();
    }
    a.wait_until_all(&offsets, Cmp::Ne, 0).unwrap();
    assert_eq!(a.wait_until_some(&offsets, Cmp::Gt, 0).unwrap(), (0..n).collect::<Vec<_>>());
    assert_eq!(a.wait_until_any(&offsets, Cmp::Eq, n as u64).unwrap(), n - 1);
    assert_eq!(a.wait_until_some(&offsets, Cmp::Ge, n as u64).unwrap(), vec![n - 1]);
    t.barrier().unwrap();
    a.free().unwrap();
}

fn signal_bad_input(t: &Transport) {
    let me = t.my_pe();
    let a = t.alloc(64).unwrap();
    a.put(me, 0, &[7u8; 64]).unwrap();
    t.barrier().unwrap();
    // A bad signal word fails before any byte moves: the data stays as it was.
    assert_eq!(a.put_signal(me, 0, &[1u8; 8], 60, 1, SignalOp::Set).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(a.put_signal(me, 0, &[1u8; 8], 12, 1, SignalOp::Set).unwrap_err().kind(), ErrorKind::Misaligned);
    let mut got = [0u8; 8];
    a.get(me, 0, &mut got).unwrap();
    assert_eq!(got, [7u8; 8], "a put_signal that failed its check moved data");
    assert_eq!(a.put_signal(t.num_pes(), 0, &[1u8; 8], 8, 1, SignalOp::Set).unwrap_err().kind(), ErrorKind::BadPe);
    assert_eq!(a.wait_until_any(&[], Cmp::Eq, 0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(a.wait_until_all(&[0, 64], Cmp::Eq, 0).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(a.signal_wait_until(4, Cmp::Eq, 0).unwrap_err().kind(), ErrorKind::Misaligned);
    assert_eq!(t.mailbox_with(1, 64).err().unwrap().kind(), ErrorKind::InvalidArgument);
    t.barrier().unwrap();
    a.free().unwrap();
}

fn message(src: usize, dst: usize, k: usize) -> Vec<u8> {
    // Sizes cross the slot size (64 - 8 header): empty, small, one slot exactly, several.
    let len = [0, 1, 8, 56, 57, 200, 1000][k % 7];
    (0..len).map(|i| (i * 7 + src * 31 + dst * 17 + k) as u8).collect()
}

/// Every PE sends K messages of mixed sizes to every PE (itself too) through rings of 4
/// slots of 64 bytes, so senders wait for credit and long messages span slots; everyone
/// sends first, then receives. Every message arrives once, whole, in order per source.
fn mailbox_order_sizes_backpressure(t: &Transport) {
    const K: usize = 21;
    let (me, n) = (t.my_pe(), t.num_pes());
    let mb = t.mailbox_with(4, 64).unwrap();
    assert_eq!(mb.send(n, b"x").unwrap_err().kind(), ErrorKind::BadPe);
    for k in 0..K {
        for dst in (0..n).map(|d| (d + me) % n) {
            mb.send(dst, &message(me, dst, k)).unwrap();
        }
    }
    let mut next = vec![0usize; n];
    for _ in 0..n * K {
        let (src, bytes) = mb.recv().unwrap();
        assert_eq!(bytes, message(src, me, next[src]), "PE {me}: message {} from PE {src}", next[src]);
        next[src] += 1;
    }
    assert!(next.iter().all(|&c| c == K), "PE {me}: per source {next:?}");
    assert!(mb.try_recv().unwrap().is_none(), "PE {me}: a message too many");
    t.barrier().unwrap();
    mb.free().unwrap();
}
