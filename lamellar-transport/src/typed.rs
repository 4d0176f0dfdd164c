//! `SymArray<T>`: a typed view over a symmetric allocation, indexed by element.

use crate::atomic::RemoteAtomic;
use crate::error::{Error, Result};
use crate::memory::SymAlloc;
use bytemuck::Pod;
use std::marker::PhantomData;

/// `len` elements of `T` on every PE of a team. `T: Pod` is the line between bytes that may
/// cross the wire and everything else (no pointers, no padding, every bit pattern valid).
pub struct SymArray<T: Pod> {
    bytes: SymAlloc,
    len: usize,
    _t: PhantomData<T>,
}

impl<T: Pod> std::fmt::Debug for SymArray<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SymArray").field("len", &self.len).field("elem_size", &size_of::<T>()).finish()
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
    pub fn byte_offset(&self, index: usize, count: usize) -> Result<usize> {
        match index.checked_add(count) {
            Some(end) if end <= self.len => Ok(index * size_of::<T>()),
            _ => Err(Error::OutOfBounds { offset: index, len: count, size: self.len }),
        }
    }

    /// Writes `src` at element `index` on `pe`; see [`SymAlloc::put`] for completion.
    pub fn put(&self, pe: usize, index: usize, src: &[T]) -> Result<()> {
        let off = self.byte_offset(index, src.len())?;
        self.bytes.put(pe, off, bytemuck::cast_slice(src))
    }

    /// Reads `dst.len()` elements from element `index` on `pe`.
    pub fn get(&self, pe: usize, index: usize, dst: &mut [T]) -> Result<()> {
        let off = self.byte_offset(index, dst.len())?;
        self.bytes.get(pe, off, bytemuck::cast_slice_mut(dst))
    }

    /// Collective release (see [`SymAlloc::free`]).
    pub fn free(self) -> Result<()> {
        self.bytes.free()
    }
}

impl<T: Pod + RemoteAtomic> SymArray<T> {
    fn at(&self, index: usize) -> Result<usize> {
        self.byte_offset(index, 1)
    }
    pub fn fetch(&self, pe: usize, index: usize) -> Result<T> {
        self.bytes.atomic_fetch(pe, self.at(index)?)
    }
    pub fn set(&self, pe: usize, index: usize, value: T) -> Result<()> {
        self.bytes.atomic_set(pe, self.at(index)?, value)
    }
    pub fn swap(&self, pe: usize, index: usize, value: T) -> Result<T> {
        self.bytes.atomic_swap(pe, self.at(index)?, value)
    }
    pub fn compare_swap(&self, pe: usize, index: usize, current: T, new: T) -> Result<T> {
        self.bytes.atomic_compare_swap(pe, self.at(index)?, current, new)
    }
    pub fn fetch_add(&self, pe: usize, index: usize, value: T) -> Result<T> {
        self.bytes.atomic_fetch_add(pe, self.at(index)?, value)
    }
    pub fn add(&self, pe: usize, index: usize, value: T) -> Result<()> {
        self.bytes.atomic_add(pe, self.at(index)?, value)
    }
    pub fn fetch_and(&self, pe: usize, index: usize, value: T) -> Result<T> {
        self.bytes.atomic_fetch_and(pe, self.at(index)?, value)
    }
    pub fn fetch_or(&self, pe: usize, index: usize, value: T) -> Result<T> {
        self.bytes.atomic_fetch_or(pe, self.at(index)?, value)
    }
    pub fn fetch_xor(&self, pe: usize, index: usize, value: T) -> Result<T> {
        self.bytes.atomic_fetch_xor(pe, self.at(index)?, value)
    }
    pub fn and(&self, pe: usize, index: usize, value: T) -> Result<()> {
        self.bytes.atomic_and(pe, self.at(index)?, value)
    }
    pub fn or(&self, pe: usize, index: usize, value: T) -> Result<()> {
        self.bytes.atomic_or(pe, self.at(index)?, value)
    }
    pub fn xor(&self, pe: usize, index: usize, value: T) -> Result<()> {
        self.bytes.atomic_xor(pe, self.at(index)?, value)
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
