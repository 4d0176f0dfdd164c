//! PMI-1 wire format: one line per message, `cmd=NAME key=value key=value\n`.
//!
//! Shared by the client (a PE) and the server (`lamellar-run`) so both sides read and write
//! exactly the same format. Words go out in the order they were added: Slurm's pmi2 plugin
//! compares the init line literally (`cmd=init pmi_version=1 pmi_subversion=1`).

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
    /// In wire order.
    pub args: Vec<(String, String)>,
}

impl Message {
    pub fn new(cmd: &str) -> Self {
        Message { cmd: cmd.to_string(), args: Vec::new() }
    }

    pub fn arg(mut self, key: &str, value: impl ToString) -> Self {
        self.args.push((key.to_string(), value.to_string()));
        self
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.args.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Parses one line (without or with its trailing newline).
    pub fn parse(line: &str) -> Result<Message, String> {
        let line = line.trim_end_matches(['\n', '\r']);
        let mut cmd = None;
        let mut args = Vec::new();
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            let (k, v) = word
                .split_once('=')
                .ok_or_else(|| format!("malformed PMI word {word:?} in {line:?}"))?;
            if k == "cmd" || k == "mcmd" {
                cmd = Some(v.to_string());
            } else {
                args.push((k.to_string(), v.to_string()));
            }
        }
        let cmd = cmd.ok_or_else(|| format!("PMI line without cmd=: {line:?}"))?;
        Ok(Message { cmd, args })
    }

    /// The wire form, newline included.
    pub fn to_line(&self) -> String {
        let mut s = format!("cmd={}", self.cmd);
        for (k, v) in &self.args {
            s.push_str(&format!(" {k}={v}"));
        }
        s.push('\n');
        s
    }
}

/// A key or value is legal on the wire if it has no space, `=` or newline and fits the limit.
pub fn is_legal_token(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && !s.bytes().any(|b| b == b' ' || b == b'=' || b == b'\n' || b == b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = Message::new("put").arg("kvsname", "kvs_1").arg("key", "k").arg("value", "00ff");
        let line = m.to_line();
        assert_eq!(line, "cmd=put kvsname=kvs_1 key=k value=00ff\n");
        assert_eq!(Message::parse(&line).unwrap(), m);
    }

    #[test]
    fn init_line_is_the_one_slurm_accepts() {
        let m = Message::new("init").arg("pmi_version", 1).arg("pmi_subversion", 1);
        assert_eq!(m.to_line(), "cmd=init pmi_version=1 pmi_subversion=1\n");
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
