//! A PMIx client through OpenPMIx's `libpmix.so.2`, opened at run time (see the crate docs
//! for why). Only the calls a PE needs: init, job size, put/commit/fence/get of byte
//! objects, abort, finalize. Every fence and get carries `PMIX_TIMEOUT`.

use crate::Bootstrap;
use crate::error::{Error, Result};
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::time::Duration;

const SONAME: &str = "libpmix.so.2";
const PMIX_SUCCESS: c_int = 0;
const PMIX_MAX_NSLEN: usize = 255;
const PMIX_MAX_KEYLEN: usize = 511;
const PMIX_RANK_WILDCARD: u32 = u32::MAX - 1;
const PMIX_GLOBAL: u8 = 3;
// Data types (pmix_common.h).
const PMIX_BOOL: u16 = 1;
const PMIX_INT: u16 = 6;
const PMIX_UINT32: u16 = 14;
const PMIX_BYTE_OBJECT: u16 = 27;
// Attribute keys.
const PMIX_JOB_SIZE: &CStr = c"pmix.job.size";
const PMIX_COLLECT_DATA: &CStr = c"pmix.collect";
const PMIX_TIMEOUT: &CStr = c"pmix.timeout";

#[repr(C)]
#[derive(Clone, Copy)]
struct Proc {
    nspace: [c_char; PMIX_MAX_NSLEN + 1],
    rank: u32,
}

/// `pmix_value_t`: a type tag and a union whose members all start at offset 8. We read and
/// write only the members named by the tag (a bool, an int, a uint32, a byte object).
#[repr(C)]
#[derive(Clone, Copy)]
struct Value {
    ty: u16,
    data: [u64; 3],
}

#[repr(C)]
struct Info {
    key: [c_char; PMIX_MAX_KEYLEN + 1],
    flags: u32,
    value: Value,
}

// The sizes of OpenPMIx's structs (4.2, and every release since v2).
const _: () =
    assert!(size_of::<Proc>() == 260 && size_of::<Value>() == 32 && size_of::<Info>() == 552);

impl Value {
    fn bytes(ptr: *const u8, len: usize) -> Value {
        Value { ty: PMIX_BYTE_OBJECT, data: [ptr as u64, len as u64, 0] }
    }
    fn int(v: i32) -> Value {
        Value { ty: PMIX_INT, data: [v as u32 as u64, 0, 0] }
    }
    fn flag(v: bool) -> Value {
        Value { ty: PMIX_BOOL, data: [v as u64, 0, 0] }
    }
}

impl Info {
    fn new(key: &CStr, value: Value) -> Info {
        let mut k = [0 as c_char; PMIX_MAX_KEYLEN + 1];
        for (d, &s) in k.iter_mut().zip(key.to_bytes()) {
            *d = s as c_char;
        }
        Info { key: k, flags: 0, value }
    }
}

type InitFn = unsafe extern "C" fn(*mut Proc, *mut Info, usize) -> c_int;
type FinalizeFn = unsafe extern "C" fn(*const Info, usize) -> c_int;
type AbortFn = unsafe extern "C" fn(c_int, *const c_char, *const Proc, usize) -> c_int;
type PutFn = unsafe extern "C" fn(u8, *const c_char, *mut Value) -> c_int;
type CommitFn = unsafe extern "C" fn() -> c_int;
type FenceFn = unsafe extern "C" fn(*const Proc, usize, *const Info, usize) -> c_int;
type GetFn =
    unsafe extern "C" fn(*const Proc, *const c_char, *const Info, usize, *mut *mut Value) -> c_int;
type ErrorStringFn = unsafe extern "C" fn(c_int) -> *const c_char;
type DestructFn = unsafe extern "C" fn(*mut Value);

/// The functions we call, resolved from the loaded library (which stays loaded for the life
/// of the process: PMIx keeps threads running after finalize).
struct Api {
    init: InitFn,
    finalize: FinalizeFn,
    abort: AbortFn,
    put: PutFn,
    commit: CommitFn,
    fence: FenceFn,
    get: GetFn,
    error_string: ErrorStringFn,
    value_destruct: DestructFn,
}

