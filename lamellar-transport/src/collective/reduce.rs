//! Reduction operators and the element types they apply to.

use bytemuck::Pod;

/// How [`Collectives::allreduce`](super::Collectives::allreduce) and
/// [`Collectives::reduce`](super::Collectives::reduce) combine the members' elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Wrapping sum on integers; IEEE sum on floats.
    Sum,
    Min,
    Max,
    /// Bitwise, integers only.
    And,
    /// Bitwise, integers only.
    Or,
    /// Bitwise, integers only.
    Xor,
}

/// An element type the collectives can reduce: the integers (every [`ReduceOp`]) and
/// `f32`/`f64` (sum, min, max).
pub trait Reduce: Pod {
    /// Whether `op` applies to this type.
    fn supports(op: ReduceOp) -> bool;
    /// `acc = acc op x`; only called with an op `supports` accepts. Commutative, so that
    /// two members combining the same pair in either order get the same bits.
    fn combine(op: ReduceOp, acc: &mut Self, x: Self);
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl Reduce for $t {
            fn supports(_: ReduceOp) -> bool {
                true
            }
            #[inline]
            fn combine(op: ReduceOp, acc: &mut Self, x: Self) {
                *acc = match op {
                    ReduceOp::Sum => acc.wrapping_add(x),
                    ReduceOp::Min => (*acc).min(x),
                    ReduceOp::Max => (*acc).max(x),
                    ReduceOp::And => *acc & x,
                    ReduceOp::Or => *acc | x,
                    ReduceOp::Xor => *acc ^ x,
                };
            }
        }
    )*};
}
integers!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

macro_rules! floats {
    ($($t:ty),*) => {$(
        impl Reduce for $t {
            fn supports(op: ReduceOp) -> bool {
                matches!(op, ReduceOp::Sum | ReduceOp::Min | ReduceOp::Max)
            }
            #[inline]
            fn combine(op: ReduceOp, acc: &mut Self, x: Self) {
                *acc = match op {
                    ReduceOp::Sum => *acc + x,
                    ReduceOp::Min => acc.min(x),
                    ReduceOp::Max => acc.max(x),
                    _ => unreachable!("checked by supports"),
                };
            }
        }
    )*};
}
floats!(f32, f64);
