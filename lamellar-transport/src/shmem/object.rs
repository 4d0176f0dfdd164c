//! POSIX shared-memory objects: create/open a named object and map it; unlink the name.

use crate::error::{Error, Result};
use std::ffi::CString;
use std::ptr::NonNull;

const BACKEND: &str = "shmem";

/// The prefix of every name this crate creates in /dev/shm: `lt-<job id>-...`.
/// `lamellar-run` removes leftovers with this prefix for its own job id after a crash.
pub fn name_prefix(job_id: &str) -> String {
    crate::shmem_prefix(job_id)
}

/// A shared mapping of `len` bytes, unmapped on drop.
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a Mapping is an address range owned by this value; moving it between threads or
// sharing it is fine (all access to the bytes goes through raw pointers, and cross-process
// access is ordered by atomics/fences at the call sites).
unsafe impl Send for Mapping {}
// SAFETY: as for the impl above, for the same reason.
unsafe impl Sync for Mapping {}

impl Mapping {
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: ptr/len came from a successful mmap and are unmapped only here.
            unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        }
    }
}

/// A name in /dev/shm that this PE created; unlinked on drop unless already unlinked.
pub struct OwnedName(Option<CString>);

impl OwnedName {
    pub fn unlink(&mut self) {
        if let Some(n) = self.0.take() {
            // SAFETY: n is a valid NUL-terminated name.
            unsafe { libc::shm_unlink(n.as_ptr()) };
        }
    }
}

impl Drop for OwnedName {
    fn drop(&mut self) {
        self.unlink();
    }
}

fn c_name(name: &str) -> Result<CString> {
    CString::new(format!("/{name}"))
        .map_err(|_| Error::InvalidArgument(format!("shm name {name:?} has a NUL")))
}

/// Closes the descriptor on every path.
struct Fd(i32);
impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed once.
        unsafe { libc::close(self.0) };
    }
}

fn map(fd: &Fd, len: usize, what: &str) -> Result<Mapping> {
    if len == 0 {
        return Ok(Mapping { ptr: NonNull::dangling(), len: 0 });
    }
    // SAFETY: mapping a shared object we hold open; the kernel picks the address.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.0,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(Error::os(BACKEND, &format!("mmap {what} ({len} bytes)")));
    }
    Ok(Mapping { ptr: NonNull::new(p.cast()).expect("mmap never returns NULL on success"), len })
}

/// Creates a new object `name` of `len` bytes (zero-filled) and maps it.
pub fn create(name: &str, len: usize) -> Result<(Mapping, OwnedName)> {
    let c = c_name(name)?;
    // SAFETY: valid name; O_EXCL so we never adopt someone else's object.
    let fd =
        unsafe { libc::shm_open(c.as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_RDWR, 0o600) };
    if fd < 0 {
        return Err(Error::os(BACKEND, &format!("shm_open(create) {name}")));
    }
    let fd = Fd(fd);
    let owned = OwnedName(Some(c));
    // SAFETY: fd is open; ftruncate sizes the new object.
    if unsafe { libc::ftruncate(fd.0, len as libc::off_t) } != 0 {
        return Err(Error::os(BACKEND, &format!("ftruncate {name} to {len}")));
    }
    Ok((map(&fd, len, name)?, owned))
}

/// Opens and maps a peer's object, which must be exactly `len` bytes.
pub fn open(name: &str, len: usize) -> Result<Mapping> {
    let c = c_name(name)?;
    // SAFETY: valid name.
    let fd = unsafe { libc::shm_open(c.as_ptr(), libc::O_RDWR, 0) };
    if fd < 0 {
        return Err(Error::os(BACKEND, &format!("shm_open {name}")));
    }
    let fd = Fd(fd);
    // SAFETY: fstat writes into a zeroed stat we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open; fstat writes into `st`, ours.
    if unsafe { libc::fstat(fd.0, &mut st) } != 0 {
        return Err(Error::os(BACKEND, &format!("fstat {name}")));
    }
    if st.st_size as usize != len {
        return Err(Error::SizeMismatch {
            what: format!("{name} has {} bytes, expected {len}", st.st_size),
        });
    }
    map(&fd, len, name)
}
