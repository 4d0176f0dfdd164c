//! The conformance cases, run by every PE of a job. Backend-generic: they use only the
//! public API, so a new backend passes this file unchanged or is not done.

use lamellar_transport::{
    AtomicOp, AtomicSupport, AtomicType, ErrorKind, RemoteAtomic, SymArray, Transport,
};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

pub const SIZES: [usize; 7] = [0, 1, 7, 8, 4095, 4096, (1 << 20) + 3];

/// A named case; every PE runs it.
pub type Case = (&'static str, fn(&Transport));

pub fn all() -> Vec<Case> {
    vec![
        ("identity", identity),
        ("put_get_sizes", put_get_sizes),
        ("nonblocking_reverse_order", nonblocking_reverse_order),
        ("atomics_contention", atomics_contention),
        ("compare_swap_lock", compare_swap_lock),
        ("barrier_ordering", barrier_ordering),
        ("wait_until_flag", wait_until_flag),
        ("busy_target_serves", busy_target_serves),
        ("poll_with_progress_after_fence", poll_with_progress_after_fence),
        ("local_views", local_views),
        ("team_alloc_and_barrier", team_alloc_and_barrier),
        ("bad_input", bad_input),
        ("typed_view", typed_view),
        ("single_elements", single_elements),
        ("threads_issue_and_quiet", threads_issue_and_quiet),
    ]
}

fn pattern(src: usize, dst: usize, size: usize, i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (src * 7 + dst * 13 + size)) as u8
}

fn identity(t: &Transport) {
    let expect: usize =
        std::env::var("LT_EXPECT_PES").ok().and_then(|v| v.parse().ok()).unwrap_or(t.num_pes());
    assert_eq!(t.num_pes(), expect, "num_pes");
    assert!(t.my_pe() < t.num_pes());
    assert_eq!(t.world().len(), t.num_pes());
    // The native library as loaded: "libfabric MAJOR.MINOR", "ucx MAJOR.MINOR.PATCH", none.
    let lib = t.native_library();
    let want = match t.backend_name() {
        "rofi" => Some("libfabric 1."),
        "ucx" => Some("ucx 1."),
        _ => None,
    };
    assert_eq!(lib.is_some(), want.is_some(), "{lib:?}");
    if let (Some(lib), Some(want)) = (&lib, want) {
        assert!(lib.starts_with(want) && lib.len() > want.len(), "{lib}");
    }
}

/// Every size, to self and to every other PE, by put and by get.
fn put_get_sizes(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    for size in SIZES {
        // Slot of source `s` on each PE starts at s * stride (+1 for odd sizes: unaligned).
        let stride = size + 8;
        let skew = size % 2;
        let a = t.alloc(stride * n).unwrap();
        for dst in 0..n {
            let data: Vec<u8> = (0..size).map(|i| pattern(me, dst, size, i)).collect();
            a.put(dst, me * stride + skew, &data).unwrap();
        }
        t.quiet().unwrap();
        t.barrier().unwrap();
        for src in 0..n {
            let mut got = vec![0u8; size];
            a.get(me, src * stride + skew, &mut got).unwrap();
            let want: Vec<u8> = (0..size).map(|i| pattern(src, me, size, i)).collect();
            assert!(got == want, "size {size}: data put by PE {src} did not land on PE {me}");
        }
        for dst in 0..n {
            let mut got = vec![0u8; size];
            a.get(dst, me * stride + skew, &mut got).unwrap();
            assert!(
                got.iter().enumerate().all(|(i, &b)| b == pattern(me, dst, size, i)),
                "size {size}: get from PE {dst}"
            );
        }
        t.barrier().unwrap();
        a.free().unwrap();
    }
}

/// Polls a future to completion with a no-op waker: no async runtime involved.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