/// Where to look for libpmix: `$PMIX_DIR` now, `$PMIX_DIR` at build time, then the loader.
fn candidates() -> Vec<String> {
    let mut dirs: Vec<String> = std::env::var("PMIX_DIR").ok().into_iter().collect();
    dirs.extend(option_env!("LAMELLAR_PMIX_DIR_AT_BUILD").map(str::to_string));
    let mut v: Vec<String> =
        dirs.iter().flat_map(|d| ["lib", "lib64"].map(|l| format!("{d}/{l}/{SONAME}"))).collect();
    v.push(SONAME.to_string());
    v
}

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string owned by libc, valid until the
    // next dl* call on this thread; we copy it at once.
    unsafe {
        let e = libc::dlerror();
        if e.is_null() {
            "unknown error".into()
        } else {
            CStr::from_ptr(e).to_string_lossy().into_owned()
        }
    }
}

impl Api {
    fn load() -> Result<Api> {
        let mut tried = Vec::new();
        let mut handle = std::ptr::null_mut();
        for path in candidates() {
            let c = CString::new(path.clone())
                .map_err(|_| Error::Launcher(format!("PMIx: bad library path {path:?}")))?;
            // SAFETY: dlopen with a NUL-terminated path. RTLD_GLOBAL: libpmix loads its own
            // plugins, which resolve libpmix's symbols through the global namespace.
            handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
            if !handle.is_null() {
                break;
            }
            tried.push(format!("{path}: {}", dlerror()));
        }
        if handle.is_null() {
            return Err(Error::Launcher(format!(
                "a PMIx launcher started this process (PMIX_NAMESPACE / PMIX_SERVER_URI*), but OpenPMIx's client library \
                 could not be loaded ({}); install it (Debian/Ubuntu: libpmix2, RHEL: pmix) or set PMIX_DIR to its prefix",
                tried.join("; ")
            )));
        }
        let sym = |name: &CStr| -> Result<*mut c_void> {
            // SAFETY: handle is a live dlopen handle; name is NUL-terminated.
            let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
            if p.is_null() {
                Err(Error::Launcher(format!("PMIx: {SONAME} has no {name:?}: {}", dlerror())))
            } else {
                Ok(p)
            }
        };
        // SAFETY: each symbol is the OpenPMIx function of that name, whose C signature the
        // type it is cast to spells out (pmix.h); a function pointer has the size of *mut c_void.
        unsafe {
            Ok(Api {
                init: std::mem::transmute::<*mut c_void, InitFn>(sym(c"PMIx_Init")?),
                finalize: std::mem::transmute::<*mut c_void, FinalizeFn>(sym(c"PMIx_Finalize")?),
                abort: std::mem::transmute::<*mut c_void, AbortFn>(sym(c"PMIx_Abort")?),
                put: std::mem::transmute::<*mut c_void, PutFn>(sym(c"PMIx_Put")?),
                commit: std::mem::transmute::<*mut c_void, CommitFn>(sym(c"PMIx_Commit")?),
                fence: std::mem::transmute::<*mut c_void, FenceFn>(sym(c"PMIx_Fence")?),
                get: std::mem::transmute::<*mut c_void, GetFn>(sym(c"PMIx_Get")?),
                error_string: std::mem::transmute::<*mut c_void, ErrorStringFn>(sym(
                    c"PMIx_Error_string",
                )?),
                value_destruct: std::mem::transmute::<*mut c_void, DestructFn>(sym(
                    c"PMIx_Value_destruct",
                )?),
            })
        }
    }
}

/// An initialized PMIx client.
pub struct Pmix {
    api: Api,
    me: Proc,
    size: usize,
    job_id: String,
    timeout_s: i32,
    finalized: bool,
}

// SAFETY: OpenPMIx's client API may be called from any thread (it serializes internally
// through its progress thread); `Pmix` holds only plain data and function pointers.
unsafe impl Send for Pmix {}

