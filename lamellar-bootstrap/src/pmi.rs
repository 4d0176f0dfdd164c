//! A PMI-1 client speaking the wire protocol over `PMI_FD` (an inherited socket) or
//! `PMI_PORT` (host:port). Every read has a deadline; a malformed, missing or failing reply
//! is an [`Error`], never a panic or a hang.
//!
//! Keys are global in PMI-1; [`Bootstrap::put`] scopes them by rank (`KEY-RANK`) and
//! hex-encodes values, split into chunks that fit the server's `vallen_max`.

use crate::Bootstrap;
use crate::error::{Error, Result};
use crate::wire::{self, Message};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn boot_err(msg: impl Into<String>) -> Error {
    Error::Launcher(format!("PMI-1: {}", msg.into()))
}

/// The byte stream to the PMI server.
enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    fn set_timeout(&self, t: Duration) -> std::io::Result<()> {
        match self {
            Conn::Unix(s) => s.set_read_timeout(Some(t)),
            Conn::Tcp(s) => s.set_read_timeout(Some(t)),
        }
    }
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Unix(s) => s.write_all(buf),
            Conn::Tcp(s) => s.write_all(buf),
        }
    }
}

/// An initialized PMI-1 session.
pub struct PmiClient {
    conn: Conn,
    pending: Vec<u8>,
    pub rank: usize,
    pub size: usize,
    pub kvsname: String,
    pub vallen_max: usize,
    job_id: String,
    finalized: bool,
}

fn env_usize(name: &str) -> Result<Option<usize>> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| boot_err(format!("{name}={v:?} is not a number"))),
        Err(_) => Ok(None),
    }
}

