//! A PMI-1 client speaking the wire protocol over `PMI_FD` (an inherited socket) or
//! `PMI_PORT` (host:port). Every read has a deadline; a malformed, missing or failing reply
//! is a [`Error::Bootstrap`], never a panic or a hang.

use super::wire::{self, Message};
use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn boot_err(msg: impl Into<String>) -> Error {
    Error::Bootstrap(msg.into())
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
    finalized: bool,
}

/// True when the environment says a PMI server is there for us.
pub fn pmi_env_present() -> bool {
    std::env::var_os("PMI_FD").is_some() || std::env::var_os("PMI_PORT").is_some()
}

fn env_usize(name: &str) -> Result<Option<usize>> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().map(Some).map_err(|_| boot_err(format!("{name}={v:?} is not a number"))),
        Err(_) => Ok(None),
    }
}

impl PmiClient {
    /// Connects using the PMI_* environment, then runs init, get_maxes and get_my_kvsname.
    pub fn connect_from_env(timeout: Duration) -> Result<PmiClient> {
        let conn = if let Ok(fd) = std::env::var("PMI_FD") {
            let fd: i32 = fd.trim().parse().map_err(|_| boot_err(format!("PMI_FD={fd:?} is not a file descriptor")))?;
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
            let s = TcpStream::connect(port.trim()).map_err(|e| boot_err(format!("connect to PMI_PORT={port}: {e}")))?;
            let _ = s.set_nodelay(true);
            Conn::Tcp(s)
        } else {
            return Err(boot_err("no PMI_FD or PMI_PORT in the environment"));
        };
        conn.set_timeout(timeout).map_err(|e| boot_err(format!("cannot set PMI read timeout: {e}")))?;
        let mut c = PmiClient {
            conn,
            pending: Vec::new(),
            rank: 0,
            size: 0,
            kvsname: String::new(),
            vallen_max: wire::VALLEN_MAX,
            finalized: false,
        };
        c.handshake()?;
        Ok(c)
    }

    fn handshake(&mut self) -> Result<()> {
        let mut rank = env_usize("PMI_RANK")?;
        let mut size = env_usize("PMI_SIZE")?;
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
        let r = self.call(Message::new("init").arg("pmi_version", 1).arg("pmi_subversion", 1), "response_to_init")?;
        if r.get("pmi_version").is_some_and(|v| v != "1") {
            return Err(boot_err(format!("server speaks PMI version {:?}, need 1", r.get("pmi_version"))));
        }
        let maxes = self.call(Message::new("get_maxes"), "maxes")?;
        if let Some(v) = maxes.get("vallen_max").and_then(|v| v.parse().ok()) {
            self.vallen_max = v;
        }
        let kvs = self.call(Message::new("get_my_kvsname"), "my_kvsname")?;
        self.kvsname = kvs.get("kvsname").ok_or_else(|| boot_err("my_kvsname reply without kvsname"))?.to_string();
        self.rank = rank.ok_or_else(|| boot_err("PMI_RANK is not set"))?;
        self.size = size.ok_or_else(|| boot_err("PMI_SIZE is not set"))?;
        if self.size == 0 || self.rank >= self.size {
            return Err(boot_err(format!("PMI_RANK={} is not below PMI_SIZE={}", self.rank, self.size)));
        }
        Ok(())
    }

    fn send(&mut self, m: &Message) -> Result<()> {
        self.conn.write_all(m.to_line().as_bytes()).map_err(|e| boot_err(format!("PMI write ({}): {e}", m.cmd)))
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
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return Err(boot_err("no reply from the PMI server before the timeout (is a PE missing?)"));
                }
                Err(e) => return Err(boot_err(format!("PMI read: {e}"))),
            }
        }
    }

    fn expect(&mut self, cmd: &str) -> Result<Message> {
        let line = self.read_line()?;
        let m = Message::parse(&line).map_err(boot_err)?;
        if m.cmd != cmd {
            return Err(boot_err(format!("expected PMI reply cmd={cmd}, got {:?}", line.trim_end())));
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

    /// Stores `key=value` in the job's key-value space (visible to others after [`barrier`]).
    pub fn put(&mut self, key: &str, value: &str) -> Result<()> {
        if !wire::is_legal_token(key, wire::KEYLEN_MAX) || !wire::is_legal_token(value, self.vallen_max) {
            return Err(Error::InvalidArgument(format!("PMI key/value not encodable: {key:?}")));
        }
        let kvs = self.kvsname.clone();
        self.call(Message::new("put").arg("kvsname", kvs).arg("key", key).arg("value", value), "put_result")?;
        Ok(())
    }

    /// Reads a key another PE put before the last barrier.
    pub fn get(&mut self, key: &str) -> Result<String> {
        let kvs = self.kvsname.clone();
        let r = self.call(Message::new("get").arg("kvsname", kvs).arg("key", key), "get_result")?;
        r.get("value").map(str::to_string).ok_or_else(|| boot_err(format!("PMI get {key}: reply without value")))
    }

    /// Waits for every PE to enter the barrier (and makes earlier puts visible).
    pub fn barrier(&mut self) -> Result<()> {
        self.call(Message::new("barrier_in"), "barrier_out").map(|_| ())
    }

    /// Tells the server this PE is done. Hydra treats an exit without it as a failure.
    pub fn finalize(&mut self) -> Result<()> {
        if self.finalized {
            return Ok(());
        }
        self.finalized = true;
        self.call(Message::new("finalize"), "finalize_ack").map(|_| ())
    }
}

impl Drop for PmiClient {
    fn drop(&mut self) {
        let _ = self.finalize();
    }
}
