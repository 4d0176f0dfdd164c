//! PMI-1 wire format: one line per message, `cmd=NAME key=value key=value\n`.
//!
//! Shared by the client (a PE) and the server (`lamellar-run`) so both sides read and write
//! exactly the same format.

use std::collections::HashMap;

/// Longest line either side accepts; anything longer is a protocol error, not a buffer to grow.
pub const MAX_LINE: usize = 4096;
/// Longest key and value we advertise in `cmd=maxes` (values are hex-encoded by users).
pub const KEYLEN_MAX: usize = 64;
pub const VALLEN_MAX: usize = 1024;
pub const KVSNAME_MAX: usize = 256;

/// One parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub cmd: String,
    pub args: HashMap<String, String>,
}

impl Message {
    pub fn new(cmd: &str) -> Self {
        Message { cmd: cmd.to_string(), args: HashMap::new() }
    }

    pub fn arg(mut self, key: &str, value: impl ToString) -> Self {
        self.args.insert(key.to_string(), value.to_string());
        self
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.args.get(key).map(String::as_str)
    }

    /// Parses one line (without or with its trailing newline).
    pub fn parse(line: &str) -> Result<Message, String> {
        let line = line.trim_end_matches(['\n', '\r']);
        let mut cmd = None;
        let mut args = HashMap::new();
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            let (k, v) = word.split_once('=').ok_or_else(|| format!("malformed PMI word {word:?} in {line:?}"))?;
            if k == "cmd" || k == "mcmd" {
                cmd = Some(v.to_string());
            } else {
                args.insert(k.to_string(), v.to_string());
            }
        }
        let cmd = cmd.ok_or_else(|| format!("PMI line without cmd=: {line:?}"))?;
        Ok(Message { cmd, args })
    }

    /// The wire form, newline included. Keys are sorted so output is deterministic.
    pub fn to_line(&self) -> String {
        let mut keys: Vec<_> = self.args.keys().collect();
        keys.sort();
        let mut s = format!("cmd={}", self.cmd);
        for k in keys {
            s.push_str(&format!(" {k}={}", self.args[k]));
        }
        s.push('\n');
        s
    }
}

/// A key or value is legal on the wire if it has no space, `=` or newline and fits the limit.
pub fn is_legal_token(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && !s.bytes().any(|b| b == b' ' || b == b'=' || b == b'\n' || b == b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = Message::new("put").arg("kvsname", "kvs_1").arg("key", "k").arg("value", "00ff");
        let line = m.to_line();
        assert_eq!(line, "cmd=put key=k kvsname=kvs_1 value=00ff\n");
        assert_eq!(Message::parse(&line).unwrap(), m);
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(Message::parse("hello world").is_err());
        assert!(Message::parse("rc=0 value=1").is_err());
        assert!(Message::parse("").is_err());
    }

    #[test]
    fn legal_tokens() {
        assert!(is_legal_token("abc", 8));
        assert!(!is_legal_token("a b", 8));
        assert!(!is_legal_token("a=b", 8));
        assert!(!is_legal_token("", 8));
        assert!(!is_legal_token("123456789", 8));
    }
}
