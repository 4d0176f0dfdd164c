//! The order of messages in the recursive-doubling collectives (allreduce, broadcast,
//! allgather), for any team size: members `0..pof2` (the largest power of two not above the
//! size) exchange with the member `d` away for d = 1, 2, 4, ...; each of the `rem` members
//! above them first hands its state to member `i - pof2` and at the end gets the result back.
//! log2(pof2) rounds, plus two when the size is not a power of two.

/// One step of a member's schedule; the numbers are team-relative indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send my state.
    Send(usize),
    /// Receive a state and combine it with mine.
    Combine(usize),
    /// Send my state, then receive theirs and combine it with mine.
    Exchange(usize),
    /// Receive the final state in place of mine.
    Replace(usize),
}

/// The steps of member `i` of a team of `n`.
pub(crate) fn recursive_doubling(n: usize, i: usize) -> Vec<Step> {
    debug_assert!(i < n);
    let pof2 = 1usize << (usize::BITS - 1 - n.leading_zeros());
    let rem = n - pof2;
    if i >= pof2 {
        return vec![Step::Send(i - pof2), Step::Replace(i - pof2)];
    }
    let mut steps = Vec::new();
    if i < rem {
        steps.push(Step::Combine(i + pof2));
    }
    let mut d = 1;
    while d < pof2 {
        steps.push(Step::Exchange(i ^ d));
        d *= 2;
    }
    if i < rem {
        steps.push(Step::Send(i + pof2));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Runs every member's schedule on sets of contributions: each member must end with every
    /// contribution exactly once, and no member may wait for a message that never comes.
    #[test]
    fn every_member_ends_with_every_contribution_once() {
        for n in 1..=33 {
            let plans: Vec<Vec<Step>> = (0..n).map(|i| recursive_doubling(n, i)).collect();
            let mut have: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
            let (mut pos, mut sent) = (vec![0; n], vec![false; n]);
            let mut wire: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
            let mut moved = true;
            while moved {
                moved = false;
                for i in 0..n {
                    let Some(&step) = plans[i].get(pos[i]) else { continue };
                    let (to, from) = match step {
                        Step::Send(j) => (Some(j), None),
                        Step::Exchange(j) => (Some(j), Some(j)),
                        Step::Combine(j) | Step::Replace(j) => (None, Some(j)),
                    };
                    if let (Some(j), false) = (to, sent[i]) {
                        assert!(wire.insert((i, j), have[i].clone()).is_none(), "n={n}");
                        sent[i] = true;
                        moved = true;
                    }
                    if let Some(j) = from {
                        let Some(s) = wire.remove(&(j, i)) else { continue };
                        if matches!(step, Step::Replace(_)) {
                            have[i] = s;
                        } else {
                            have[i].extend(s);
                        }
                    }
                    pos[i] += 1;
                    sent[i] = false;
                    moved = true;
                }
            }
            for i in 0..n {
                assert_eq!(pos[i], plans[i].len(), "n={n}: member {i} stuck in {:?}", plans[i]);
                have[i].sort();
                assert_eq!(have[i], (0..n).collect::<Vec<_>>(), "n={n}, member {i}");
            }
            assert!(wire.is_empty(), "n={n}: messages never received");
        }
    }
}