impl Pmix {
    /// Loads libpmix and joins the job served by the PMIx server in the environment.
    pub fn connect(timeout: Duration) -> Result<Pmix> {
        let api = Api::load()?;
        let mut me = Proc { nspace: [0; PMIX_MAX_NSLEN + 1], rank: 0 };
        // SAFETY: `me` is a writable pmix_proc_t; no info array.
        let rc = unsafe { (api.init)(&mut me, std::ptr::null_mut(), 0) };
        let timeout_s = timeout.as_secs_f64().ceil().clamp(1.0, i32::MAX as f64) as i32;
        let mut p = Pmix {
            api,
            me,
            size: 0,
            job_id: String::new(),
            timeout_s,
            finalized: rc != PMIX_SUCCESS,
        };
        p.check(rc, "PMIx_Init")?;
        let wildcard = Proc { rank: PMIX_RANK_WILDCARD, ..p.me };
        let v = p.get_value(&wildcard, PMIX_JOB_SIZE)?;
        // SAFETY: get_value returned a live value from PMIx_Get; we read its tag and, for a
        // uint32, the first 4 bytes of its data, then release it.
        let size = unsafe {
            let size = ((*v).ty == PMIX_UINT32).then(|| (*v).data[0] as u32);
            p.release(v);
            size
        };
        p.size = size
            .ok_or_else(|| Error::Launcher("PMIx: pmix.job.size is not a uint32".into()))?
            as usize;
        let nspace = p.nspace();
        p.job_id = crate::sanitize(&nspace);
        if p.size == 0 || p.me.rank as usize >= p.size {
            return Err(Error::Launcher(format!(
                "PMIx: rank {} is not below job size {} (namespace {nspace})",
                p.me.rank, p.size
            )));
        }
        Ok(p)
    }

    fn nspace(&self) -> String {
        let bytes: Vec<u8> =
            self.me.nspace.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn check(&self, rc: c_int, what: &str) -> Result<()> {
        if rc == PMIX_SUCCESS {
            return Ok(());
        }
        // SAFETY: PMIx_Error_string returns a static string for any status.
        let s =
            unsafe { CStr::from_ptr((self.api.error_string)(rc)) }.to_string_lossy().into_owned();
        Err(Error::Launcher(format!("PMIx: {what} failed: {s} ({rc})")))
    }

    fn get_value(&self, proc_: &Proc, key: &CStr) -> Result<*mut Value> {
        let info = [Info::new(PMIX_TIMEOUT, Value::int(self.timeout_s))];
        let mut out: *mut Value = std::ptr::null_mut();
        // SAFETY: valid proc and NUL-terminated key; one info; PMIx writes a value it
        // allocated into `out` on success.
        let rc =
            unsafe { (self.api.get)(proc_, key.as_ptr(), info.as_ptr(), info.len(), &mut out) };
        self.check(rc, &format!("PMIx_Get {key:?} of rank {}", proc_.rank))?;
        if out.is_null() {
            return Err(Error::Launcher(format!("PMIx: PMIx_Get {key:?} returned no value")));
        }
        Ok(out)
    }

    /// # Safety
    /// `v` came from PMIx_Get and is released once.
    unsafe fn release(&self, v: *mut Value) {
        // SAFETY: per the contract, `v` is PMIx's allocation (malloc'd; PMIX_VALUE_RELEASE
        // destructs, then frees).
        unsafe {
            (self.api.value_destruct)(v);
            libc::free(v.cast());
        }
    }

    fn key(key: &str) -> Result<CString> {
        if key.len() > PMIX_MAX_KEYLEN {
            return Err(Error::InvalidArgument(format!(
                "PMIx key {key:?} is longer than {PMIX_MAX_KEYLEN}"
            )));
        }
        CString::new(key)
            .map_err(|_| Error::InvalidArgument(format!("PMIx key {key:?} holds a NUL")))
    }
}

impl Bootstrap for Pmix {
    fn protocol(&self) -> &'static str {
        "PMIx"
    }
    fn rank(&self) -> usize {
        self.me.rank as usize
    }
    fn size(&self) -> usize {
        self.size
    }
    fn job_id(&self) -> &str {
        &self.job_id
    }

    fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        let k = Self::key(key)?;
        let mut v = Value::bytes(value.as_ptr(), value.len());
        // SAFETY: the byte object points at `value`, alive for the call; PMIx copies it.
        let rc = unsafe { (self.api.put)(PMIX_GLOBAL, k.as_ptr(), &mut v) };
        self.check(rc, &format!("PMIx_Put {key}"))
    }

    fn commit(&mut self) -> Result<()> {
        // SAFETY: no arguments.
        let rc = unsafe { (self.api.commit)() };
        self.check(rc, "PMIx_Commit")
    }

    fn fence(&mut self) -> Result<()> {
        let info = [
            Info::new(PMIX_COLLECT_DATA, Value::flag(true)),
            Info::new(PMIX_TIMEOUT, Value::int(self.timeout_s)),
        ];
        // SAFETY: NULL procs = every process of our namespace; two valid infos.
        let rc = unsafe { (self.api.fence)(std::ptr::null(), 0, info.as_ptr(), info.len()) };
        self.check(rc, "PMIx_Fence")
    }

    fn get(&mut self, rank: usize, key: &str) -> Result<Vec<u8>> {
        let k = Self::key(key)?;
        let p = Proc { rank: rank as u32, ..self.me };
        let v = self.get_value(&p, &k)?;
        // SAFETY: `v` is PMIx's live value; for a byte object, data[0] is the pointer and
        // data[1] the length of bytes PMIx owns until the release below.
        unsafe {
            let out = ((*v).ty == PMIX_BYTE_OBJECT).then(|| {
                let (ptr, len) = ((*v).data[0] as *const u8, (*v).data[1] as usize);
                if ptr.is_null() || len == 0 {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(ptr, len).to_vec()
                }
            });
            self.release(v);
            out.ok_or_else(|| {
                Error::Launcher(format!("PMIx: {key} of rank {rank} is not a byte object"))
            })
        }
    }

    fn abort(&mut self, code: i32, why: &str) -> Result<()> {
        let msg = CString::new(why.replace('\0', " ")).unwrap_or_default();
        // SAFETY: NUL-terminated message; NULL procs = our whole namespace.
        let rc = unsafe { (self.api.abort)(code, msg.as_ptr(), std::ptr::null(), 0) };
        self.check(rc, "PMIx_Abort")
    }

    fn finalize(&mut self) -> Result<()> {
        if std::mem::replace(&mut self.finalized, true) {
            return Ok(());
        }
        // SAFETY: initialized and not yet finalized; no info.
        let rc = unsafe { (self.api.finalize)(std::ptr::null(), 0) };
        self.check(rc, "PMIx_Finalize")
    }
}

impl Drop for Pmix {
    fn drop(&mut self) {
        let _ = Bootstrap::finalize(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_layout_matches_openpmix() {
        let i = Info::new(PMIX_TIMEOUT, Value::int(7));
        let base = &i as *const Info as usize;
        assert_eq!(&i.flags as *const u32 as usize - base, 512);
        assert_eq!(&i.value as *const Value as usize - base, 520);
        assert_eq!(
            &i.value.data as *const [u64; 3] as usize - &i.value as *const Value as usize,
            8
        );
    }

    #[test]
    fn site_prefixes_come_before_the_loader_search() {
        let c = candidates();
        assert_eq!(c.last().map(String::as_str), Some(SONAME));
    }

    #[test]
    fn overlong_and_nul_keys_are_invalid_arguments() {
        assert!(matches!(Pmix::key(&"k".repeat(600)), Err(Error::InvalidArgument(_))));
        assert!(matches!(Pmix::key("a\0b"), Err(Error::InvalidArgument(_))));
        assert!(Pmix::key("ucx-card").is_ok());
    }
}
