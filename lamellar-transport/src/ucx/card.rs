//! What each PE publishes through PMI at init: its process, host, UCX worker address and
//! control region (address + packed key). Encoded as length-prefixed little-endian fields;
//! the bootstrap hex-encodes and chunks it.

use crate::error::{Error, Result};

const MAGIC: u32 = 0x6c_75_63_01; // "luc" + format version

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Card {
    pub pid: u32,
    pub host: String,
    pub worker_address: Vec<u8>,
    pub control_base: u64,
    pub control_key: Vec<u8>,
}

impl Card {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&MAGIC.to_le_bytes());
        v.extend_from_slice(&self.pid.to_le_bytes());
        v.extend_from_slice(&self.control_base.to_le_bytes());
        for field in [self.host.as_bytes(), &self.worker_address, &self.control_key] {
            v.extend_from_slice(&(field.len() as u32).to_le_bytes());
            v.extend_from_slice(field);
        }
        v
    }

    pub fn decode(pe: usize, bytes: &[u8]) -> Result<Card> {
        let bad = || {
            Error::Bootstrap(format!(
                "malformed ucx address card from PE {pe} ({} bytes)",
                bytes.len()
            ))
        };
        let mut rest = bytes;
        let mut take = |n: usize| -> Result<&[u8]> {
            if rest.len() < n {
                return Err(bad());
            }
            let (a, b) = rest.split_at(n);
            rest = b;
            Ok(a)
        };
        let u32_at = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
        if u32_at(take(4)?) != MAGIC {
            return Err(bad());
        }
        let pid = u32_at(take(4)?);
        let control_base = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let mut field = || -> Result<Vec<u8>> {
            let n = u32_at(take(4)?) as usize;
            Ok(take(n)?.to_vec())
        };
        let host = String::from_utf8(field()?).map_err(|_| bad())?;
        let worker_address = field()?;
        let control_key = field()?;
        Ok(Card { pid, host, worker_address, control_base, control_key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let c = Card {
            pid: 42,
            host: "h/x".into(),
            worker_address: vec![1, 2, 3],
            control_base: 0xdead_beef,
            control_key: vec![9; 70],
        };
        let b = c.encode();
        assert_eq!(Card::decode(0, &b).unwrap(), c);
        assert!(Card::decode(0, &b[..b.len() - 1]).is_err());
        assert!(Card::decode(0, &[0; 3]).is_err());
    }
}