fn nonblocking_reverse_order(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    let right = (me + 1) % n;
    const K: usize = 16;
    const LEN: usize = 1000;
    let a = t.alloc(K * LEN).unwrap();
    let bufs: Vec<Vec<u8>> =
        (0..K).map(|k| (0..LEN).map(|i| pattern(me, k, LEN, i)).collect()).collect();
    t.scope(|s| {
        let mut hs: Vec<_> = bufs
            .iter()
            .enumerate()
            .map(|(k, b)| s.put_nb(&a, right, k * LEN, b).unwrap())
            .collect();
        // Complete in reverse order; one by await, one forgotten (the scope completes it).
        let last = hs.pop().unwrap();
        let before_last = hs.pop().unwrap();
        std::mem::forget(before_last);
        block_on(last).unwrap();
        while let Some(h) = hs.pop() {
            h.wait().unwrap();
        }
    })
    .unwrap();
    t.barrier().unwrap();
    let left = (me + n - 1) % n;
    let mut got = vec![0u8; K * LEN];
    a.get(me, 0, &mut got).unwrap();
    for k in 0..K {
        assert!(
            got[k * LEN..(k + 1) * LEN]
                .iter()
                .enumerate()
                .all(|(i, &b)| b == pattern(left, k, LEN, i)),
            "put_nb chunk {k} from PE {left}"
        );
    }
    // get_nb from the right neighbour, completed in reverse order; buffers come back filled.
    let mut outs: Vec<Vec<u8>> = vec![vec![0u8; LEN]; K];
    t.scope(|s| {
        let mut hs: Vec<_> = outs
            .iter_mut()
            .enumerate()
            .map(|(k, o)| s.get_nb(&a, right, k * LEN, o).unwrap())
            .collect();
        while let Some(h) = hs.pop() {
            let k = hs.len();
            let buf = h.wait().unwrap();
            assert!(
                buf.iter().enumerate().all(|(i, &b)| b == pattern(me, k, LEN, i)),
                "get_nb chunk {k}"
            );
        }
    })
    .unwrap();
    t.barrier().unwrap();
    a.free().unwrap();
}

