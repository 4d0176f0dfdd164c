//! A job of one PE, started without a launcher: the key-value store is this process's own.

use crate::Bootstrap;
use crate::error::{Result, launcher};
use std::collections::HashMap;

pub struct Singleton {
    job_id: String,
    kvs: HashMap<String, Vec<u8>>,
}

impl Singleton {
    pub fn new() -> Singleton {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Singleton { job_id: format!("s{}_{nanos:x}", std::process::id()), kvs: HashMap::new() }
    }
}

impl Default for Singleton {
    fn default() -> Self {
        Singleton::new()
    }
}

impl Bootstrap for Singleton {
    fn protocol(&self) -> &'static str {
        "singleton"
    }
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn job_id(&self) -> &str {
        &self.job_id
    }
    fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.kvs.insert(key.to_string(), value.to_vec());
        Ok(())
    }
    fn commit(&mut self) -> Result<()> {
        Ok(())
    }
    fn fence(&mut self) -> Result<()> {
        Ok(())
    }
    fn get(&mut self, rank: usize, key: &str) -> Result<Vec<u8>> {
        match (rank, self.kvs.get(key)) {
            (0, Some(v)) => Ok(v.clone()),
            _ => Err(launcher(format!("singleton: PE {rank} has no key {key}"))),
        }
    }
    fn abort(&mut self, code: i32, why: &str) -> Result<()> {
        eprintln!("aborting the job (code {code}): {why}");
        std::process::exit(code)
    }
    fn finalize(&mut self) -> Result<()> {
        Ok(())
    }
}
