//! Conformance cases for what runtimes build on: put-with-signal, waits on several words,
//! and the mailbox. Public API only, like `cases.rs`.

use crate::cases::Case;
use lamellar_transport::{AtomicOp, Cmp, ErrorKind, SignalOp, Transport};

pub fn all() -> Vec<Case> {
    vec![
        ("put_signal_delivers_data_first", put_signal_delivers_data_first),
        ("signal_add_from_every_pe", signal_add_from_every_pe),
        ("wait_until_any_all_some", wait_until_any_all_some),
        ("signal_bad_input", signal_bad_input),
        ("mailbox_order_sizes_backpressure", mailbox_order_sizes_backpressure),
        ("mailbox_long_messages_and_threads", mailbox_long_messages_and_threads),
        ("atomic_nb_values_and_totals", atomic_nb_values_and_totals),
        ("quiet_pe_completes_puts_to_that_pe", quiet_pe_completes_puts_to_that_pe),
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
        let block: Vec<u8> = (0..WORDS as u64)
            .flat_map(|i| (round * 1000 + me as u64 * 100 + i).to_ne_bytes())
            .collect();
        if round > 1 {
            a.signal_wait_until(8, Cmp::Ge, round - 1).unwrap(); // the right PE took the last block
        }
        if round % 2 == 0 {
            a.put_signal(right, 16, &block, 0, round, SignalOp::Set).unwrap();
        } else {
            t.scope(|s| s.put_signal_nb(&a, right, 16, &block, 0, round, SignalOp::Set).map(drop))
                .unwrap()
                .unwrap();
        }
        assert!(a.signal_wait_until(0, Cmp::Eq, round).unwrap() == round);
        let mut got = vec![0u8; 8 * WORDS];
        a.get(me, 16, &mut got).unwrap();
        for i in 0..WORDS {
            let w = u64::from_ne_bytes(got[8 * i..8 * i + 8].try_into().unwrap());
            assert_eq!(
                w,
                round * 1000 + left as u64 * 100 + i as u64,
                "PE {me} round {round} word {i}: the signal came before the data"
            );
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
            a.put_signal(pe, 8 + 8 * me, &(r * 10 + me as u64).to_ne_bytes(), 0, 1, SignalOp::Add)
                .unwrap();
        }
    }
    let total = (n * ROUNDS) as u64;
    assert_eq!(
        a.signal_wait_until(0, Cmp::Ge, total).unwrap(),
        total,
        "PE {me}: adds lost or extra"
    );
    t.barrier().unwrap();
    assert_eq!(a.signal_fetch(0).unwrap(), total);
    for src in 0..n {
        assert_eq!(
            a.local_load::<u64>(8 + 8 * src).unwrap(),
            ROUNDS as u64 * 10 + src as u64,
            "last data from PE {src}"
        );
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
    assert_eq!(
        a.put_signal(me, 0, &[1u8; 8], 60, 1, SignalOp::Set).unwrap_err().kind(),
        ErrorKind::OutOfBounds
    );
    assert_eq!(
        a.put_signal(me, 0, &[1u8; 8], 12, 1, SignalOp::Set).unwrap_err().kind(),
        ErrorKind::Misaligned
    );
    let mut got = [0u8; 8];
    a.get(me, 0, &mut got).unwrap();
    assert_eq!(got, [7u8; 8], "a put_signal that failed its check moved data");
    assert_eq!(
        a.put_signal(t.num_pes(), 0, &[1u8; 8], 8, 1, SignalOp::Set).unwrap_err().kind(),
        ErrorKind::BadPe
    );
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
        assert_eq!(
            bytes,
            message(src, me, next[src]),
            "PE {me}: message {} from PE {src}",
            next[src]
        );
        next[src] += 1;
    }
    assert!(next.iter().all(|&c| c == K), "PE {me}: per source {next:?}");
    assert!(mb.try_recv().unwrap().is_none(), "PE {me}: a message too many");
    // UCX carries mailbox messages as active messages, rofi as tagged messages; shmem uses
    // the rings.
    let caps = t.capabilities();
    assert_eq!(caps.messages, t.backend_name() != "shmem", "{}: {caps:?}", t.backend_name());
    t.barrier().unwrap();
    mb.free().unwrap();
}

fn long_message(src: usize, dst: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251 + src * 7 + dst * 3 + len) as u8).collect()
}

