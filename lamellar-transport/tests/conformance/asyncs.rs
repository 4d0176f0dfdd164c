//! The futures under a multi-threaded tokio runtime: owned-buffer operations awaited from
//! many tasks at once, and a wait on a slow peer that must not spin the executor.

use crate::cases::Case;
use lamellar_transport::{AsyncOp, ErrorKind, Transport};
use std::sync::Arc;

pub fn all() -> Vec<Case> {
    vec![("async_thousand_ops_from_eight_tasks", thousand_ops_from_eight_tasks)]
}

const TASKS: usize = 8;
const OPS: usize = 125;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).build().unwrap()
}

/// 8 tasks x 125 awaited puts and gets of 8 B to the right neighbour, each task on its own
/// words: every put lands, every get reads back what was put.
fn thousand_ops_from_eight_tasks(t: &Transport) {
    fn is_send<T: Send + 'static>(_: &T) {}
    let (me, n) = (t.my_pe(), t.num_pes());
    let right = (me + 1) % n;
    let a = Arc::new(t.alloc(TASKS * OPS * 8).unwrap());
    let rt = runtime();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let a = a.clone();
            rt.spawn(async move {
                for i in 0..OPS {
                    let off = (task * OPS + i) * 8;
                    let v = ((me << 32) | off) as u64;
                    let put = a.put_async(right, off, v.to_le_bytes().to_vec()).unwrap();
                    is_send(&put);
                    assert_eq!(put.await.unwrap(), v.to_le_bytes());
                    a.transport().quiet().unwrap();
                    let back: AsyncOp = a.get_async(right, off, 8).unwrap();
                    assert_eq!(back.await.unwrap(), v.to_le_bytes(), "task {task} op {i}");
                }
            })
        })
        .collect();
    rt.block_on(async {
        for h in tasks {
            h.await.unwrap();
        }
    });
    t.barrier().unwrap();
    let left = (me + n - 1) % n;
    for off in (0..TASKS * OPS * 8).step_by(8) {
        assert_eq!(a.local_load::<u64>(off).unwrap(), ((left << 32) | off) as u64);
    }
    // Checked before anything moves, as for every operation.
    let e = a.get_async(n, 0, 8).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadPe, "{e}");
    let e = a.put_async(right, TASKS * OPS * 8 - 4, vec![0; 8]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfBounds, "{e}");
    t.barrier().unwrap();
}

/// CPU time of this process (user + system), in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given; a zeroed rusage is a valid value.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF and a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    s(u.ru_utime) + s(u.ru_stime)
}

/// Mode `async_slow_peer` (P = 2): PE 1 sets PE 0's flag after 3 s; PE 0 first measures
/// the process idle for 1 s (the backend's own threads), then awaits the flag on a
/// multi-threaded runtime. The wait may cost the process at most a few percent of one core
/// beyond idle (a future that woke itself at once cost a whole core).
pub fn slow_peer(t: &Transport) {
    let flag = Arc::new(t.alloc_array::<u64>(1).unwrap());
    t.barrier().unwrap();
    if t.my_pe() == 1 {
        std::thread::sleep(std::time::Duration::from_secs(3));
        flag.set(0, 0, 7).unwrap();
    } else {
        let share_over = |cpu0: f64, wall0: std::time::Instant| {
            let wall = wall0.elapsed().as_secs_f64();
            ((cpu_seconds() - cpu0) / wall, wall)
        };
        let (c0, w0) = (cpu_seconds(), std::time::Instant::now());
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let (idle, _) = share_over(c0, w0);
        let rt = runtime();
        let (cpu0, wall0) = (cpu_seconds(), std::time::Instant::now());
        let f = flag.clone();
        let task =
            rt.spawn(async move { f.bytes().wait_until_async::<u64, _>(0, |v| v == 7)?.await });
        let seen = rt.block_on(task).unwrap();
        let (share, wall) = share_over(cpu0, wall0);
        assert_eq!(seen.unwrap(), 7);
        println!(
            "async_slow_peer: waited {wall:.2} s using {:.1} % of a core (idle: {:.1} %)",
            share * 100.0,
            idle * 100.0
        );
        assert!(wall > 1.5, "the wait ended early ({wall:.2} s)");
        assert!(
            share - idle < 0.05 && share < 0.10,
            "waiting used {:.1} % of a core, {:.1} % idle",
            share * 100.0,
            idle * 100.0
        );
    }
    t.barrier().unwrap();
}
