//! `SymArray<T>`: a typed view over a symmetric allocation, indexed by element.

use crate::atomic::{AtomicOp, RemoteAtomic};
use crate::error::{Error, Result};
use crate::memory::SymAlloc;
use crate::team::Team;
use crate::transport::Transport;
use bytemuck::Pod;
use std::marker::PhantomData;

/// `len` elements of `T` on every PE of a team. `T: Pod` is the line between bytes that may
/// cross the wire and everything else (no pointers, no padding, every bit pattern valid).
pub struct SymArray<T: Pod> {
    bytes: SymAlloc,
    len: usize,
    _t: PhantomData<T>,
}

impl Transport {
    /// Collective: `len` elements of `T` on every PE.
    pub fn alloc_array<T: Pod>(&self, len: usize) -> Result<SymArray<T>> {
        self.alloc_array_team(&self.world().clone(), len)
    }

    /// Collective over `team`: `len` elements of `T` on each member.
    pub fn alloc_array_team<T: Pod>(&self, team: &Team, len: usize) -> Result<SymArray<T>> {
        if size_of::<T>() == 0 {
            return Err(Error::InvalidArgument("zero-sized element type".into()));
        }
        let bytes = self.alloc_team(team, bytes_for::<T>(len)?)?;
        Ok(SymArray::from_bytes(bytes, len))
    }
}

impl<T: Pod> std::fmt::Debug for SymArray<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SymArray")
            .field("len", &self.len)
            .field("elem_size", &size_of::<T>())
            .finish()
    }
}

pub(crate) fn bytes_for<T>(len: usize) -> Result<usize> {
    len.checked_mul(size_of::<T>()).ok_or(Error::OutOfBounds { offset: 0, len, size: usize::MAX })
}

impl<T: Pod> SymArray<T> {
    pub(crate) fn from_bytes(bytes: SymAlloc, len: usize) -> SymArray<T> {
        SymArray { bytes, len, _t: PhantomData }
    }

    /// Elements on each PE.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The byte-level allocation underneath.
    pub fn bytes(&self) -> &SymAlloc {
        &self.bytes
    }

    /// Byte offset of element `index`, checking that `count` elements from there fit.
    #[inline]
    pub fn byte_offset(&self, index: usize, count: usize) -> Result<usize> {
        match index.checked_add(count) {
            Some(end) if end <= self.len => Ok(index * size_of::<T>()),
            _ => Err(Error::OutOfBounds { offset: index, len: count, size: self.len }),
        }
    }

    /// Writes `src` at element `index` on `pe`; see [`SymAlloc::put`] for completion.
    #[inline]
    pub fn put(&self, pe: usize, index: usize, src: &[T]) -> Result<()> {
        let off = self.byte_offset(index, src.len())?;
        self.bytes.put_in_range(pe, off, bytemuck::cast_slice(src))
    }

    /// Reads `dst.len()` elements from element `index` on `pe`.
    #[inline]
    pub fn get(&self, pe: usize, index: usize, dst: &mut [T]) -> Result<()> {
        let off = self.byte_offset(index, dst.len())?;
        self.bytes.get_in_range(pe, off, bytemuck::cast_slice_mut(dst))
    }

    /// Writes one element at `index` on `pe` (OpenSHMEM's `shmem_p`).
    #[inline]
    pub fn put_one(&self, pe: usize, index: usize, value: T) -> Result<()> {
        let off = self.byte_offset(index, 1)?;
        self.bytes.put_in_range(pe, off, bytemuck::bytes_of(&value))
    }

    /// Reads one element at `index` on `pe` (OpenSHMEM's `shmem_g`).
    #[inline]
    pub fn get_one(&self, pe: usize, index: usize) -> Result<T> {
        let off = self.byte_offset(index, 1)?;
        if let Some(v) = self.bytes.read_direct(pe, off) {
            return Ok(v);
        }
        let mut v = T::zeroed();
        self.bytes.get_in_range(pe, off, bytemuck::bytes_of_mut(&mut v))?;
        Ok(v)
    }