impl PmiClient {
    /// Connects using the PMI_* environment, then runs init, get_maxes and get_my_kvsname.
    pub fn connect_from_env(timeout: Duration) -> Result<PmiClient> {
        let conn = if let Ok(fd) = std::env::var("PMI_FD") {
            let fd: i32 = fd
                .trim()
                .parse()
                .map_err(|_| boot_err(format!("PMI_FD={fd:?} is not a file descriptor")))?;
            // SAFETY: fcntl(F_GETFD) only inspects the descriptor; we take ownership below only
            // if it is open. PMI_FD is inherited from the launcher for exactly this use.
            if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
                return Err(boot_err(format!("PMI_FD={fd} is not an open descriptor")));
            }
            // SAFETY: the descriptor is open (checked above) and nothing else in this process
            // uses PMI_FD; we become its only owner.
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            Conn::Unix(UnixStream::from(owned))
        } else if let Ok(port) = std::env::var("PMI_PORT") {
            let s = TcpStream::connect(port.trim())
                .map_err(|e| boot_err(format!("connect to PMI_PORT={port}: {e}")))?;
            let _ = s.set_nodelay(true);
            Conn::Tcp(s)
        } else {
            return Err(boot_err("no PMI_FD or PMI_PORT in the environment"));
        };
        Self::over(conn, env_usize("PMI_RANK")?, env_usize("PMI_SIZE")?, timeout)
    }

    /// Runs the handshake over an already connected PMI_FD-style socket.
    pub fn over_socket(
        sock: UnixStream,
        rank: usize,
        size: usize,
        timeout: Duration,
    ) -> Result<PmiClient> {
        Self::over(Conn::Unix(sock), Some(rank), Some(size), timeout)
    }

    fn over(
        conn: Conn,
        rank: Option<usize>,
        size: Option<usize>,
        timeout: Duration,
    ) -> Result<PmiClient> {
        conn.set_timeout(timeout)
            .map_err(|e| boot_err(format!("cannot set PMI read timeout: {e}")))?;
        let mut c = PmiClient {
            conn,
            pending: Vec::new(),
            rank: 0,
            size: 0,
            kvsname: String::new(),
            vallen_max: wire::VALLEN_MAX,
            job_id: String::new(),
            finalized: false,
        };
        c.handshake(rank, size)?;
        c.job_id = crate::sanitize(&c.kvsname);
        Ok(c)
    }

    fn handshake(&mut self, mut rank: Option<usize>, mut size: Option<usize>) -> Result<()> {
        if matches!(self.conn, Conn::Tcp(_)) {
            // PMI_PORT mode: identify ourselves, the server answers with our size and rank.
            let id = env_usize("PMI_ID")?.or(rank).unwrap_or(0);
            self.send(&Message::new("initack").arg("pmiid", id))?;
            self.expect("initack")?;
            for _ in 0..3 {
                let m = self.expect("set")?;
                if let Some(v) = m.get("size") {
                    size = v.parse().ok();
                }
                if let Some(v) = m.get("rank") {
                    rank = v.parse().ok();
                }
            }
        }
        let r = self.call(
            Message::new("init").arg("pmi_version", 1).arg("pmi_subversion", 1),
            "response_to_init",
        )?;
        if r.get("pmi_version").is_some_and(|v| v != "1") {
            return Err(boot_err(format!(
                "server speaks PMI version {:?}, need 1",
                r.get("pmi_version")
            )));
        }
        let maxes = self.call(Message::new("get_maxes"), "maxes")?;
        if let Some(v) = maxes.get("vallen_max").and_then(|v| v.parse().ok()) {
            self.vallen_max = v;
        }
        let kvs = self.call(Message::new("get_my_kvsname"), "my_kvsname")?;
        self.kvsname = kvs
            .get("kvsname")
            .ok_or_else(|| boot_err("my_kvsname reply without kvsname"))?
            .to_string();
        self.rank = rank.ok_or_else(|| boot_err("PMI_RANK is not set"))?;
        self.size = size.ok_or_else(|| boot_err("PMI_SIZE is not set"))?;
        if self.size == 0 || self.rank >= self.size {
            return Err(boot_err(format!(
                "PMI_RANK={} is not below PMI_SIZE={}",
                self.rank, self.size
            )));
        }
        Ok(())
    }

    fn send(&mut self, m: &Message) -> Result<()> {
        self.conn
            .write_all(m.to_line().as_bytes())
            .map_err(|e| boot_err(format!("PMI write ({}): {e}", m.cmd)))
    }

    fn read_line(&mut self) -> Result<String> {
        loop {
            if let Some(pos) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=pos).collect();
                return String::from_utf8(line).map_err(|_| boot_err("PMI reply is not UTF-8"));
            }
            if self.pending.len() > wire::MAX_LINE {
                return Err(boot_err("PMI reply line too long"));
            }
            let mut buf = [0u8; 1024];
            match self.conn.read(&mut buf) {
                Ok(0) => return Err(boot_err("PMI server closed the connection")),
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(boot_err(
                        "no reply from the PMI server before the timeout (is a PE missing?)",
                    ));
                }
                Err(e) => return Err(boot_err(format!("PMI read: {e}"))),
            }
        }
    }

    fn expect(&mut self, cmd: &str) -> Result<Message> {
        let line = self.read_line()?;
        let m = Message::parse(&line).map_err(boot_err)?;
        if m.cmd != cmd {
            return Err(boot_err(format!(
                "expected PMI reply cmd={cmd}, got {:?}",
                line.trim_end()
            )));
        }
        if let Some(rc) = m.get("rc") {
            if rc != "0" {
                let msg = m.get("msg").unwrap_or("");
                return Err(boot_err(format!("PMI {cmd} failed: rc={rc} {msg}")));
            }
        }
        Ok(m)
    }

    fn call(&mut self, m: Message, reply: &str) -> Result<Message> {
        self.send(&m)?;
        self.expect(reply)
    }

    /// Stores `key=value` in the job's key-value space (visible to others after [`barrier`](Self::barrier)).
    pub fn put_str(&mut self, key: &str, value: &str) -> Result<()> {
        if !wire::is_legal_token(key, wire::KEYLEN_MAX)
            || !wire::is_legal_token(value, self.vallen_max)
        {
            return Err(Error::InvalidArgument(format!("PMI key/value not encodable: {key:?}")));
        }
        let kvs = self.kvsname.clone();
        self.call(
            Message::new("put").arg("kvsname", kvs).arg("key", key).arg("value", value),
            "put_result",
        )?;
        Ok(())
    }

    /// Reads a key another PE put before the last barrier.
    pub fn get_str(&mut self, key: &str) -> Result<String> {
        let kvs = self.kvsname.clone();
        let r = self.call(Message::new("get").arg("kvsname", kvs).arg("key", key), "get_result")?;
        r.get("value")
            .map(str::to_string)
            .ok_or_else(|| boot_err(format!("PMI get {key}: reply without value")))
    }

    /// Waits for every PE to enter the barrier (and makes earlier puts visible).
    pub fn barrier(&mut self) -> Result<()> {
        self.call(Message::new("barrier_in"), "barrier_out").map(|_| ())
    }
}

