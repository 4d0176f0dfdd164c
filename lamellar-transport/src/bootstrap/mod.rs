//! How a PE learns who it is and meets the others: PMI-1 when a launcher set it up, else a
//! singleton (P = 1).

pub mod pmi;
pub mod wire;

use crate::error::Result;
use pmi::PmiClient;
use std::time::Duration;

/// The job as seen by one PE: its rank, the job size, a job-unique id, and (with PMI) a
/// key-value store with a barrier.
pub struct Bootstrap {
    pub rank: usize,
    pub size: usize,
    /// Unique among jobs running on this node; safe in file names (`[A-Za-z0-9_]`).
    pub job_id: String,
    pmi: Option<PmiClient>,
}

impl Bootstrap {
    /// PMI if the environment offers it, else a singleton.
    pub fn from_env(timeout: Duration) -> Result<Bootstrap> {
        if !pmi::pmi_env_present() {
            return Ok(Bootstrap::singleton());
        }
        let pmi = PmiClient::connect_from_env(timeout)?;
        let job_id = sanitize(&pmi.kvsname);
        Ok(Bootstrap { rank: pmi.rank, size: pmi.size, job_id, pmi: Some(pmi) })
    }

    /// A job of one PE, with no launcher.
    pub fn singleton() -> Bootstrap {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Bootstrap { rank: 0, size: 1, job_id: format!("s{}_{nanos:x}", std::process::id()), pmi: None }
    }

    /// Publishes a value (hex or other PMI-safe text) under `key`.
    pub fn put(&mut self, key: &str, value: &str) -> Result<()> {
        match &mut self.pmi {
            Some(p) => p.put(key, value),
            None => Ok(()),
        }
    }

    /// Reads a value another PE published before the last barrier.
    pub fn get(&mut self, key: &str) -> Result<String> {
        match &mut self.pmi {
            Some(p) => p.get(key),
            None => Err(crate::Error::Bootstrap(format!("singleton has no key {key}"))),
        }
    }

    /// All PEs meet; a no-op for a singleton.
    pub fn barrier(&mut self) -> Result<()> {
        match &mut self.pmi {
            Some(p) => p.barrier(),
            None => Ok(()),
        }
    }

    /// Tells the launcher this PE finished cleanly.
    pub fn finalize(&mut self) -> Result<()> {
        match &mut self.pmi {
            Some(p) => p.finalize(),
            None => Ok(()),
        }
    }
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).take(48).collect()
}