    /// Collective release (see [`SymAlloc::free`]).
    pub fn free(self) -> Result<()> {
        self.bytes.free()
    }
}

// The element at an index in range is a word in range and aligned (elements are their own
// width, on a page-aligned base): the atomics check only the PE further down.
impl<T: Pod + RemoteAtomic> SymArray<T> {
    #[inline(always)]
    fn at(&self, index: usize) -> Result<usize> {
        self.byte_offset(index, 1)
    }
    // Always inlined, as `SymAlloc::atomic` is: out of line, `op` became a run-time argument
    // and every typed atomic a call and a jump table (twice the byte API's time on shmem).
    #[inline(always)]
    fn atomic(&self, pe: usize, index: usize, op: AtomicOp, operand: T, compare: T) -> Result<T> {
        self.bytes.atomic_on_word(pe, self.at(index)?, op, operand, compare)
    }
    #[inline]
    pub fn fetch(&self, pe: usize, index: usize) -> Result<T> {
        self.atomic(pe, index, AtomicOp::Fetch, T::zeroed(), T::zeroed())
    }
    #[inline]
    pub fn set(&self, pe: usize, index: usize, value: T) -> Result<()> {
        self.atomic(pe, index, AtomicOp::Set, value, T::zeroed()).map(drop)
    }
    #[inline]
    pub fn swap(&self, pe: usize, index: usize, value: T) -> Result<T> {
        self.atomic(pe, index, AtomicOp::Swap, value, T::zeroed())
    }
    #[inline]
    pub fn compare_swap(&self, pe: usize, index: usize, current: T, new: T) -> Result<T> {
        self.atomic(pe, index, AtomicOp::CompareSwap, new, current)
    }
    #[inline]
    pub fn fetch_add(&self, pe: usize, index: usize, value: T) -> Result<T> {
        self.atomic(pe, index, AtomicOp::FetchAdd, value, T::zeroed())
    }
    #[inline]
    pub fn add(&self, pe: usize, index: usize, value: T) -> Result<()> {
        self.atomic(pe, index, AtomicOp::Add, value, T::zeroed()).map(drop)
    }
    #[inline]
    pub fn fetch_and(&self, pe: usize, index: usize, value: T) -> Result<T> {
        self.atomic(pe, index, AtomicOp::FetchAnd, value, T::zeroed())
    }
    #[inline]
    pub fn fetch_or(&self, pe: usize, index: usize, value: T) -> Result<T> {
        self.atomic(pe, index, AtomicOp::FetchOr, value, T::zeroed())
    }
    #[inline]
    pub fn fetch_xor(&self, pe: usize, index: usize, value: T) -> Result<T> {
        self.atomic(pe, index, AtomicOp::FetchXor, value, T::zeroed())
    }
    #[inline]
    pub fn and(&self, pe: usize, index: usize, value: T) -> Result<()> {
        self.atomic(pe, index, AtomicOp::And, value, T::zeroed()).map(drop)
    }
    #[inline]
    pub fn or(&self, pe: usize, index: usize, value: T) -> Result<()> {
        self.atomic(pe, index, AtomicOp::Or, value, T::zeroed()).map(drop)
    }
    #[inline]
    pub fn xor(&self, pe: usize, index: usize, value: T) -> Result<()> {
        self.atomic(pe, index, AtomicOp::Xor, value, T::zeroed()).map(drop)
    }
    /// Waits until this PE's own element `index` satisfies `pred` (see
    /// [`SymAlloc::wait_until`]).
    pub fn wait_until(&self, index: usize, pred: impl FnMut(T) -> bool) -> Result<T> {
        self.bytes.wait_until(self.at(index)?, pred)
    }
    /// Acquire load of this PE's own element `index` (see [`SymAlloc::local_load`]).
    pub fn local_load(&self, index: usize) -> Result<T> {
        self.bytes.local_load(self.at(index)?)
    }
}