/// Long messages (rendezvous on UCX: 1 MiB and 4 MiB + 3) from every PE to every PE, itself
/// included, everyone sending before receiving, with windows of whole messages (a message
/// of 1 MiB takes all of the pair's credit); then THREADS threads of every PE send to PE 0
/// at once, short and long messages mixed, while PE 0's main thread receives: each message
/// arrives once and whole.
fn mailbox_long_messages_and_threads(t: &Transport) {
    const LENS: [usize; 2] = [1 << 20, (4 << 20) + 3];
    const THREADS: usize = 3;
    const PER_THREAD: usize = 12;
    let (me, n) = (t.my_pe(), t.num_pes());
    let mb = t.mailbox_with(16, 16 << 10).unwrap();
    for &len in &LENS {
        for dst in (0..n).map(|d| (d + me) % n) {
            mb.send(dst, &long_message(me, dst, len)).unwrap();
        }
    }
    let mut next = vec![0usize; n];
    for _ in 0..n * LENS.len() {
        let (src, bytes) = mb.recv().unwrap();
        let len = LENS[next[src]];
        assert_eq!(bytes.len(), len, "PE {me}: message {} from PE {src}", next[src]);
        assert!(bytes == long_message(src, me, len), "PE {me}: {len} bytes from PE {src} differ");
        next[src] += 1;
    }
    t.barrier().unwrap();

    // Message k of thread th of PE src: its first 8 bytes say who, then a pattern.
    let tagged = |src: usize, th: usize, k: usize| {
        let len = if k % 4 == 3 { 200 << 10 } else { 8 + k * 40 };
        let id = (src * THREADS + th) * PER_THREAD + k;
        let mut m: Vec<u8> = (0..len).map(|i| (i * 13 + id) as u8).collect();
        m[..8].copy_from_slice(&(id as u64).to_ne_bytes());
        m
    };
    let total = n * THREADS * PER_THREAD;
    std::thread::scope(|s| {
        for th in 0..THREADS {
            let mb = &mb;
            s.spawn(move || {
                for k in 0..PER_THREAD {
                    mb.send(0, &tagged(me, th, k)).unwrap();
                }
            });
        }
        if me == 0 {
            let mut seen = vec![false; total];
            for _ in 0..total {
                let (src, bytes) = mb.recv().unwrap();
                let id = u64::from_ne_bytes(bytes[..8].try_into().unwrap()) as usize;
                assert!(id < total && !seen[id], "PE 0: message {id} from PE {src} again");
                seen[id] = true;
                let (th, k) = (id / PER_THREAD % THREADS, id % PER_THREAD);
                assert_eq!(src, id / (THREADS * PER_THREAD), "PE 0: message {id} from PE {src}");
                assert!(bytes == tagged(src, th, k), "PE 0: message {id} from PE {src} differs");
            }
        }
    });
    assert!(mb.try_recv().unwrap().is_none(), "PE {me}: a message too many");
    t.barrier().unwrap();
    mb.free().unwrap();
}

/// Every PE issues a window of non-blocking fetch_adds on PE 0's word and a compare-swap per
/// PE on its own word of PE 0, then waits: the old values of the adds are distinct (each add
/// saw a different count), the total is exact, each compare-swap saw 0 and won. The
/// capability says whether the handles were really in flight.
fn atomic_nb_values_and_totals(t: &Transport) {
    const W: usize = 32;
    let (me, n) = (t.my_pe(), t.num_pes());
    let a = t.alloc(8 * (n + 1)).unwrap();
    t.barrier().unwrap();
    let olds = t
        .scope(|s| {
            let hs: Vec<_> = (0..W).map(|_| s.fetch_add_nb::<u64>(&a, 0, 0, 1).unwrap()).collect();
            let cas = s
                .atomic_nb::<u64>(&a, 0, 8 * (me + 1), AtomicOp::CompareSwap, me as u64 + 7, 0)
                .unwrap();
            let olds: Vec<u64> = hs.into_iter().map(|h| h.wait().unwrap()).collect();
            assert_eq!(cas.wait().unwrap(), 0, "PE {me}: compare-swap saw another value");
            olds
        })
        .unwrap();
    let mut sorted = olds.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), W, "PE {me}: two adds saw the same old value: {olds:?}");
    assert!(olds.iter().all(|&o| o < (W * n) as u64));
    // A bad request fails at issue, before anything moves.
    let e = t.scope(|s| s.fetch_add_nb::<u64>(&a, n, 0, 1).map(drop)).unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadPe);
    let e = t.scope(|s| s.fetch_add_nb::<u64>(&a, 0, 4, 1).map(drop)).unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Misaligned);
    t.barrier().unwrap();
    if me == 0 {
        assert_eq!(a.local_load::<u64>(0).unwrap(), (W * n) as u64, "fetch_add_nb total");
        for pe in 0..n {
            assert_eq!(
                a.local_load::<u64>(8 * (pe + 1)).unwrap(),
                pe as u64 + 7,
                "PE {pe}'s compare-swap"
            );
        }
    }
    let caps = t.capabilities();
    let want_native = t.backend_name() != "shmem";
    assert_eq!(caps.atomic_nb, want_native, "{}: {caps:?}", t.backend_name());
    t.barrier().unwrap();
    a.free().unwrap();
}

/// Each PE puts a block to every PE with non-blocking puts it does not wait for, then
/// quiet_pe(pe) and a flag to pe: the flag's receiver finds the block whole. quiet_pe of a
/// PE out of range is BadPe.
fn quiet_pe_completes_puts_to_that_pe(t: &Transport) {
    const LEN: usize = 64 << 10;
    let (me, n) = (t.my_pe(), t.num_pes());
    let a = t.alloc(8 * n + LEN * n).unwrap();
    t.barrier().unwrap();
    let block: Vec<u8> = (0..LEN).map(|i| (i * 13 + me * 101) as u8).collect();
    t.scope(|s| {
        for pe in 0..n {
            let h = s.put_nb(&a, pe, 8 * n + LEN * me, &block).unwrap();
            std::mem::forget(h); // completed by quiet_pe below, not by the handle
            t.quiet_pe(pe).unwrap();
            a.atomic_set::<u64>(pe, 8 * me, 1).unwrap();
        }
    })
    .unwrap();
    assert_eq!(t.quiet_pe(n).unwrap_err().kind(), ErrorKind::BadPe);
    for src in 0..n {
        a.wait_until::<u64>(8 * src, |v| v == 1).unwrap();
        let mut got = vec![0u8; LEN];
        a.get(me, 8 * n + LEN * src, &mut got).unwrap();
        assert!(
            got.iter().enumerate().all(|(i, &b)| b == (i * 13 + src * 101) as u8),
            "PE {me}: block from PE {src} incomplete after its quiet_pe"
        );
    }
    let caps = t.capabilities();
    assert_eq!(caps.quiet_pe, t.backend_name() != "rofi", "{}: {caps:?}", t.backend_name());
    t.barrier().unwrap();
    a.free().unwrap();
}