impl Bootstrap for PmiClient {
    fn protocol(&self) -> &'static str {
        "PMI-1"
    }
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn job_id(&self) -> &str {
        &self.job_id
    }

    fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        let key = format!("{key}-{}", self.rank);
        let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
        // Even, so a chunk never splits a byte; at least 2 even if the server is stingy.
        let chunk = (self.vallen_max.saturating_sub(1) & !1).max(2);
        let chunks: Vec<&[u8]> = hex.as_bytes().chunks(chunk).collect();
        self.put_str(&format!("{key}-n"), &chunks.len().to_string())?;
        for (i, c) in chunks.iter().enumerate() {
            self.put_str(&format!("{key}-{i}"), std::str::from_utf8(c).unwrap_or_default())?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        Ok(()) // PMI-1 puts reach the server at once
    }

    fn fence(&mut self) -> Result<()> {
        self.barrier()
    }

    fn get(&mut self, rank: usize, key: &str) -> Result<Vec<u8>> {
        let key = format!("{key}-{rank}");
        let bad = |why: &str| boot_err(format!("value of {key}: {why}"));
        let n: usize = self
            .get_str(&format!("{key}-n"))?
            .trim()
            .parse()
            .map_err(|_| bad("chunk count is not a number"))?;
        let mut hex = String::new();
        for i in 0..n {
            hex.push_str(&self.get_str(&format!("{key}-{i}"))?);
        }
        if hex.len() % 2 != 0 {
            return Err(bad("odd number of hex digits"));
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|d| u8::from_str_radix(d, 16).ok())
                    .ok_or_else(|| bad("not hex"))
            })
            .collect()
    }

    fn abort(&mut self, code: i32, why: &str) -> Result<()> {
        // PMI-1's abort message is one line of free text (spaces included) after msg=.
        let msg: String =
            why.chars().map(|c| if c == '\n' { ' ' } else { c }).take(wire::MAX_LINE / 2).collect();
        let line = format!("cmd=abort exitcode={code} msg={msg}\n");
        self.conn
            .write_all(line.as_bytes())
            .map_err(|e| boot_err(format!("PMI write (abort): {e}")))?;
        self.finalized = true; // the launcher takes the job down; no finalize after an abort
        Ok(())
    }

    /// Tells the server this PE is done. Hydra treats an exit without it as a failure.
    fn finalize(&mut self) -> Result<()> {
        if self.finalized {
            return Ok(());
        }
        self.finalized = true;
        self.call(Message::new("finalize"), "finalize_ack").map(|_| ())
    }
}

