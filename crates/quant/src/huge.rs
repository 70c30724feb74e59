//! Large zeroed buffers in transparent huge pages where Linux offers them: the packed weights,
//! which decode streams once per token. With 4 KiB pages every 64 lines of the stream cost a
//! page walk whose table entries the stream itself has pushed out of the caches; 2 MiB pages
//! need one walk per 32768 lines (1B-shaped tg64 on one thread, Zen 5, six alternating runs:
//! Q4_K_M 37 → 42 t/s, Q6_K 23 → 26 t/s; on two threads, where the stream nears the memory's
//! bandwidth, +2 % median, within the noise).

use std::ops::{Deref, DerefMut};

/// Bytes of a huge page (x86-64 and aarch64 Linux with 4 KiB base pages).
#[cfg(target_os = "linux")]
const HUGE: usize = 2 << 20;

/// A zeroed byte buffer. On Linux one of at least a huge page is a mapping of its own whose
/// whole huge pages are advised to be backed by transparent huge pages
/// (`madvise(MADV_HUGEPAGE)`, which the default `madvise` mode of THP honours); the rest, and
/// smaller buffers, use ordinary pages.
pub(crate) enum HugeBuf {
    /// A private anonymous mapping: `len` bytes from `at`, inside `map_len` bytes from `map`.
    #[cfg(target_os = "linux")]
    Mapped {
        map: *mut libc::c_void,
        map_len: usize,
        at: *mut u8,
        len: usize,
    },
    /// Ordinary heap memory.
    Heap(Vec<u8>),
}

// SAFETY: a `Mapped` buffer owns its mapping exclusively, as a `Vec<u8>` owns its memory;
// shared access is read-only through `Deref`.
unsafe impl Send for HugeBuf {}
// SAFETY: as above.
unsafe impl Sync for HugeBuf {}

impl std::fmt::Debug for HugeBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mapped = !matches!(self, HugeBuf::Heap(_));
        write!(f, "HugeBuf({} bytes, own mapping: {mapped})", self.len())
    }
}

impl HugeBuf {
    /// `len` zero bytes (a mapping's pages are the kernel's zero pages until written).
    pub(crate) fn zeroed(len: usize) -> HugeBuf {
        #[cfg(target_os = "linux")]
        if len >= HUGE {
            // A huge page more than asked for, so that the buffer can start on a boundary;
            // the slack is never touched and costs no memory.
            let map_len = len + HUGE;
            // SAFETY: a new private anonymous mapping; the result is checked before use.
            let map = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    map_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if map != libc::MAP_FAILED {
                let skip = (map as usize).next_multiple_of(HUGE) - map as usize;
                let at = map.cast::<u8>().wrapping_add(skip);
                // Only whole huge pages inside the buffer: a partly used one would be memory
                // the weights never fill. Advice only: where THP is off it is refused, and the
                // buffer works the same.
                // SAFETY: the range lies inside the mapping.
                unsafe { libc::madvise(at.cast(), len / HUGE * HUGE, libc::MADV_HUGEPAGE) };
                return HugeBuf::Mapped {
                    map,
                    map_len,
                    at,
                    len,
                };
            }
        }
        HugeBuf::Heap(vec![0; len])
    }
}

impl Drop for HugeBuf {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let HugeBuf::Mapped { map, map_len, .. } = *self {
            // SAFETY: the mapping made in `zeroed`, unmapped once, with no borrow left.
            unsafe { libc::munmap(map, map_len) };
        }
    }
}

impl Deref for HugeBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            #[cfg(target_os = "linux")]
            // SAFETY: `len` bytes from `at` lie in the live mapping, zero or written since.
            HugeBuf::Mapped { at, len, .. } => unsafe { std::slice::from_raw_parts(*at, *len) },
            HugeBuf::Heap(v) => v,
        }
    }
}

impl DerefMut for HugeBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            #[cfg(target_os = "linux")]
            // SAFETY: as in `deref`, borrowed mutably through `self`.
            HugeBuf::Mapped { at, len, .. } => unsafe { std::slice::from_raw_parts_mut(*at, *len) },
            HugeBuf::Heap(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_of_any_size_are_zeroed_and_writable() {
        for len in [0, 1, 4095, (2 << 20) - 1, 2 << 20, (5 << 20) + 3] {
            let mut b = HugeBuf::zeroed(len);
            assert_eq!(b.len(), len);
            assert!(b.iter().all(|&x| x == 0), "{len} bytes not zeroed");
            for (i, x) in b.iter_mut().enumerate() {
                *x = i as u8;
            }
            assert!(b.iter().enumerate().all(|(i, &x)| x == i as u8));
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_large_buffer_is_a_mapping_that_starts_on_a_huge_page() {
        let b = HugeBuf::zeroed(3 << 20);
        match b {
            HugeBuf::Mapped { at, .. } => assert_eq!(at as usize % HUGE, 0),
            HugeBuf::Heap(_) => panic!("a 3 MiB buffer should be mapped"),
        }
        assert!(matches!(HugeBuf::zeroed(1 << 20), HugeBuf::Heap(_)));
    }
}
