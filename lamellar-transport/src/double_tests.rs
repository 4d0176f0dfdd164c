//! Tests of the safe layer over the backend double, for Miri (`miri_` names: the test
//! command runs them under `cargo miri test`): offset arithmetic and bounds, heap blocks,
//! the scope and handle lifecycle, futures and the waker thread.

use crate::{AsyncOp, ErrorKind, ReduceOp, Transport};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// Runs a future to completion on this thread, parked between polls.
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn miri_bounds_and_offsets() {
    let t = Transport::double();
    let a = t.alloc(64).unwrap();
    a.put(0, 56, &[1u8; 8]).unwrap();
    let mut back = [0u8; 8];
    a.get(0, 56, &mut back).unwrap();
    assert_eq!(back, [1; 8]);
    for (off, len) in [(57, 8), (64, 1), (usize::MAX, 2), (usize::MAX - 3, 8)] {
        let e = a.put(0, off, &vec![0u8; len]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfBounds, "{off}+{len}: {e}");
    }
    assert_eq!(a.put(1, 0, &[0]).unwrap_err().kind(), ErrorKind::BadPe);
    assert_eq!(a.atomic_fetch_add::<u64>(0, 4, 1).unwrap_err().kind(), ErrorKind::Misaligned);
    assert_eq!(a.atomic_fetch_add::<u64>(0, 8, 5).unwrap(), 0);
    assert_eq!(a.local_load::<u64>(8).unwrap(), 5);
    let arr = t.alloc_array::<u32>(4).unwrap();
    arr.put(0, 1, &[7, 8, 9]).unwrap();
    assert_eq!(arr.put(0, 2, &[1, 2, 3]).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(arr.get_one(0, 3).unwrap(), 9);
    assert_eq!(arr.get_one(0, usize::MAX).unwrap_err().kind(), ErrorKind::OutOfBounds);
}

#[test]
fn miri_heap_blocks_have_their_own_bounds() {
    let t = Transport::double();
    let heap = t.sym_heap(t.world(), 256).unwrap();
    let blocks: Vec<_> = (0..5).map(|_| heap.alloc_array::<u64>(3).unwrap()).collect();
    assert_eq!(heap.segments(), 2, "four 64 B blocks per 256 B segment");
    for (i, b) in blocks.iter().enumerate() {
        b.put(0, 0, &[i as u64; 3]).unwrap();
        assert_eq!(b.put(0, 1, &[0; 3]).unwrap_err().kind(), ErrorKind::OutOfBounds);
    }
    for (i, b) in blocks.iter().enumerate() {
        let view = b.local_view(0).unwrap().expect("the double maps its memory");
        assert_eq!(view.read(2).unwrap(), i as u64, "block {i}");
    }
    drop(blocks);
    heap.free().unwrap();
}

#[test]
fn miri_heap_free_with_live_blocks_is_an_error() {
    let t = Transport::double();
    let heap = t.sym_heap(t.world(), 128).unwrap();
    let b = heap.alloc(10).unwrap();
    assert_eq!(heap.free().unwrap_err().kind(), ErrorKind::InvalidArgument);
    // The block keeps its segment: it outlives the heap.
    b.put(0, 9, &[3]).unwrap();
    assert_eq!(b.get(0, 9, &mut [0u8; 2]).unwrap_err().kind(), ErrorKind::OutOfBounds);
}

#[test]
fn miri_scope_completes_dropped_and_forgotten_handles() {
    let t = Transport::double();
    let a = t.alloc(32).unwrap();
    let src = [5u8; 16];
    let mut dst = [0u8; 16];
    t.scope(|s| {
        let h = s.put_nb(&a, 0, 0, &src).unwrap();
        std::mem::forget(h);
        let h = s.put_nb(&a, 0, 16, &src[..8]).unwrap();
        drop(h);
    })
    .unwrap();
    let got = t
        .scope(|s| {
            let g = s.get_nb(&a, 0, 0, &mut dst).unwrap();
            block_on(g).unwrap().to_vec()
        })
        .unwrap();
    assert_eq!(got, [5; 16]);
    let mut word = [0u8; 8];
    t.scope(|s| {
        let h = s.get_nb(&a, 0, 16, &mut word).unwrap();
        assert_eq!(h.wait().unwrap(), &[5; 8]);
    })
    .unwrap();
}

#[test]
fn miri_async_ops_own_their_buffers() {
    let t = Transport::double();
    let a = t.alloc(64).unwrap();
    let put: AsyncOp = a.put_async(0, 8, vec![9; 8]).unwrap();
    assert_eq!(block_on(put).unwrap(), vec![9; 8]);
    let get = a.get_async(0, 8, 8).unwrap();
    assert_eq!(block_on(get).unwrap(), vec![9; 8]);
    // Dropped before it completes: it waits, then frees its buffer.
    drop(a.put_async(0, 0, vec![1; 64]).unwrap());
    assert_eq!(a.local_load::<u64>(56).unwrap(), u64::from_ne_bytes([1; 8]));
    assert_eq!(a.get_async(0, 60, 8).unwrap_err().kind(), ErrorKind::OutOfBounds);
    a.atomic_set::<u64>(0, 0, 3).unwrap();
    let w = a.wait_until_async::<u64, _>(0, |v| v == 3).unwrap();
    assert_eq!(block_on(w).unwrap(), 3);
}

#[test]
fn miri_collectives_on_one_pe() {
    let t = Transport::double();
    let c = t.collectives(t.world()).unwrap();
    let mut v = [1u32, 2, 3];
    c.allreduce(ReduceOp::Max, &mut v).unwrap();
    assert_eq!(v, [1, 2, 3]);
    let mut all = [0u16; 2];
    c.allgather(&[4u16, 5], &mut all).unwrap();
    assert_eq!(all, [4, 5]);
    let mut out = [0u8; 3];
    c.alltoall(&[1u8, 2, 3], &mut out).unwrap();
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn miri_bad_input_to_heaps_and_collectives_is_typed() {
    let t = Transport::double();
    let e = t.sym_heap(t.world(), 32).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "segment smaller than a block: {e}");
    let heap = t.sym_heap(t.world(), 4096).unwrap();
    let e = heap.alloc(usize::MAX - 10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "block too large: {e}");
    assert_eq!(heap.segments(), 0, "a refused block allocates nothing");
    let c = t.collectives(t.world()).unwrap();
    let mut out = [0u8; 3];
    let e = c.alltoall(&[1u8, 2, 3], &mut out[..2]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SizeMismatch, "dst of another size: {e}");
    assert_eq!(out, [0; 3], "nothing written");
    let e = c.broadcast(1, &mut out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadPe, "root outside the team: {e}");
    let e = c.reduce(0, ReduceOp::And, &mut [1.0f32]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "bitwise op on floats: {e}");
    let a = t.alloc(16).unwrap();
    assert_eq!(
        a.wait_until_async::<u64, _>(4, |_| true).unwrap_err().kind(),
        ErrorKind::Misaligned
    );
    assert_eq!(
        a.wait_until_async::<u64, _>(16, |_| true).unwrap_err().kind(),
        ErrorKind::OutOfBounds
    );
}
