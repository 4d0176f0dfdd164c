//! `cargo bench -p lamellar-bench` (add `--features rofi,ucx` for the native backends):
//! criterion figures for every compiled backend, each in its own job of two PEs that this
//! program starts itself under lamellar-run (no launcher needed). PE 0 runs criterion; PE 1
//! is the target, and joins the barrier bench for as many rounds as PE 0 asks of it.
//!
//! Per backend: 8 B put / get / fetch_add / compare_swap through the byte API (`SymAlloc`)
//! and through the typed API (`SymArray<u64>`), so the typed layer's cost is a number;
//! 64 KiB and 1 MiB put bandwidth (a window of 64 `put_nb` then a quiet); barrier. Under the
//! 8 B ops, `bare/*`: on shmem the hardware alone (`lamellar_bench::bare`, the loops of
//! lamellar-bench's `limits` rows), on rofi the same calls straight into ROFI. The provider
//! or transport set comes from the environment (ROFI_PROVIDER, UCX_TLS).

use criterion::{BenchmarkId, Criterion, Throughput};
use lamellar_bench::bare;
use lamellar_transport::{Result, SymAlloc, SymArray, Transport, compiled_backends};
use std::time::{Duration, Instant};

const WINDOW: usize = 64;
const BIG: usize = 1 << 20;
/// PE 1's mailbox at the start of the control allocation: the number of barriers to join,
/// or `STOP` (words are u64; 0 = nothing asked yet).
const STOP: u64 = u64::MAX;

fn main() {
    if lamellar_transport::bootstrap::detect::launcher_in_sight() {
        if let Err(e) = pe_main() {
            eprintln!("transport bench: {e}");
            std::process::exit(1);
        }
        return;
    }
    // Not under a launcher: one job of two PEs per compiled backend, with our arguments
    // (criterion's: filters, --bench, --save-baseline ...) passed on.
    let exe = std::env::current_exe().expect("own executable");
    for backend in compiled_backends() {
        let mut spec = lamellar_run::JobSpec::new(2, &exe);
        spec.args = std::env::args_os().skip(1).collect();
        spec.env.push(("LAMELLAR_TRANSPORT".into(), backend.into()));
        match lamellar_run::run(&spec) {
            Ok(out) if out.code == 0 => {}
            Ok(out) => {
                eprintln!(
                    "transport bench on {backend}: {}",
                    out.failure.unwrap_or_else(|| format!("exit {}", out.code))
                );
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("transport bench on {backend}: cannot launch: {e}");
                std::process::exit(1);
            }
        }
    }
}

fn pe_main() -> Result<()> {
    let t = Transport::init()?;
    let ctl: SymArray<u64> = t.alloc_array(1)?;
    let bytes = t.alloc(BIG)?;
    let words: SymArray<u64> = t.alloc_array(1)?;
    t.barrier()?;
    if t.my_pe() == 0 {
        let mut c = Criterion::default()
            .configure_from_args()
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        bench(&mut c, &t, &ctl, &bytes, &words)?;
        c.final_summary();
        ctl.set(1, 0, STOP)?;
    } else {
        serve(&t, &ctl)?;
    }
    t.barrier()?;
    words.free()?;
    bytes.free()?;
    ctl.free()?;
    t.finalize()
}

/// PE 1: join as many barriers as PE 0 asks for (plus one before and one after, as PE 0
/// runs them), until it says stop.
fn serve(t: &Transport, ctl: &SymArray<u64>) -> Result<()> {
    loop {
        let n = ctl.wait_until(0, |v| v != 0)?;
        if n == STOP {
            return Ok(());
        }
        ctl.bytes().atomic_set::<u64>(t.my_pe(), 0, 0)?;
        t.barrier()?;
        for _ in 0..n {
            t.barrier()?;
        }
        // Ready for the next request once PE 0 sees the last barrier.
        t.barrier()?;
    }
}

/// The calls under ours on rofi, on the same words, straight into ROFI: what the Rust layer
/// adds is ours minus these.
#[cfg(feature = "rofi")]
fn bare_rofi(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    peer: usize,
    bytes: &SymAlloc,
) {
    use rofi_sys as sys;
    let dst = bytes.local_ptr().cast::<std::ffi::c_void>();
    let (pe, mut word, mut old) = (peer as i32, [0u8; 8], 0u64);
    let one = 1u64;
    let rc = |r: i32| assert_eq!(r, 0, "ROFI call failed");
    g.bench_function("bare/rofi_put+quiet", |b| {
        // SAFETY: `dst` is the local address of a live ROFI allocation of at least 8 bytes
        // (`bytes`); the local buffers live across each call, which is blocking.
        b.iter(|| unsafe {
            rc(sys::rofi_put(dst, word.as_ptr().cast(), 8, pe));
            rc(sys::rofi_quiet())
        })
    });
    g.bench_function("bare/rofi_get", |b| {
        // SAFETY: as for rofi_put above: `dst` and `word` are live for this blocking call.
        b.iter(|| unsafe { rc(sys::rofi_get(word.as_mut_ptr().cast(), dst, 8, pe)) })
    });
    g.bench_function("bare/rofi_fetch_add", |b| {
        // SAFETY: as above; `one` and `old` are live for this blocking call.
        b.iter(|| unsafe {
            rc(sys::rofi_atomic(
                sys::ROFI_ATOMIC_FETCH_ADD,
                sys::ROFI_UINT64,
                dst,
                (&one as *const u64).cast(),
                std::ptr::null(),
                (&mut old as *mut u64).cast(),
                pe,
            ))
        })
    });
}