impl Drop for PmiClient {
    fn drop(&mut self) {
        let _ = Bootstrap::finalize(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    /// A scripted server: answers each request line with the next canned reply (None: stay
    /// silent, Some(""): close the connection).
    fn client_against(replies: Vec<Option<&'static str>>) -> Result<PmiClient> {
        let (server, client) = UnixStream::pair().unwrap();
        std::thread::spawn(move || {
            let mut w = server.try_clone().unwrap();
            let mut r = BufReader::new(server);
            for reply in replies {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                match reply {
                    Some("") => return,
                    Some(text) => w.write_all(text.as_bytes()).unwrap(),
                    None => std::thread::sleep(Duration::from_secs(5)),
                }
            }
            std::thread::sleep(Duration::from_secs(5));
        });
        PmiClient::over_socket(client, 1, 2, Duration::from_millis(300))
    }

    const INIT: &str = "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n";
    const MAXES: &str = "cmd=maxes kvsname_max=256 keylen_max=64 vallen_max=1024 rc=0\n";
    const KVS: &str = "cmd=my_kvsname kvsname=kvs_7 rc=0\n";

    #[test]
    fn handshake_reads_kvsname_and_maxes() {
        let c = client_against(vec![Some(INIT), Some(MAXES), Some(KVS)]).unwrap();
        assert_eq!((c.rank, c.size, c.kvsname.as_str(), c.vallen_max), (1, 2, "kvs_7", 1024));
    }

    #[test]
    fn put_get_barrier_round_trip() {
        let mut c = client_against(vec![
            Some(INIT),
            Some(MAXES),
            Some(KVS),
            Some("cmd=put_result rc=0 msg=success\n"),
            Some("cmd=barrier_out\n"),
            Some("cmd=get_result rc=0 msg=success value=abcd\n"),
            Some("cmd=get_result rc=-1 msg=key_not_found\n"),
        ])
        .unwrap();
        c.put_str("k", "abcd").unwrap();
        c.barrier().unwrap();
        assert_eq!(c.get_str("k").unwrap(), "abcd");
        assert!(matches!(c.get_str("missing").unwrap_err(), Error::Launcher(_)));
    }

    #[test]
    fn malformed_reply_is_bootstrap_error() {
        let e = client_against(vec![Some("this is not pmi\n")]).err().unwrap();
        assert!(matches!(e, Error::Launcher(_)), "{e}");
        let e = client_against(vec![Some("cmd=maxes rc=0\n")]).err().unwrap();
        assert!(e.to_string().contains("expected PMI reply cmd=response_to_init"), "{e}");
    }

    #[test]
    fn failing_rc_is_bootstrap_error() {
        let e = client_against(vec![Some("cmd=response_to_init rc=-1 msg=nope\n")]).err().unwrap();
        assert!(matches!(e, Error::Launcher(_)), "{e}");
        assert!(e.to_string().contains("rc=-1"), "{e}");
    }

    #[test]
    fn closed_connection_is_bootstrap_error() {
        let e = client_against(vec![Some("")]).err().unwrap();
        assert!(e.to_string().contains("closed"), "{e}");
    }

    #[test]
    fn silent_server_times_out_instead_of_hanging() {
        let t0 = std::time::Instant::now();
        let e = client_against(vec![None]).err().unwrap();
        assert!(matches!(e, Error::Launcher(_)), "{e}");
        assert!(e.to_string().contains("timeout"), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(3));
    }

    /// A real key-value store with a barrier that returns at once (one PE), and a tiny
    /// `vallen_max` so that values chunk.
    fn client_with_store(vallen_max: usize) -> PmiClient {
        let (server, client) = UnixStream::pair().unwrap();
        std::thread::spawn(move || {
            let mut kv = std::collections::HashMap::new();
            let mut w = server.try_clone().unwrap();
            for line in BufReader::new(server).lines() {
                let m = Message::parse(&line.unwrap()).unwrap();
                let reply = match m.cmd.as_str() {
                    "init" => INIT.to_string(),
                    "get_maxes" => format!(
                        "cmd=maxes kvsname_max=256 keylen_max=64 vallen_max={vallen_max} rc=0\n"
                    ),
                    "get_my_kvsname" => KVS.to_string(),
                    "put" => {
                        assert!(
                            m.get("value").unwrap().len() <= vallen_max,
                            "value longer than vallen_max"
                        );
                        kv.insert(
                            m.get("key").unwrap().to_string(),
                            m.get("value").unwrap().to_string(),
                        );
                        "cmd=put_result rc=0\n".to_string()
                    }
                    "get" => match kv.get(m.get("key").unwrap()) {
                        Some(v) => format!("cmd=get_result rc=0 value={v}\n"),
                        None => "cmd=get_result rc=-1 msg=key_not_found\n".to_string(),
                    },
                    "barrier_in" => "cmd=barrier_out rc=0\n".to_string(),
                    "finalize" => "cmd=finalize_ack rc=0\n".to_string(),
                    _ => return,
                };
                w.write_all(reply.as_bytes()).unwrap();
            }
        });
        PmiClient::over_socket(client, 0, 1, Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn bytes_round_trip_through_chunks_scoped_by_rank() {
        let mut c = client_with_store(15);
        let data: Vec<u8> = (0..=255u8).collect();
        c.put("blob", &data).unwrap();
        c.put("empty", &[]).unwrap();
        c.commit().unwrap();
        c.fence().unwrap();
        assert_eq!(c.get(0, "blob").unwrap(), data);
        assert_eq!(c.get(0, "empty").unwrap(), Vec::<u8>::new());
        assert_eq!(c.get_str("blob-0-n").unwrap(), "37", "512 hex digits in chunks of 14");
        assert!(matches!(c.get(1, "blob").unwrap_err(), Error::Launcher(_)), "PE 1 put nothing");
        assert!(matches!(c.get(0, "missing").unwrap_err(), Error::Launcher(_)));
    }

    #[test]
    fn illegal_keys_are_rejected_before_sending() {
        let mut c = client_against(vec![Some(INIT), Some(MAXES), Some(KVS)]).unwrap();
        assert!(matches!(c.put_str("a key", "v").unwrap_err(), Error::InvalidArgument(_)));
        assert!(matches!(c.put_str("k", "has=equals").unwrap_err(), Error::InvalidArgument(_)));
    }
}
