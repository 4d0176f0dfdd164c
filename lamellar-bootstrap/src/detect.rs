//! Which launcher started this process, from its environment alone.
//!
//! A PMI-1 connection (`PMI_FD`, `PMI_PORT`) wins, then a PMIx server (`PMIX_NAMESPACE`,
//! `PMIX_SERVER_URI*`). Without either, any other sign of a launcher is an error: each PE
//! would otherwise run as its own job of one PE and exit 0, which is how wrong results are
//! born on clusters.

use crate::error::{Result, launcher};

/// The launcher protocol to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launcher {
    Pmi,
    Pmix,
    /// No launcher in sight: a singleton.
    None,
}

/// Reads the process environment.
pub fn detect() -> Result<Launcher> {
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().unwrap_or_default())))
        .collect();
    detect_in(&env)
}

/// True when some launcher is in sight (served or not).
pub fn launcher_in_sight() -> bool {
    !matches!(detect(), Ok(Launcher::None))
}

/// The decision, on a given environment.
pub fn detect_in(env: &[(String, String)]) -> Result<Launcher> {
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("PMI_FD").is_some() || get("PMI_PORT").is_some() {
        return Ok(Launcher::Pmi);
    }
    if get("PMIX_NAMESPACE").is_some() || env.iter().any(|(k, _)| k.starts_with("PMIX_SERVER_URI"))
    {
        return Ok(Launcher::Pmix);
    }
    let seen = |keys: &[&str]| -> Vec<String> {
        keys.iter().filter_map(|k| get(k).map(|v| format!("{k}={v}"))).collect()
    };
    let pmi = seen(&["PMI_RANK", "PMI_SIZE", "PMI_ID"]);
    if !pmi.is_empty() {
        return Err(launcher(format!(
            "{} is set but neither PMI_FD nor PMI_PORT: the launcher's PMI connection did not reach this process \
             (a wrapper between launcher and program that drops them?); unset them to run a job of one PE",
            pmi.join(" ")
        )));
    }
    let ompi = seen(&["OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"]);
    if !ompi.is_empty() {
        return Err(launcher(format!(
            "{} is set but no PMIx server is named (no PMIX_NAMESPACE / PMIX_SERVER_URI*): \
             start the job with a PMIx-capable mpirun/prterun, or with lamellar-run or MPICH's mpiexec",
            ompi.join(" ")
        )));
    }
    let tasks = get("SLURM_STEP_NUM_TASKS").and_then(|v| v.trim().parse::<u64>().ok());
    if tasks.is_some_and(|n| n > 1) {
        return Err(launcher(format!(
            "inside a Slurm step of {} tasks (SLURM_STEP_NUM_TASKS) without PMI: run it with `srun --mpi=pmi2` or \
             `srun --mpi=pmix` (or set MpiDefault=pmi2 in slurm.conf)",
            tasks.unwrap_or(0)
        )));
    }
    Ok(Launcher::None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn served_launchers_are_recognised() {
        assert_eq!(detect_in(&env(&[("PMI_FD", "5"), ("PMI_RANK", "1")])), Ok(Launcher::Pmi));
        assert_eq!(
            detect_in(&env(&[("PMI_PORT", "h:1"), ("PMIX_NAMESPACE", "x")])),
            Ok(Launcher::Pmi)
        );
        assert_eq!(
            detect_in(&env(&[("PMIX_NAMESPACE", "prterun-h-1@1"), ("OMPI_COMM_WORLD_SIZE", "2")])),
            Ok(Launcher::Pmix)
        );
        assert_eq!(detect_in(&env(&[("PMIX_SERVER_URI41", "x")])), Ok(Launcher::Pmix));
        assert_eq!(
            detect_in(&env(&[("HOME", "/root"), ("SLURM_STEP_NUM_TASKS", "1")])),
            Ok(Launcher::None)
        );
        assert_eq!(detect_in(&[]), Ok(Launcher::None));
    }

    #[test]
    fn a_launcher_we_cannot_serve_is_an_error_naming_it() {
        for (vars, names) in [
            (
                &[("PMI_RANK", "5"), ("PMI_SIZE", "2")][..],
                &["PMI_RANK=5", "PMI_SIZE=2", "PMI_FD"][..],
            ),
            (&[("OMPI_COMM_WORLD_SIZE", "2")][..], &["OMPI_COMM_WORLD_SIZE=2", "PMIx"][..]),
            (
                &[("SLURM_STEP_NUM_TASKS", "4"), ("SLURM_STEP_ID", "0")][..],
                &["4 tasks", "--mpi=pmi2"][..],
            ),
        ] {
            let e = detect_in(&env(vars)).unwrap_err().to_string();
            for n in names {
                assert!(e.contains(n), "{e:?} should name {n}");
            }
        }
    }
}
