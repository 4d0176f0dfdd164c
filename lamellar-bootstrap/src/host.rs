//! What "the same node" means: two PEs share a node when they share a host identity,
//! made of the host name, the kernel's boot id and the POSIX shared-memory namespace
//! (the device and inode of `/dev/shm`). The boot id alone would take containers and
//! network namespaces on one kernel for one node; the host name alone, two kernels that
//! happen to share a name. With all three equal, a PE can open its neighbour's shared
//! memory.

/// This machine's host name, or "" if the kernel will not say.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `<hostname>/<boot id>/<dev>:<inode of /dev/shm>`.
pub fn host_identity() -> String {
    use std::os::unix::fs::MetadataExt;
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let shm = std::fs::metadata("/dev/shm")
        .map(|m| format!("{}:{}", m.dev(), m.ino()))
        .unwrap_or_default();
    format!("{}/{}/{shm}", hostname(), boot.trim())
}

/// This process's CPU affinity mask (bit `c` of word `c / 64`), or one CPU if the kernel
/// will not say.
pub fn cpus() -> Vec<u64> {
    // SAFETY: cpu_set_t is plain bits (all-zero is the empty set); sched_getaffinity writes
    // at most size_of::<cpu_set_t>() bytes into it; CPU_ISSET reads within it for
    // cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return vec![1];
        }
        let n = libc::CPU_SETSIZE as usize;
        let mut words = vec![0u64; n / 64];
        for cpu in (0..n).filter(|&c| libc::CPU_ISSET(c, &set)) {
            words[cpu / 64] |= 1 << (cpu % 64);
        }
        words
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn identity_names_host_boot_and_shm() {
        let id = super::host_identity();
        let parts: Vec<&str> = id.split('/').collect();
        assert_eq!(parts.len(), 3, "{id}");
        assert_eq!(parts[0], super::hostname());
        assert_eq!(parts[1].len(), 36, "boot id is a uuid: {id}");
        assert!(parts[2].contains(':'), "{id}");
        assert!(super::cpus().iter().any(|&w| w != 0));
    }
}