/// Criterion's closures cannot return our errors: the first one stops the run with its text.
fn ok<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("transport error during the bench: {e}"))
}

fn bench(
    c: &mut Criterion,
    t: &Transport,
    ctl: &SymArray<u64>,
    bytes: &SymAlloc,
    words: &SymArray<u64>,
) -> Result<()> {
    let name = format!("{}/{}", t.backend_name(), t.provider());
    let peer = 1;
    let mut g = c.benchmark_group(format!("{name}/8B"));
    g.throughput(Throughput::Bytes(8));
    let one = [7u64];
    let mut out = [0u64];
    let mut raw = [0u8; 8];
    g.bench_function("put/bytes", |b| {
        b.iter(|| ok(bytes.put(peer, 0, &raw).and_then(|_| t.quiet())))
    });
    g.bench_function("put/typed", |b| {
        b.iter(|| ok(words.put(peer, 0, &one).and_then(|_| t.quiet())))
    });
    g.bench_function("get/bytes", |b| b.iter(|| ok(bytes.get(peer, 0, &mut raw))));
    g.bench_function("get/typed", |b| b.iter(|| ok(words.get(peer, 0, &mut out))));
    g.bench_function("fetch_add/bytes", |b| {
        b.iter(|| ok(bytes.atomic_fetch_add::<u64>(peer, 0, 1)))
    });
    g.bench_function("fetch_add/typed", |b| b.iter(|| ok(words.fetch_add(peer, 0, 1))));
    g.bench_function("compare_swap/bytes", |b| {
        b.iter(|| ok(bytes.atomic_compare_swap::<u64>(peer, 0, 0, 0)))
    });
    g.bench_function("compare_swap/typed", |b| b.iter(|| ok(words.compare_swap(peer, 0, 0, 0))));
    g.bench_function("put/typed_one", |b| {
        b.iter(|| ok(words.put_one(peer, 0, 7).and_then(|_| t.quiet())))
    });
    g.bench_function("get/typed_one", |b| b.iter(|| ok(words.get_one(peer, 0))));
    // The hardware under them, on the same word, where the backend maps it here (shmem): the
    // loops of lamellar-bench's `limits` rows, timed by criterion.
    if let Some(view) = words.local_view(peer)? {
        // SAFETY: the peer's u64, aligned and mapped while `view` lives (to the end of this
        // block); PE 1 only waits meanwhile, and the word is touched by these loops alone.
        let word = unsafe { bare::Word::new(view.as_ptr()) };
        for op in bare::WordOp::ALL {
            g.bench_function(format!("bare/{}", op.name()), |b| {
                b.iter_custom(|n| bare::time(op, &word, n))
            });
        }
    }
    #[cfg(feature = "rofi")]
    if t.backend_name() == "rofi" {
        bare_rofi(&mut g, peer, bytes);
    }
    g.finish();

    let mut g = c.benchmark_group(format!("{name}/put_bw"));
    for size in [64 << 10, BIG] {
        let src = vec![0x5au8; size];
        g.throughput(Throughput::Bytes((size * WINDOW) as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &src, |b, src| {
            b.iter(|| {
                ok(t.scope(|s| -> Result<()> {
                    let hs = (0..WINDOW)
                        .map(|_| s.put_nb(bytes, peer, 0, src))
                        .collect::<Result<Vec<_>>>()?;
                    hs.into_iter().try_for_each(|h| h.wait().map(drop))
                })
                .and_then(|r| r)
                .and_then(|_| t.quiet()))
            })
        });
    }
    g.finish();

    // Both PEs must run the same number of barriers: PE 0 tells PE 1 each count first.
    let mut g = c.benchmark_group(format!("{name}/barrier"));
    g.bench_function("2 PEs", |b| {
        b.iter_custom(|iters| {
            ok(ctl.set(peer, 0, iters));
            ok(t.barrier());
            let start = Instant::now();
            for _ in 0..iters {
                ok(t.barrier());
            }
            let took = start.elapsed();
            ok(t.barrier());
            took
        })
    });
    g.finish();
    Ok(())
}
