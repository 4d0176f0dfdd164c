//! `SymHeap`: ten thousand small symmetric blocks from one segment, at the same offsets on
//! every PE, without a descriptor or mapping each.

use crate::cases::Case;
use lamellar_transport::{ErrorKind, SymArray, Transport};

pub fn all() -> Vec<Case> {
    vec![("heap_ten_thousand_small_blocks", ten_thousand_small_blocks)]
}

const BLOCKS: usize = 10_000;

fn count_lines(path: &str) -> usize {
    std::fs::read_to_string(path).map(|s| s.lines().count()).unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

fn ten_thousand_small_blocks(t: &Transport) {
    let (me, n) = (t.my_pe(), t.num_pes());
    let (right, left) = ((me + 1) % n, (me + n - 1) % n);
    let heap = t.sym_heap(t.world(), 1 << 20).unwrap();
    // The first block grows the heap (a collective allocation); count from there.
    let first = heap.alloc_array::<u64>(8).unwrap();
    let (fds, maps) = (open_fds(), count_lines("/proc/self/maps"));
    let mut blocks: Vec<SymArray<u64>> = vec![first];
    for _ in 1..BLOCKS {
        blocks.push(heap.alloc_array::<u64>(8).unwrap());
    }
    assert_eq!(heap.segments(), 1, "10 000 blocks of 64 B fit one 1 MiB segment");
    assert!(open_fds() <= fds + 2, "descriptors grew from {fds} to {}", open_fds());
    let maps_now = count_lines("/proc/self/maps");
    assert!(maps_now <= maps + 8, "mappings grew from {maps} to {maps_now}");
    // Every block is its own 64 B: a value put into each lands in that block alone.
    for (i, b) in blocks.iter().enumerate() {
        b.put(right, 7, &[(me * 1_000_000 + i) as u64]).unwrap();
    }
    t.barrier().unwrap();
    for (i, b) in blocks.iter().enumerate() {
        assert_eq!(b.bytes().local_load::<u64>(56).unwrap(), (left * 1_000_000 + i) as u64);
        assert_eq!(b.bytes().local_load::<u64>(0).unwrap(), 0, "block {i} overlaps another");
    }
    t.barrier().unwrap();
    // The bounds are the block's, not the segment's.
    let e = blocks[0].put(right, 8, &[1]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfBounds, "{e}");
    assert_eq!(blocks[0].bytes().len(), 64);
    // A live block keeps the heap.
    let last = blocks.pop().unwrap();
    drop(blocks);
    // Freed blocks are reused: ten thousand more need no new segment.
    let again: Vec<SymArray<u64>> = (0..BLOCKS - 1).map(|_| heap.alloc_array(8).unwrap()).collect();
    assert_eq!(heap.segments(), 1);
    // A block larger than a segment gets a segment of its own.
    let big = heap.alloc(3 << 20).unwrap();
    assert_eq!(heap.segments(), 2);
    big.put(right, (3 << 20) - 8, &[7u8; 8]).unwrap();
    t.barrier().unwrap();
    drop((big, again));
    let heap2 = t.sym_heap(t.world(), 1 << 20).unwrap();
    let e = heap2.alloc_array::<u64>(1).map(drop);
    assert!(e.is_ok());
    heap2.free().unwrap();
    drop(last);
    heap.free().unwrap();
}
