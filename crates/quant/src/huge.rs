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

/// A zeroed byte buffer: `len` bytes from `at` in its memory. On Linux one of at least a huge
/// page is an anonymous mapping of its own, started on a huge-page boundary, whose whole huge
/// pages are advised to be backed by transparent huge pages (`madvise(MADV_HUGEPAGE)`, which
/// THP's default `madvise` mode honours); smaller buffers, other systems, and a mapping the
/// system refuses are a `Vec`.
#[derive(Debug)]
pub(crate) struct HugeBuf {
    mem: Memory,
    at: usize,
    len: usize,
}

/// Where a [`HugeBuf`]'s bytes live.
#[derive(Debug)]
enum Memory {
    /// An anonymous mapping, a huge page longer than the buffer so that it can start on a
    /// boundary (the slack is never touched and costs no memory).
    #[cfg(target_os = "linux")]
    Mapped(memmap2::MmapMut),
    /// Ordinary heap memory.
    Heap(Vec<u8>),
}

impl HugeBuf {
    /// `len` zero bytes (a mapping's pages are the kernel's zero pages until written).
    pub(crate) fn zeroed(len: usize) -> HugeBuf {
        #[cfg(target_os = "linux")]
        if len >= HUGE {
            if let Ok(map) = memmap2::MmapMut::map_anon(len + HUGE) {
                let start = map.as_ptr() as usize;
                let at = start.next_multiple_of(HUGE) - start;
                // Only whole huge pages inside the buffer: a partly used one would be memory
                // the weights never fill. Advice only: where THP is off it is refused, and the
                // buffer works the same.
                let _ = map.advise_range(memmap2::Advice::HugePage, at, len / HUGE * HUGE);
                return HugeBuf {
                    mem: Memory::Mapped(map),
                    at,
                    len,
                };
            }
        }
        HugeBuf {
            mem: Memory::Heap(vec![0; len]),
            at: 0,
            len,
        }
    }
}

impl Deref for HugeBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let bytes: &[u8] = match &self.mem {
            #[cfg(target_os = "linux")]
            Memory::Mapped(m) => m,
            Memory::Heap(v) => v,
        };
        &bytes[self.at..self.at + self.len]
    }
}

impl DerefMut for HugeBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        let bytes: &mut [u8] = match &mut self.mem {
            #[cfg(target_os = "linux")]
            Memory::Mapped(m) => m,
            Memory::Heap(v) => v,
        };
        &mut bytes[self.at..self.at + self.len]
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
        assert!(
            matches!(b.mem, Memory::Mapped(_)),
            "a 3 MiB buffer should be mapped"
        );
        assert_eq!(b.as_ptr() as usize % HUGE, 0);
        assert!(matches!(HugeBuf::zeroed(1 << 20).mem, Memory::Heap(_)));
    }
}
