//! A real UCX context talking to itself: mem_map, rkey pack/unpack, put, get,
//! atomic add and a request pointer from a non-blocking op.

use lamellar_ucx_sys::*;
use std::ffi::c_void;
use std::mem::zeroed;
use std::ptr::{null, null_mut};

fn ok(status: ucs_status_t, what: &str) {
    assert_eq!(status, UCS_OK, "{what}: {}", status_string(status));
}

/// One context, worker and endpoint to itself, and `len` bytes mapped for RMA.
struct Loopback {
    ctx: ucp_context_h,
    worker: ucp_worker_h,
    ep: ucp_ep_h,
    memh: ucp_mem_h,
    rkey: ucp_rkey_h,
    region: Vec<u64>,
}

impl Loopback {
    fn new(words: usize) -> Self {
        // SAFETY: the UCX calls below are made in order on objects created here; each status is
        // checked before the next call uses its result.
        unsafe {
            let mut params: ucp_params_t = zeroed();
            params.field_mask = UCP_PARAM_FIELD_FEATURES as u64;
            params.features = (UCP_FEATURE_RMA | UCP_FEATURE_AMO32 | UCP_FEATURE_AMO64) as u64;
            let mut ctx = null_mut();
            ok(lamellar_ucp_init(&params, null(), &mut ctx), "ucp_init");

            let mut wparams: ucp_worker_params_t = zeroed();
            wparams.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE as u64;
            wparams.thread_mode = UCS_THREAD_MODE_SINGLE;
            let mut worker = null_mut();
            ok(ucp_worker_create(ctx, &wparams, &mut worker), "ucp_worker_create");

            let (mut addr, mut addr_len) = (null_mut(), 0);
            ok(ucp_worker_get_address(worker, &mut addr, &mut addr_len), "ucp_worker_get_address");
            let mut eparams: ucp_ep_params_t = zeroed();
            eparams.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS as u64;
            eparams.address = addr;
            let mut ep = null_mut();
            ok(ucp_ep_create(worker, &eparams, &mut ep), "ucp_ep_create");
            ucp_worker_release_address(worker, addr);

            let mut region = vec![0u64; words];
            let mut mparams: ucp_mem_map_params_t = zeroed();
            mparams.field_mask =
                (UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH) as u64;
            mparams.address = region.as_mut_ptr().cast();
            mparams.length = words * 8;
            let mut memh = null_mut();
            ok(ucp_mem_map(ctx, &mparams, &mut memh), "ucp_mem_map");

            // What a peer would receive over the wire, unpacked on our endpoint.
            let (mut packed, mut packed_len) = (null_mut(), 0);
            ok(ucp_rkey_pack(ctx, memh, &mut packed, &mut packed_len), "ucp_rkey_pack");
            assert!(packed_len > 0);
            let mut rkey = null_mut();
            ok(ucp_ep_rkey_unpack(ep, packed, &mut rkey), "ucp_ep_rkey_unpack");
            ucp_rkey_buffer_release(packed);

            Loopback { ctx, worker, ep, memh, rkey, region }
        }
    }

    fn remote(&self, word: usize) -> u64 {
        self.region.as_ptr() as u64 + 8 * word as u64
    }

    /// Progresses until the op behind `ptr` completes; returns its final status.
    fn wait(&self, ptr: ucs_status_ptr_t) -> ucs_status_t {
        match StatusPtr::from_raw(ptr) {
            StatusPtr::Ok => UCS_OK,
            StatusPtr::Err(status) => status,
            // SAFETY: a request UCX returned, polled with our live worker and freed once.
            StatusPtr::Request(req) => unsafe {
                let status = loop {
                    ucp_worker_progress(self.worker);
                    let s = ucp_request_check_status(req.as_ptr());
                    if s != UCS_INPROGRESS {
                        break s;
                    }
                };
                ucp_request_free(req.as_ptr());
                status
            },
        }
    }

    fn flush(&self) {
        // SAFETY: ucp_request_param_t is plain data; all-zero means no optional field set.
        let param: ucp_request_param_t = unsafe { zeroed() };
        // SAFETY: live worker; `param` lives across the wait.
        ok(self.wait(unsafe { ucp_worker_flush_nbx(self.worker, &param) }), "flush");
    }

    /// The target memory, read the way a remote writer's data must be read.
    fn read(&self, word: usize) -> u64 {
        // SAFETY: `word` is inside the mapped region (callers stay below its length).
        unsafe { self.region.as_ptr().add(word).read_volatile() }
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        // SAFETY: each object made in `new` is released once, in reverse order, with no request
        // outstanding.
        unsafe {
            ucp_rkey_destroy(self.rkey);
            let mut param: ucp_request_param_t = zeroed();
            param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
            param.flags = UCP_EP_CLOSE_FLAG_FORCE;
            let _ = self.wait(ucp_ep_close_nbx(self.ep, &param));
            ok(ucp_mem_unmap(self.ctx, self.memh), "ucp_mem_unmap");
            ucp_worker_destroy(self.worker);
            ucp_cleanup(self.ctx);
        }
    }
}

