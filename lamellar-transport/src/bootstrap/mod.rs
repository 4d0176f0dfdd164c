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

    /// Publishes arbitrary bytes under `key`: hex-encoded and split into chunks that fit
    /// the server's `vallen_max`, under `key-n` (the chunk count) and `key-0`, `key-1`, ...
    pub fn put_bytes(&mut self, key: &str, bytes: &[u8]) -> Result<()> {
        let Some(p) = &mut self.pmi else { return Ok(()) };
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        // Even, so a chunk never splits a byte; at least 2 even if the server is stingy.
        let chunk = (p.vallen_max.saturating_sub(1) & !1).max(2);
        let chunks: Vec<&str> = if hex.is_empty() { Vec::new() } else { hex.as_bytes().chunks(chunk).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect() };
        p.put(&format!("{key}-n"), &chunks.len().to_string())?;
        for (i, c) in chunks.iter().enumerate() {
            p.put(&format!("{key}-{i}"), c)?;
        }
        Ok(())
    }

    /// Reads bytes another PE published with [`Bootstrap::put_bytes`] before the last barrier.
    pub fn get_bytes(&mut self, key: &str) -> Result<Vec<u8>> {
        let bad = |why: &str| crate::Error::Bootstrap(format!("PMI value for {key}: {why}"));
        let n: usize = self.get(&format!("{key}-n"))?.trim().parse().map_err(|_| bad("chunk count is not a number"))?;
        let mut hex = String::new();
        for i in 0..n {
            hex.push_str(&self.get(&format!("{key}-{i}"))?);
        }
        if hex.len() % 2 != 0 {
            return Err(bad("odd number of hex digits"));
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| hex.get(i..i + 2).and_then(|d| u8::from_str_radix(d, 16).ok()).ok_or_else(|| bad("not hex")))
            .collect()
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

/// An in-process PMI server for unit tests: a real key-value store holding `seed` (what
/// other PEs put), a barrier that returns at once, and the given `vallen_max`.
#[cfg(test)]
pub(crate) mod test_kvs {
    use super::*;
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;

    /// PE `rank` of `size`, talking to a fresh server.
    pub(crate) fn bootstrap(rank: usize, size: usize, vallen_max: usize, seed: HashMap<String, String>) -> Bootstrap {
        let (server, client) = UnixStream::pair().unwrap();
        std::thread::spawn(move || serve(server, vallen_max, seed));
        let pmi = PmiClient::over_socket(client, rank, size, Duration::from_secs(5)).unwrap();
        Bootstrap { rank, size, job_id: "t".into(), pmi: Some(pmi) }
    }

    fn serve(sock: UnixStream, vallen_max: usize, mut kv: HashMap<String, String>) {
        let mut w = sock.try_clone().unwrap();
        for line in BufReader::new(sock).lines() {
            let m = wire::Message::parse(&line.unwrap()).unwrap();
            let reply = match m.cmd.as_str() {
                "init" => "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0".to_string(),
                "get_maxes" => format!("cmd=maxes kvsname_max=256 keylen_max=64 vallen_max={vallen_max} rc=0"),
                "get_my_kvsname" => "cmd=my_kvsname kvsname=kvs_1 rc=0".to_string(),
                "put" => {
                    assert!(m.get("value").unwrap().len() <= vallen_max, "value longer than vallen_max");
                    kv.insert(m.get("key").unwrap().to_string(), m.get("value").unwrap().to_string());
                    "cmd=put_result rc=0".to_string()
                }
                "get" => match kv.get(m.get("key").unwrap()) {
                    Some(v) => format!("cmd=get_result rc=0 value={v}"),
                    None => "cmd=get_result rc=-1 msg=key_not_found".to_string(),
                },
                "barrier_in" => "cmd=barrier_out rc=0".to_string(),
                _ => return,
            };
            w.write_all(format!("{reply}\n").as_bytes()).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_round_trip_through_chunks() {
        // A tiny vallen_max, so values chunk.
        let mut b = super::test_kvs::bootstrap(0, 1, 15, Default::default());
        let data: Vec<u8> = (0..=255u8).collect();
        b.put_bytes("blob", &data).unwrap();
        b.put_bytes("empty", &[]).unwrap();
        assert_eq!(b.get_bytes("blob").unwrap(), data);
        assert_eq!(b.get_bytes("empty").unwrap(), Vec::<u8>::new());
        assert_eq!(b.get_bytes("missing").unwrap_err().kind(), crate::ErrorKind::Bootstrap);
    }
}
