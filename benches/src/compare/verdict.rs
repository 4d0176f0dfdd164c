//! How `compare` judges a bar on a noisy machine.
//!
//! The baseline and ours run alternately, round after round, so round i of one was measured
//! right next to round i of the other. On this project's KVM guest a run's median drifts by up
//! to a third over minutes, so the ratio judged is the median of the per-round ratios
//! (ours_i / theirs_i): it cancels the drift two back-to-back runs share. What it does not
//! cancel is the level of each run (two runs of one binary back to back differ by up to 15 %),
//! so every verdict carries a bootstrap 90 % interval of that ratio: "clear" when the interval
//! is on one side of the bar, "not resolved" when the bar lies inside it (more rounds narrow
//! it).
//!
//! Nor does pairing cancel the host's floor when it changes between a round's two runs:
//! moving a cache line between the two vCPUs costs ~75 ns or ~300 ns, flipping from second to
//! second, and a ping-pong measures little else. So a cache-line probe runs before, between
//! and after each round's runs ([`split`] finds two floors in the probes); a latency row whose
//! runs' own values split the same way is judged on the rounds whose two runs fell on the same
//! side, when there are at least [`MIN_MATCHED`] of them. A program slower on every round is
//! not hidden: no round matches, so all are judged.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The floors' means must be this far apart for [`split`] to see two (one floor's own
/// spread is ~1.3x, the two floors ~4x).
pub const GAP: f64 = 2.0;
/// Fewer rounds on matching floors than this: judged on all rounds (and said so).
pub const MIN_MATCHED: usize = 5;
const RESAMPLES: usize = 2000;

/// The harness's own median (`lamellar_bench::stats`), NaN for no values.
pub fn median(v: &[f64]) -> f64 {
    lamellar_bench::stats::summarize(v.to_vec()).0
}

/// Median over rounds of ours_i / theirs_i.
pub fn paired_ratio(ours: &[f64], theirs: &[f64]) -> f64 {
    median(&ours.iter().zip(theirs).map(|(o, t)| o / t).collect::<Vec<_>>())
}

/// Bootstrap 90 % interval of the paired ratio: rounds resampled with replacement, with a
/// fixed seed so the same data always gives the same interval.
pub fn interval(ours: &[f64], theirs: &[f64]) -> (f64, f64) {
    let ratios: Vec<f64> = ours.iter().zip(theirs).map(|(o, t)| o / t).collect();
    if ratios.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = SmallRng::seed_from_u64(1);
    let mut meds: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            median(
                &(0..ratios.len())
                    .map(|_| ratios[rng.random_range(0..ratios.len())])
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    meds.sort_by(f64::total_cmp);
    (meds[RESAMPLES / 20], meds[RESAMPLES - RESAMPLES / 20 - 1])
}

#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    pub ratio: f64,
    pub interval: (f64, f64),
    pub meets: bool,
    /// The whole interval is on one side of the bar.
    pub clear: bool,
}

/// Latency: ours within `bar` times theirs; bandwidth: ours at least `bar` times theirs.
pub fn judge(ours: &[f64], theirs: &[f64], latency: bool, bar: f64) -> Judgement {
    let ratio = paired_ratio(ours, theirs);
    let (lo, hi) = interval(ours, theirs);
    let meets = if latency { ratio <= bar } else { ratio >= bar };
    let clear = if latency { hi <= bar || lo > bar } else { lo >= bar || hi < bar };
    Judgement { ratio, interval: (lo, hi), meets, clear }
}

/// The value between the host's two floors, or None if the values show one floor: split in
/// two where the classes separate best (Otsu's method on the logarithms, which tolerates
/// probes that caught a change of floor), if the classes' geometric means are [`GAP`]x apart
/// and each holds a tenth of the values at least.
pub fn split(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().filter(|x| **x > 0.0).map(|x| x.ln()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let edge = (n / 10).max(1);
    if n < 2 * edge {
        return None;
    }
    let mut best: Option<(f64, f64, f64)> = None;
    for i in edge..=n - edge {
        let (lo, hi) =
            (v[..i].iter().sum::<f64>() / i as f64, v[i..].iter().sum::<f64>() / (n - i) as f64);
        let score = (i * (n - i)) as f64 * (hi - lo).powi(2);
        if best.is_none_or(|b| score > b.0) {
            best = Some((score, lo, hi));
        }
    }
    let (_, lo, hi) = best?;
    ((hi - lo).exp() >= GAP).then(|| ((lo + hi) / 2.0).exp())
}

/// Which rounds a row is judged on, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    pub rounds: Vec<usize>,
    /// Where the runs' values split between the floors, if they do.
    pub threshold: Option<f64>,
    pub why: String,
}