#[test]
fn put_then_get_to_self() {
    let lb = Loopback::new(64);
    let src: Vec<u64> = (0..16).map(|i| 0x1111_0000 + i).collect();
    // SAFETY: plain data; all-zero means no optional field set.
    let param: ucp_request_param_t = unsafe { zeroed() };
    let put =
        // SAFETY: `src` (16 words) lives until the request completes below; the remote range is
        // inside the region the rkey covers.
        unsafe { ucp_put_nbx(lb.ep, src.as_ptr().cast(), 16 * 8, lb.remote(8), lb.rkey, &param) };
    ok(lb.wait(put), "ucp_put_nbx");
    lb.flush();
    for (i, &v) in src.iter().enumerate() {
        assert_eq!(lb.read(8 + i), v, "word {}", 8 + i);
    }
    assert_eq!(lb.read(7), 0);
    assert_eq!(lb.read(24), 0);

    let mut dst = vec![0u64; 16];
    // SAFETY: `dst` (16 words) lives and is untouched until the request completes below; the
    // remote range is inside the region.
    let get = unsafe {
        ucp_get_nbx(lb.ep, dst.as_mut_ptr().cast(), 16 * 8, lb.remote(8), lb.rkey, &param)
    };
    ok(lb.wait(get), "ucp_get_nbx");
    assert_eq!(dst, src);
}

#[test]
fn atomic_add_and_fetch_add_to_self() {
    let lb = Loopback::new(4);
    // SAFETY: plain data; all-zero means no optional field set.
    let mut param: ucp_request_param_t = unsafe { zeroed() };
    param.op_attr_mask = UCP_OP_ATTR_FIELD_DATATYPE;
    param.datatype = contig::<u64>();
    let five = 5u64;
    for _ in 0..3 {
        // SAFETY: `five` lives until the request completes below; the target word is inside the
        // region.
        let p = unsafe {
            ucp_atomic_op_nbx(
                lb.ep,
                UCP_ATOMIC_OP_ADD,
                (&raw const five).cast(),
                1,
                lb.remote(1),
                lb.rkey,
                &param,
            )
        };
        ok(lb.wait(p), "ucp_atomic_op_nbx ADD");
    }
    lb.flush();
    assert_eq!(lb.read(1), 15);

    // Fetching form: the old value comes back in reply_buffer.
    let mut old = 0u64;
    param.op_attr_mask |= UCP_OP_ATTR_FIELD_REPLY_BUFFER;
    param.reply_buffer = (&raw mut old).cast::<c_void>();
    // SAFETY: `five` and the reply buffer `old` live until the request completes below; the
    // word is inside the region.
    let p = unsafe {
        ucp_atomic_op_nbx(
            lb.ep,
            UCP_ATOMIC_OP_ADD,
            (&raw const five).cast(),
            1,
            lb.remote(1),
            lb.rkey,
            &param,
        )
    };
    ok(lb.wait(p), "ucp_atomic_op_nbx fetch ADD");
    assert_eq!(old, 15);
    lb.flush();
    assert_eq!(lb.read(1), 20);
}

#[test]
fn no_imm_cmpl_returns_a_real_request() {
    const WORDS: usize = 1 << 17; // 1 MiB
    let lb = Loopback::new(WORDS);
    let src = vec![0xABCD_EF01_2345_6789u64; WORDS];
    // SAFETY: plain data; all-zero means no optional field set.
    let mut param: ucp_request_param_t = unsafe { zeroed() };
    param.op_attr_mask = UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
    // SAFETY: `src` lives until the request completes below; the range is inside the region.
    let ptr = unsafe {
        ucp_put_nbx(lb.ep, src.as_ptr().cast(), WORDS * 8, lb.remote(0), lb.rkey, &param)
    };
    let StatusPtr::Request(req) = StatusPtr::from_raw(ptr) else {
        panic!("NO_IMM_CMPL must return a request, got {:?}", StatusPtr::from_raw(ptr));
    };
    // SAFETY: a request UCX returned, polled with our live worker and freed once.
    unsafe {
        assert_eq!(lamellar_ucs_ptr_is_ptr(req.as_ptr()), 1);
        assert_eq!(lamellar_ucs_ptr_status(req.as_ptr()), UCS_INPROGRESS);
    }
    ok(lb.wait(ptr), "large put");
    lb.flush();
    assert_eq!(lb.read(0), src[0]);
    assert_eq!(lb.read(WORDS - 1), src[WORDS - 1]);
}
