//! The PMI-1 server side: one thread per PE reads its requests from the PE's socket and
//! answers them; the key-value space and the barrier are shared.

use lamellar_bootstrap::wire::{self, Message};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

struct State {
    kvs: HashMap<String, String>,
    /// Writers to every PE, by rank, for broadcasting barrier_out.
    writers: Vec<UnixStream>,
    in_barrier: usize,
}

/// Serves one job's PMI requests until every PE closes its connection.
pub struct PmiServer {
    threads: Vec<JoinHandle<()>>,
}

impl PmiServer {
    /// `conns[r]` is the server end of rank r's socket.
    pub fn start(kvsname: String, conns: Vec<UnixStream>) -> std::io::Result<PmiServer> {
        let size = conns.len();
        let writers = conns.iter().map(|c| c.try_clone()).collect::<std::io::Result<Vec<_>>>()?;
        let state = Arc::new(Mutex::new(State { kvs: HashMap::new(), writers, in_barrier: 0 }));
        let threads = conns
            .into_iter()
            .enumerate()
            .map(|(rank, conn)| {
                let (state, kvsname) = (state.clone(), kvsname.clone());
                std::thread::spawn(move || serve(rank, size, &kvsname, conn, &state))
            })
            .collect();
        Ok(PmiServer { threads })
    }

    /// Waits for every connection to close (the PEs have exited).
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn reply(state: &Mutex<State>, rank: usize, m: &Message) {
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    // A PE that died cannot be answered; the launcher notices its exit separately.
    let _ = st.writers[rank].write_all(m.to_line().as_bytes());
}

fn serve(rank: usize, size: usize, kvsname: &str, conn: UnixStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line.len() > wire::MAX_LINE => return,
            Ok(_) => {}
        }
        let Ok(req) = Message::parse(&line) else {
            eprintln!("lamellar-run: PE {rank} sent a malformed PMI line: {:?}", line.trim_end());
            return;
        };
        let ok = |cmd: &str| Message::new(cmd).arg("rc", 0);
        let answer = match req.cmd.as_str() {
            "init" => Some(ok("response_to_init").arg("pmi_version", 1).arg("pmi_subversion", 1)),
            "get_maxes" => Some(
                ok("maxes")
                    .arg("kvsname_max", wire::KVSNAME_MAX)
                    .arg("keylen_max", wire::KEYLEN_MAX)
                    .arg("vallen_max", wire::VALLEN_MAX),
            ),
            "get_my_kvsname" => Some(ok("my_kvsname").arg("kvsname", kvsname)),
            "get_universe_size" => Some(ok("universe_size").arg("size", size)),
            "get_appnum" => Some(ok("appnum").arg("appnum", 0)),
            "put" => match (req.get("key"), req.get("value")) {
                (Some(k), Some(v)) => {
                    state
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .kvs
                        .insert(k.to_string(), v.to_string());
                    Some(ok("put_result").arg("msg", "success"))
                }
                _ => Some(
                    Message::new("put_result").arg("rc", -1).arg("msg", "missing_key_or_value"),
                ),
            },
            "get" => {
                let v = req.get("key").and_then(|k| {
                    state.lock().unwrap_or_else(|p| p.into_inner()).kvs.get(k).cloned()
                });
                Some(match v {
                    Some(v) => ok("get_result").arg("msg", "success").arg("value", v),
                    None => Message::new("get_result").arg("rc", -1).arg("msg", "key_not_found"),
                })
            }
            "barrier_in" => {
                let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
                st.in_barrier += 1;
                if st.in_barrier == size {
                    st.in_barrier = 0;
                    let out = Message::new("barrier_out").to_line();
                    for w in st.writers.iter_mut() {
                        let _ = w.write_all(out.as_bytes());
                    }
                }
                None
            }
            "finalize" => Some(ok("finalize_ack")),
            other => Some(
                Message::new(&format!("{other}_result"))
                    .arg("rc", -1)
                    .arg("msg", "unsupported_command"),
            ),
        };
        if let Some(a) = answer {
            reply(state, rank, &a);
        }
    }
}