/// A latency row with probes showing two floors and runs split the same way: the rounds
/// whose two runs fell on the same side (if [`MIN_MATCHED`] or more); otherwise every round.
pub fn judged_rounds(probes: &[Vec<f64>], theirs: &[f64], ours: &[f64], latency: bool) -> Judged {
    let all = (0..theirs.len()).collect::<Vec<_>>();
    let every = |why: &str| Judged { rounds: all.clone(), threshold: None, why: why.into() };
    if !latency {
        return every("bandwidth: every round judged");
    }
    if probes.is_empty() || split(&probes.concat()).is_none() {
        return every("the probes show one floor: every round judged");
    }
    let Some(threshold) = split(&[theirs, ours].concat()) else {
        return every("the runs show one level: every round judged");
    };
    let same: Vec<usize> =
        all.iter().copied().filter(|&i| (theirs[i] > threshold) == (ours[i] > threshold)).collect();
    if same.len() == all.len() {
        Judged {
            rounds: all,
            threshold: Some(threshold),
            why: "every round's runs fell on the same floor".into(),
        }
    } else if same.len() >= MIN_MATCHED {
        Judged {
            why: format!("judged on the {} rounds whose runs fell on the same floor", same.len()),
            rounds: same,
            threshold: Some(threshold),
        }
    } else {
        // The split then divides the programs, not the floors: a real difference shows.
        Judged {
            rounds: all,
            threshold: Some(threshold),
            why: format!(
                "every round judged: fewer than {MIN_MATCHED} rounds' runs fell on the same side"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [f64; 10] = [100.0, 200.0, 100.0, 200.0, 150.0, 120.0, 180.0, 110.0, 190.0, 160.0];

    fn scaled(f: &[f64]) -> Vec<f64> {
        BASE.iter().zip(f.iter().cycle()).map(|(b, f)| b * f).collect()
    }

    #[test]
    fn paired_not_pooled_and_the_bar_has_a_direction() {
        // 5 % slower in every round although the rounds drift 2x: a clear pass.
        let j = judge(&scaled(&[1.05]), &BASE, true, 1.10);
        assert!(
            (j.ratio - 1.05).abs() < 1e-9
                && j.meets
                && j.clear
                && j.interval.0 <= j.ratio
                && j.ratio <= j.interval.1,
            "{j:?}"
        );
        let j = judge(&scaled(&[1.2]), &BASE, true, 1.10);
        assert!(!j.meets && j.clear, "{j:?}");
        // Bandwidth: higher is better.
        let j = judge(&scaled(&[0.95]), &BASE, false, 0.90);
        assert!(j.meets && j.clear, "{j:?}");
        let j = judge(&scaled(&[0.80]), &BASE, false, 0.90);
        assert!(!j.meets && j.clear, "{j:?}");
    }

    #[test]
    fn rounds_straddling_the_bar_are_not_resolved_and_the_interval_is_reproducible() {
        let noisy = scaled(&[0.80, 1.00, 0.85, 0.98, 0.92, 0.84, 1.02, 0.88, 0.95, 0.90]);
        let j = judge(&noisy, &BASE, false, 0.90);
        assert!(j.interval.0 < 0.90 && 0.90 < j.interval.1 && !j.clear, "{j:?}");
        assert_eq!(interval(&noisy, &BASE), interval(&noisy, &BASE));
    }

    #[test]
    fn two_floors_are_split_in_the_gap_one_floor_is_not() {
        assert!(
            split(&[75.0, 80.0, 300.0, 78.0, 310.0, 290.0, 85.0])
                .is_some_and(|t| 150.0 < t && t < 290.0)
        );
        assert_eq!(split(&[75.0, 80.0, 90.0, 78.0, 100.0, 85.0]), None);
        let mut one_stray = vec![75.0; 30];
        one_stray.push(300.0);
        assert_eq!(split(&one_stray), None);
        assert_eq!(split(&[]), None);
    }

    #[test]
    fn a_latency_row_is_judged_on_rounds_whose_runs_shared_a_floor() {
        // Ours 5 % slower on both floors; in 6 of 11 rounds ours ran high and theirs low.
        let probes = vec![vec![75.0, 80.0, 300.0]; 11];
        let theirs = [90.0, 90.0, 300.0, 300.0, 90.0, 90.0, 90.0, 90.0, 90.0, 90.0, 90.0];
        let ours = [94.5, 94.5, 315.0, 315.0, 94.5, 315.0, 315.0, 315.0, 315.0, 315.0, 315.0];
        let j = judged_rounds(&probes, &theirs, &ours, true);
        assert_eq!(j.rounds, [0, 1, 2, 3, 4]);
        let pick = |v: &[f64]| j.rounds.iter().map(|&i| v[i]).collect::<Vec<_>>();
        assert!((paired_ratio(&pick(&ours), &pick(&theirs)) - 1.05).abs() < 1e-9);
        assert!((paired_ratio(&ours, &theirs) - 3.5).abs() < 1e-9);
        // The probes show one floor: nothing is split.
        let one = judged_rounds(&vec![vec![75.0, 80.0, 78.0]; 11], &theirs, &ours, true);
        assert_eq!((one.rounds.len(), one.why.contains("one floor")), (11, true));
    }

    #[test]
    fn a_program_slower_on_every_round_is_not_hidden() {
        let probes = vec![vec![75.0, 300.0, 80.0]; 8];
        let j = judged_rounds(&probes, &[90.0; 8], &[270.0; 8], true);
        assert_eq!(j.rounds.len(), 8, "{j:?}");
        assert!(j.why.contains("fewer than 5"), "{j:?}");
        assert!((paired_ratio(&[270.0; 8], &[90.0; 8]) - 3.0).abs() < 1e-9);
        // Two floors in the probes, one level in the runs (a tcp op): every round.
        assert!(judged_rounds(&probes, &[20e3; 8], &[21e3; 8], true).why.contains("one level"));
        assert!(judged_rounds(&probes, &[1.0; 8], &[1.0; 8], false).why.contains("bandwidth"));
    }
}