fn contend<T: RemoteAtomic + std::fmt::Debug + PartialEq>(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    let ty = T::TYPE;
    for op in AtomicOp::ALL {
        let s = t.atomic_support(op, ty);
        if s == AtomicSupport::Unsupported {
            let a = t.alloc_array::<T>(1).unwrap();
            let e = a.bytes().atomic::<T>(0, 0, op, T::from_bits(1), T::from_bits(0)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{op:?} on {ty:?} claimed unsupported");
            a.free().unwrap();
            return;
        }
    }
    const ITERS: u64 = 200;
    let v = |x: i64| T::from_bits(x as u64);
    let a = t.alloc_array::<T>(8).unwrap();
    // Word 0: fetch_add 1; word 1: add -1 (wraps for unsigned); words 2..5: and/or/xor bits;
    // word 6: swap chain.
    if me == 0 {
        a.set(0, 2, v(-1)).unwrap();
    }
    t.barrier().unwrap();
    let mut prev = None;
    for _ in 0..ITERS {
        let old = a.fetch_add(0, 0, v(1)).unwrap().to_bits();
        if let Some(p) = prev {
            assert!(old > p, "fetch_add returned {old} after {p}: not monotonic on one PE");
        }
        prev = Some(old);
        a.add(0, 1, v(-1)).unwrap();
    }
    let bit = 1u64 << (me % 30);
    let old = a.fetch_and(0, 2, T::from_bits(!bit)).unwrap().to_bits();
    assert!(old & bit != 0, "fetch_and: my bit already clear");
    a.fetch_or(0, 3, T::from_bits(bit)).unwrap();
    a.or(0, 4, T::from_bits(bit << 1)).unwrap();
    a.xor(0, 5, T::from_bits(bit)).unwrap();
    a.fetch_xor(0, 5, T::from_bits(bit)).unwrap();
    a.xor(0, 5, T::from_bits(bit)).unwrap();
    a.and(0, 4, T::from_bits(!(bit << 1) | (bit << 1))).unwrap(); // keeps all bits
    // Swap chain: sum of everything returned + final == sum of everything written.
    let mut returned = 0u64;
    let mut written = 0u64;
    for i in 0..ITERS {
        let x = (me as u64 + 1) * 1000 + i;
        written = written.wrapping_add(x);
        returned = returned.wrapping_add(a.swap(0, 6, T::from_bits(x)).unwrap().to_bits());
    }
    let sums = t.alloc_array::<u64>(2 * n).unwrap();
    sums.put(0, 2 * me, &[returned, written]).unwrap();
    t.quiet().unwrap();
    t.barrier().unwrap();
    if me == 0 {
        let all_bits: u64 = (0..n).fold(0, |m, p| m | (1u64 << (p % 30)));
        let total = n as u64 * ITERS;
        assert_eq!(a.fetch(0, 0).unwrap().to_bits(), total, "{ty:?} fetch_add total");
        assert_eq!(a.fetch(0, 1).unwrap(), v(-(total as i64)), "{ty:?} add total");
        let width_mask = if ty.width() == 4 { u32::MAX as u64 } else { u64::MAX };
        assert_eq!(a.fetch(0, 2).unwrap().to_bits(), !all_bits & width_mask, "{ty:?} and");
        assert_eq!(a.fetch(0, 3).unwrap().to_bits(), all_bits, "{ty:?} or");
        assert_eq!(a.fetch(0, 4).unwrap().to_bits(), all_bits << 1, "{ty:?} or+and");
        assert_eq!(a.fetch(0, 5).unwrap().to_bits(), all_bits, "{ty:?} xor (odd number of flips)");
        let mut s = vec![0u64; 2 * n];
        sums.get(0, 0, &mut s).unwrap();
        let (ret, wr) = s
            .chunks(2)
            .fold((0u64, 0u64), |(r, w), c| (r.wrapping_add(c[0]), w.wrapping_add(c[1])));
        let last = a.fetch(0, 6).unwrap().to_bits();
        let narrow = |x: u64| x & width_mask;
        assert_eq!(
            narrow(ret.wrapping_add(last)),
            narrow(wr),
            "{ty:?} swap chain conserves values"
        );
    }
    t.barrier().unwrap();
    sums.free().unwrap();
    a.free().unwrap();
}

fn atomics_contention(t: &Transport) {
    contend::<u32>(t);
    contend::<i32>(t);
    contend::<u64>(t);
    contend::<i64>(t);
    contend::<usize>(t);
    contend::<isize>(t);
}

/// compare_swap as a lock around a plain (non-atomic) counter updated by get + put.
fn compare_swap_lock(t: &Transport) {
    let me = t.my_pe();
    const ITERS: u64 = 50;
    let lock = t.alloc_array::<u64>(1).unwrap();
    for op in [AtomicOp::CompareSwap, AtomicOp::Swap] {
        if t.atomic_support(op, AtomicType::U64) == AtomicSupport::Unsupported {
            let e = lock.bytes().atomic::<u64>(0, 0, op, 1, 0).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{op:?} claimed unsupported");
            t.barrier().unwrap();
            lock.free().unwrap();
            return;
        }
    }
    let counter = t.alloc_array::<u64>(1).unwrap();
    for _ in 0..ITERS {
        while lock.compare_swap(0, 0, 0, me as u64 + 1).unwrap() != 0 {
            std::thread::yield_now();
        }
        let mut c = [0u64];
        counter.get(0, 0, &mut c).unwrap();
        counter.put(0, 0, &[c[0] + 1]).unwrap();
        t.quiet().unwrap();
        let old = lock.swap(0, 0, 0).unwrap();
        assert_eq!(old, me as u64 + 1, "lock was held by someone else");
    }
    t.barrier().unwrap();
    let mut c = [0u64];
    counter.get(0, 0, &mut c).unwrap();
    assert_eq!(c[0], ITERS * t.num_pes() as u64, "lost updates under the compare_swap lock");
    t.barrier().unwrap();
    lock.free().unwrap();
    counter.free().unwrap();
}

fn barrier_ordering(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    let a = t.alloc_array::<u64>(1).unwrap();
    let right = (me + 1) % n;
    let left = (me + n - 1) % n;
    for round in 1..=50u64 {
        a.put(right, 0, &[round * 100 + me as u64]).unwrap();
        t.barrier().unwrap();
        let mut got = [0u64];
        a.get(me, 0, &mut got).unwrap();
        assert_eq!(
            got[0],
            round * 100 + left as u64,
            "round {round}: write before the barrier not seen after it"
        );
        t.barrier().unwrap();
    }
    a.free().unwrap();
}

/// Flag passing around the ring without barriers: each round, every PE puts a payload to
/// its right neighbour, quiets, then puts the round number as a flag; the neighbour waits
/// for the flag with `wait_until` (which must make progress itself: software transports
/// deliver puts only while the target progresses) and then finds the payload in place.
fn wait_until_flag(t: &Transport) {
    const ROUNDS: usize = 20;
    const PAYLOAD: usize = 4096;
    let (me, n) = (t.my_pe(), t.num_pes());
    let (right, left) = ((me + 1) % n, (me + n - 1) % n);
    // Round r: payload slot at r * PAYLOAD, flags after all slots.
    let flag = ROUNDS * PAYLOAD;
    let a = t.alloc(flag + 8).unwrap();
    t.barrier().unwrap();
    for round in 1..=ROUNDS as u64 {
        let slot = (round as usize - 1) * PAYLOAD;
        let data: Vec<u8> = (0..PAYLOAD).map(|i| pattern(me, right, round as usize, i)).collect();
        a.put(right, slot, &data).unwrap();
        t.quiet().unwrap();
        a.put(right, flag, &round.to_ne_bytes()).unwrap();
        // The left neighbour may be rounds ahead: wait for at least this round.
        let seen = a.wait_until(flag, |v: u64| v >= round).unwrap();
        assert!(seen >= round && seen <= ROUNDS as u64, "flag {seen} in round {round}");
        let mut got = vec![0u8; PAYLOAD];
        a.get(me, slot, &mut got).unwrap();
        assert!(
            got.iter().enumerate().all(|(i, &b)| b == pattern(left, me, round as usize, i)),
            "round {round}: flag seen on PE {me} before PE {left}'s payload"
        );
    }
    // An already-true predicate returns at once, with the value.
    assert_eq!(a.wait_until(flag, |_: u64| true).unwrap(), ROUNDS as u64);
    t.barrier().unwrap();
    a.free().unwrap();
}

/// A PE that keeps calling into the transport without waiting in it (small puts, which a
/// software transport sends at once) still serves its peers: each fetch-adds and gets on it
/// meanwhile (over such a transport these complete only while something progresses the
/// busy PE's side, which its puts do not), then tells it to stop. It checks that every add
/// landed. The busy PE puts to itself: a flood of small puts to a peer over tcp queues
/// megabytes of them in the socket ahead of the busy PE's replies to that peer (one ordered
/// stream), so that peer's requests waited behind the backlog, not behind the busy PE's
/// service (UCX over tcp, 4 PEs on 2 cores under mpiexec: runs of 9-28 s, one in five past
/// the 30 s timeout).
fn busy_target_serves(t: &Transport) {
    const OPS: u64 = 20;
    const COUNTER: usize = 0;
    const DONE: usize = 8;
    const SCRATCH: usize = 16;
    let (me, n) = (t.my_pe(), t.num_pes());
    let busy = n - 1;
    let a = t.alloc(24).unwrap();
    t.barrier().unwrap();
    if me == busy {
        let mut calls = 0u64;
        while a.local_load::<u64>(DONE).unwrap() < (n - 1) as u64 {
            calls += 1;
            a.put(me, SCRATCH, &calls.to_ne_bytes()).unwrap();
            std::thread::yield_now(); // 4 PEs on 2 cores: let the peers run
        }
        assert_eq!(
            a.local_load::<u64>(COUNTER).unwrap(),
            OPS * (n - 1) as u64,
            "adds from peers lost"
        );
    } else {
        for i in 0..OPS {
            a.atomic_fetch_add::<u64>(busy, COUNTER, 1).unwrap();
            let mut got = [0u8; 8];
            a.get(busy, COUNTER, &mut got).unwrap();
            assert!(
                u64::from_ne_bytes(got) > i,
                "PE {me}: our own {} adds not visible on PE {busy}",
                i + 1
            );
        }
        a.atomic_fetch_add::<u64>(busy, DONE, 1).unwrap();
    }
    t.barrier().unwrap();
    a.free().unwrap();
}

/// A mailbox as runtimes poll one: each PE puts a batch to its right neighbour, fences, then
/// sets the batch's count; the neighbour polls the count with `local_load`, calling
/// `Transport::progress` on each pass (no `wait_until`), and must find the whole batch once
/// it sees the count.
fn poll_with_progress_after_fence(t: &Transport) {
    const ROUNDS: u64 = 10;
    const BATCH: usize = 512;
    let (me, n) = (t.my_pe(), t.num_pes());
    let (right, left) = ((me + 1) % n, (me + n - 1) % n);
    let boxes: lamellar_transport::SymArray<u64> = t.alloc_array(1 + BATCH).unwrap();
    boxes.put(me, 0, &vec![0; 1 + BATCH]).unwrap();
    t.barrier().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for round in 1..=ROUNDS {
        let batch: Vec<u64> =
            (0..BATCH as u64).map(|i| (me as u64) << 32 | round << 16 | i).collect();
        boxes.put(right, 1, &batch).unwrap();
        t.fence().unwrap();
        boxes.set(right, 0, round).unwrap();
        while boxes.bytes().local_load::<u64>(0).unwrap() < round {
            t.progress().unwrap();
            assert!(
                std::time::Instant::now() < deadline,
                "PE {me}: round {round} from PE {left} never seen"
            );
            std::thread::yield_now();
        }
        let mut got = vec![0u64; BATCH];
        boxes.get(me, 1, &mut got).unwrap();
        assert!(
            got.iter().enumerate().all(|(i, &v)| v == (left as u64) << 32 | round << 16 | i as u64),
            "PE {me}: count of round {round} seen before PE {left}'s batch"
        );
        // The left neighbour must not overwrite the batch before everyone has read it.
        t.barrier().unwrap();
    }
    boxes.free().unwrap();
}

/// Direct views of peers' parts: shmem maps every PE, rofi and ucx none. Each PE stores into
/// the element named after it in every part it can view, and adds to one word on PE 0 both
/// through its view (CPU atomics) and through the transport: after a barrier, every store
/// landed where put/get see it and the total is exact.
fn local_views(t: &Transport) {
    const ADDS: u64 = 200;
    let (me, n) = (t.my_pe(), t.num_pes());
    let sum = n; // the shared counter's element, after one element per PE
    let a: lamellar_transport::SymArray<u64> = t.alloc_array(n + 1).unwrap();
    a.put(me, 0, &vec![0; n + 1]).unwrap();
    t.barrier().unwrap();
    // Views exist where the transport reaches a peer through shared memory, on the backends
    // that map it into this process (not ucx: its shared memory is UCX's own).
    let maps = |pe: usize| {
        t.backend_name() != "ucx"
            && t.path_to(pe).unwrap() == lamellar_transport::PeerPath::SharedMemory
    };
    for pe in 0..n {
        let view = a.local_view(pe).unwrap();
        assert_eq!(view.is_some(), maps(pe), "PE {me}: view of PE {pe} on {}", t.backend_name());
        if let Some(v) = view {
            assert_eq!(v.len(), n + 1);
            v.write(me, (me * 1000 + pe) as u64 + 1).unwrap();
            assert_eq!(
                v.read(n + 1).unwrap_err().kind(),
                lamellar_transport::ErrorKind::OutOfBounds
            );
        }
    }
    assert_eq!(a.local_view(n).unwrap_err().kind(), lamellar_transport::ErrorKind::BadPe);
    let on_zero = a.local_view(0).unwrap();
    for i in 0..ADDS {
        match (&on_zero, i % 2) {
            (Some(v), 0) => {
                v.atomic(sum).unwrap().fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            _ => a.add(0, sum, 1).unwrap(),
        }
    }
    t.barrier().unwrap();
    let mut mine = vec![0u64; n + 1];
    a.get(me, 0, &mut mine).unwrap();
    for w in (0..n).filter(|&w| maps(w)) {
        assert_eq!(mine[w], (w * 1000 + me) as u64 + 1, "PE {me}: PE {w}'s store through its view");
    }
    if me == 0 {
        assert_eq!(mine[sum], ADDS * n as u64, "adds through views and the transport mixed");
    }
    t.barrier().unwrap();
    a.free().unwrap();
}

fn team_alloc_and_barrier(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    // Members in a deliberately unsorted order: the last PE, then the even ones.
    let mut pes = vec![n - 1];
    pes.extend((0..n - 1).filter(|p| p % 2 == 0));
    let team = t.team(&pes).unwrap();
    if team.contains(me) {
        let idx = team.index_of(me).unwrap();
        let next = pes[(idx + 1) % pes.len()];
        let a = t.alloc_array_team::<u64>(&team, 4).unwrap();
        for round in 0..20u64 {
            a.put(next, 0, &[round * 10 + me as u64]).unwrap();
            t.barrier_team(&team).unwrap();
            let prev = pes[(idx + pes.len() - 1) % pes.len()];
            assert_eq!(a.local_load(0).unwrap(), round * 10 + prev as u64, "team round {round}");
            t.barrier_team(&team).unwrap();
        }
        if let Some(outsider) = (0..n).find(|p| !team.contains(*p)) {
            // Every path to a PE, the one-element and byte ones included: on shmem the
            // outsider's memory is mapped here all the same.
            assert_eq!(a.put(outsider, 0, &[1]).unwrap_err().kind(), ErrorKind::BadPe);
            assert_eq!(a.put_one(outsider, 0, 1).unwrap_err().kind(), ErrorKind::BadPe);
            assert_eq!(a.get_one(outsider, 0).unwrap_err().kind(), ErrorKind::BadPe);
            let mut word = [0u8; 8];
            assert_eq!(a.bytes().get(outsider, 0, &mut word).unwrap_err().kind(), ErrorKind::BadPe);
        }
        a.free().unwrap();
    } else {
        assert_eq!(t.alloc_team(&team, 8).unwrap_err().kind(), ErrorKind::BadPe);
        assert_eq!(t.barrier_team(&team).unwrap_err().kind(), ErrorKind::BadPe);
    }
    t.barrier().unwrap();
}

fn bad_input(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    let a = t.alloc(64).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(a.put(n, 0, &buf).unwrap_err().kind(), ErrorKind::BadPe);
    assert_eq!(a.get(usize::MAX, 0, &mut buf).unwrap_err().kind(), ErrorKind::BadPe);
    assert_eq!(a.put(me, 60, &buf).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(a.get(me, usize::MAX, &mut buf).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(a.atomic_fetch_add::<u64>(me, 4, 1).unwrap_err().kind(), ErrorKind::Misaligned);
    assert_eq!(a.atomic_fetch_add::<u32>(me, 2, 1).unwrap_err().kind(), ErrorKind::Misaligned);
    assert_eq!(a.atomic_fetch_add::<u64>(me, 64, 1).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(a.atomic_fetch_add::<u64>(n + 3, 0, 1).unwrap_err().kind(), ErrorKind::BadPe);
    assert_eq!(a.wait_until(60, |_: u64| true).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(a.wait_until(4, |_: u64| true).unwrap_err().kind(), ErrorKind::Misaligned);
    assert_eq!(t.team(&[0, 0]).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(t.team(&[n]).unwrap_err().kind(), ErrorKind::BadPe);
    t.scope(|s| {
        assert_eq!(s.put_nb(&a, n, 0, &buf).err().map(|e| e.kind()), Some(ErrorKind::BadPe));
        assert_eq!(
            s.put_nb(&a, me, 63, &buf).err().map(|e| e.kind()),
            Some(ErrorKind::OutOfBounds)
        );
    })
    .unwrap();
    // Nothing was lost: the allocation still works after the rejected calls.
    a.put(me, 0, &[7u8; 8]).unwrap();
    a.get(me, 0, &mut buf).unwrap();
    assert_eq!(buf, [7u8; 8]);
    t.barrier().unwrap();
    a.free().unwrap();
    // Mismatched collective sizes: every PE gets SizeMismatch, then a matched one works.
    if n > 1 {
        let e = t.alloc(if me == 0 { 8 } else { 16 }).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SizeMismatch, "{e}");
    }
    let ok = t.alloc(16).unwrap();
    ok.free().unwrap();
    for ty in AtomicType::ALL {
        for op in AtomicOp::ALL {
            let _ = t.atomic_support(op, ty); // answers for every pair without panicking
        }
    }
}

fn typed_view(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
    #[repr(C)]
    struct P3 {
        x: f32,
        y: f32,
        z: f32,
    }
    let arr: SymArray<P3> = t.alloc_array(n).unwrap();
    assert_eq!(arr.len(), n);
    let right = (me + 1) % n;
    arr.put(right, me, &[P3 { x: me as f32, y: 1.5, z: -2.0 }]).unwrap();
    t.barrier().unwrap();
    let left = (me + n - 1) % n;
    let mut got = [P3 { x: 0.0, y: 0.0, z: 0.0 }];
    arr.get(me, left, &mut got).unwrap();
    assert_eq!(got[0], P3 { x: left as f32, y: 1.5, z: -2.0 });
    assert_eq!(arr.put(me, n, &got).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(arr.get(me, n - 1, &mut [got[0]; 2]).unwrap_err().kind(), ErrorKind::OutOfBounds);
    let mut out = [P3 { x: 0.0, y: 0.0, z: 0.0 }; 1];
    t.scope(|s| {
        let h = s.get_nb_array(&arr, me, left, &mut out).unwrap();
        let back = h.wait().unwrap();
        assert_eq!(back[0].x, left as f32);
    })
    .unwrap();
    t.barrier().unwrap();
    arr.free().unwrap();
}

/// One element at a time (`put_one`, `get_one`, and 1, 2, 4 and 8-byte byte puts and gets,
/// the sizes the node-local path moves as one load and store): every PE writes its neighbour,
/// every value lands whole; bad PE and index are typed errors that move nothing.
fn single_elements(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    let (right, left) = ((me + 1) % n, (me + n - 1) % n);
    let words: SymArray<u64> = t.alloc_array(n).unwrap();
    let bytes = t.alloc(16 * n).unwrap();
    let mark = |pe: usize| 0x0101_0101_0101_0101u64 * (pe as u64 + 1);
    words.put_one(right, me, mark(me)).unwrap();
    // At offset 16 * me of the neighbour: 8, 4, 2 and 1 bytes of the mark, packed.
    let m = mark(me).to_le_bytes();
    for (at, len) in [(0, 8), (8, 4), (12, 2), (14, 1)] {
        bytes.put(right, 16 * me + at, &m[..len]).unwrap();
    }
    t.barrier().unwrap();
    assert_eq!(words.get_one(me, left).unwrap(), mark(left));
    assert_eq!(words.get_one(right, me).unwrap(), mark(me));
    let want = mark(left).to_le_bytes();
    for (at, len) in [(0, 8), (8, 4), (12, 2), (14, 1)] {
        let mut got = [0u8; 8];
        bytes.get(me, 16 * left + at, &mut got[..len]).unwrap();
        assert_eq!(&got[..len], &want[..len], "{len} bytes at {at}");
    }
    assert_eq!(words.put_one(n, 0, 1).unwrap_err().kind(), ErrorKind::BadPe);
    assert_eq!(words.put_one(right, n, 1).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(words.get_one(n, 0).unwrap_err().kind(), ErrorKind::BadPe);
    assert_eq!(words.get_one(me, n).unwrap_err().kind(), ErrorKind::OutOfBounds);
    t.barrier().unwrap();
    // The rejected puts moved nothing: only the left neighbour's element is written here.
    for i in 0..n {
        assert_eq!(
            words.get_one(me, i).unwrap(),
            if i == left { mark(left) } else { 0 },
            "element {i}"
        );
    }
    t.barrier().unwrap();
    bytes.free().unwrap();
    words.free().unwrap();
}

/// Four threads per PE share one transport: two issue non-blocking puts and gets (and a
/// blocking get) to their neighbours while the other two quiet and add atomically, all at
/// once. Every byte lands and every add counts.
pub fn threads_issue_and_quiet(t: &Transport) {
    const ROUNDS: usize = 150;
    const LEN: usize = 1024;
    let (me, n) = (t.my_pe(), t.num_pes());
    let (right, left) = ((me + 1) % n, (me + n - 1) % n);
    let data = t.alloc(2 * LEN).unwrap();
    let counter = t.alloc_array::<u64>(1).unwrap();
    t.barrier().unwrap();
    std::thread::scope(|s| {
        for th in 0..4usize {
            let (data, counter) = (&data, &counter);
            s.spawn(move || {
                for r in 0..ROUNDS {
                    if th < 2 {
                        // Thread th owns bytes [th * LEN, (th + 1) * LEN) of every PE's part,
                        // written and read back in WINDOW pieces all in flight at once.
                        const WINDOW: usize = 8;
                        const PIECE: usize = LEN / WINDOW;
                        let src: Vec<u8> = (0..LEN).map(|i| pattern(me, th, r, i)).collect();
                        let mut back = vec![0u8; LEN];
                        t.scope(|sc| {
                            let puts: Vec<_> = (0..WINDOW)
                                .map(|k| {
                                    sc.put_nb(
                                        data,
                                        right,
                                        th * LEN + k * PIECE,
                                        &src[k * PIECE..(k + 1) * PIECE],
                                    )
                                })
                                .collect::<Result<_, _>>()?;
                            for p in puts {
                                p.wait()?;
                            }
                            t.quiet()?; // the puts are visible at the target before the gets
                            let gets: Vec<_> = back
                                .chunks_mut(PIECE)
                                .enumerate()
                                .map(|(k, b)| sc.get_nb(data, right, th * LEN + k * PIECE, b))
                                .collect::<Result<_, _>>()?;
                            for g in gets {
                                g.wait()?;
                            }
                            Ok::<_, lamellar_transport::Error>(())
                        })
                        .unwrap()
                        .unwrap_or_else(|e| panic!("thread {th} round {r}: {e}"));
                        assert!(
                            back == src,
                            "thread {th} round {r}: read back from PE {right} differs"
                        );
                        let mut one = [0u8; 8];
                        data.get(left, th * LEN, &mut one).unwrap();
                    } else {
                        t.quiet().unwrap_or_else(|e| panic!("thread {th} round {r}: quiet: {e}"));
                        counter.fetch_add(right, 0, 1u64).unwrap();
                    }
                }
            });
        }
    });
    t.quiet().unwrap();
    t.barrier().unwrap();
    let mut total = [0u64];
    counter.get(me, 0, &mut total).unwrap();
    assert_eq!(total[0], 2 * ROUNDS as u64, "adds from PE {left}'s two quieting threads");
    for th in 0..2 {
        let mut got = vec![0u8; LEN];
        data.get(me, th * LEN, &mut got).unwrap();
        let want: Vec<u8> = (0..LEN).map(|i| pattern(left, th, ROUNDS - 1, i)).collect();
        assert!(got == want, "thread {th}'s last put from PE {left} did not land on PE {me}");
    }
}
