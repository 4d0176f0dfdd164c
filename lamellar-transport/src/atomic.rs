//! Remote atomic operations: which ops, on which types, and how a type maps to raw bits.

/// A remote atomic operation. The fetching forms return the value before the operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    /// Atomic read.
    Fetch,
    /// Atomic write.
    Set,
    /// Write, returning the old value.
    Swap,
    /// Write `new` if the word equals `current`; returns the old value either way.
    CompareSwap,
    FetchAdd,
    Add,
    FetchAnd,
    FetchOr,
    FetchXor,
    And,
    Or,
    Xor,
}

impl AtomicOp {
    pub const ALL: [AtomicOp; 12] = [
        AtomicOp::Fetch,
        AtomicOp::Set,
        AtomicOp::Swap,
        AtomicOp::CompareSwap,
        AtomicOp::FetchAdd,
        AtomicOp::Add,
        AtomicOp::FetchAnd,
        AtomicOp::FetchOr,
        AtomicOp::FetchXor,
        AtomicOp::And,
        AtomicOp::Or,
        AtomicOp::Xor,
    ];
}

/// The integer types remote atomics work on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicType {
    U32,
    I32,
    U64,
    I64,
    Usize,
    Isize,
}

impl AtomicType {
    pub const ALL: [AtomicType; 6] = [
        AtomicType::U32,
        AtomicType::I32,
        AtomicType::U64,
        AtomicType::I64,
        AtomicType::Usize,
        AtomicType::Isize,
    ];

    /// Width in bytes (also the required alignment).
    #[inline]
    pub fn width(self) -> usize {
        match self {
            AtomicType::U32 | AtomicType::I32 => 4,
            AtomicType::U64 | AtomicType::I64 => 8,
            AtomicType::Usize | AtomicType::Isize => std::mem::size_of::<usize>(),
        }
    }

    #[inline]
    pub fn signed(self) -> bool {
        matches!(self, AtomicType::I32 | AtomicType::I64 | AtomicType::Isize)
    }
}

/// A backend's [`AtomicSupport`] for every (op, type), indexed by `op as usize` and
/// `ty as usize` (the `ALL` arrays list the variants in declaration order).
pub(crate) type SupportTable = [[AtomicSupport; AtomicType::ALL.len()]; AtomicOp::ALL.len()];

/// How a backend performs an (op, type) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicSupport {
    /// One hardware or fabric atomic.
    Native,
    /// Built from other native atomics (e.g. a compare-swap loop); still atomic with respect
    /// to every other transport atomic on the same word.
    Emulated,
    /// Returns [`crate::ErrorKind::Unsupported`].
    Unsupported,
}

/// One atomic request as backends see it: the type's width and signedness, and the operands
/// as raw bits (zero-extended to 64).
#[derive(Clone, Copy, Debug)]
pub struct AtomicRequest {
    pub op: AtomicOp,
    pub ty: AtomicType,
    pub operand: u64,
    pub compare: u64,
}

mod sealed {
    pub trait Sealed {}
}

/// An integer type remote atomics work on. Sealed: exactly the types in [`AtomicType`].
pub trait RemoteAtomic: bytemuck::Pod + sealed::Sealed + Send + Sync {
    const TYPE: AtomicType;
    fn to_bits(self) -> u64;
    fn from_bits(bits: u64) -> Self;
}

macro_rules! remote_atomic {
    ($t:ty, $variant:ident, $unsigned:ty) => {
        impl sealed::Sealed for $t {}
        impl RemoteAtomic for $t {
            const TYPE: AtomicType = AtomicType::$variant;
            fn to_bits(self) -> u64 {
                self as $unsigned as u64
            }
            fn from_bits(bits: u64) -> Self {
                bits as $unsigned as $t
            }
        }
    };
}

remote_atomic!(u32, U32, u32);
remote_atomic!(i32, I32, u32);
remote_atomic!(u64, U64, u64);
remote_atomic!(i64, I64, u64);
remote_atomic!(usize, Usize, usize);
remote_atomic!(isize, Isize, usize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_signed() {
        assert_eq!(i32::from_bits((-5i32).to_bits()), -5);
        assert_eq!((-1i32).to_bits(), 0xffff_ffff);
        assert_eq!(i64::from_bits((-7i64).to_bits()), -7);
        assert_eq!(isize::from_bits((-9isize).to_bits()), -9);
    }

    /// `SupportTable` is indexed by discriminant: each `ALL` must list its variants in
    /// declaration order, or a lookup would answer for another op or type.
    #[test]
    fn all_lists_variants_in_discriminant_order() {
        AtomicOp::ALL.iter().enumerate().for_each(|(i, &op)| assert_eq!(op as usize, i, "{op:?}"));
        AtomicType::ALL
            .iter()
            .enumerate()
            .for_each(|(i, &ty)| assert_eq!(ty as usize, i, "{ty:?}"));
    }
}
