//! Task-shaped entry points: independent tasks `0..n` claimed one at a time from a shared
//! counter by whichever participant is free, so uneven tasks and busy cores even out.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Pool;

/// A raw pointer that may cross threads: each task touches only its own disjoint range.
struct SendPtr<T>(*mut T);

// SAFETY: only used by `chunks_mut_init`, which hands every element to exactly one task.
unsafe impl<T: Send> Sync for SendPtr<T> {}

impl Pool {
    /// Runs `f(i)` for every `i` in `0..n` across the pool.
    pub fn for_each(&self, n: usize, f: impl Fn(usize) + Sync) {
        self.for_each_init(n, || (), |_, i| f(i));
    }

    /// Runs `f(state, i)` for every `i` in `0..n`; each participant makes its `state` with
    /// `init` once, before its first task (per-thread scratch buffers).
    pub fn for_each_init<S>(
        &self,
        n: usize,
        init: impl Fn() -> S + Sync,
        f: impl Fn(&mut S, usize) + Sync,
    ) {
        if n <= 1 || self.threads() == 1 {
            if n > 0 {
                let mut s = init();
                (0..n).for_each(|i| f(&mut s, i));
            }
            return;
        }
        let next = AtomicUsize::new(0);
        self.run(&|_| {
            let mut state = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                f(state.get_or_insert_with(&init), i);
            }
        });
    }

    /// Runs `f(c, part)` for the consecutive `chunk`-long parts of `data` (the last may be
    /// shorter), `c` counting parts from 0.
    pub fn chunks_mut<T: Send>(
        &self,
        data: &mut [T],
        chunk: usize,
        f: impl Fn(usize, &mut [T]) + Sync,
    ) {
        self.chunks_mut_init(data, chunk, || (), |_, c, part| f(c, part));
    }

    /// [`Pool::chunks_mut`] with per-participant state made by `init`.
    pub fn chunks_mut_init<T: Send, S>(
        &self,
        data: &mut [T],
        chunk: usize,
        init: impl Fn() -> S + Sync,
        f: impl Fn(&mut S, usize, &mut [T]) + Sync,
    ) {
        let chunk = chunk.max(1);
        let len = data.len();
        let base = SendPtr(data.as_mut_ptr());
        let base = &base;
        self.for_each_init(len.div_ceil(chunk), init, |s, c| {
            let start = c * chunk;
            let end = (start + chunk).min(len);
            // SAFETY: `for_each_init` runs each `c` exactly once, so the ranges are disjoint,
            // and all lie within `data`, which this function borrows mutably until every task
            // has returned.
            let part = unsafe { std::slice::from_raw_parts_mut(base.0.add(start), end - start) };
            f(s, c, part);
        });
    }

    /// `(0..n).map(f).collect()`, computed across the pool.
    pub fn map<T: Send>(&self, n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
        let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
        self.chunks_mut(&mut out, 1, |i, slot| slot[0] = Some(f(i)));
        out.into_iter()
            .map(|v| v.expect("chunks_mut runs every task"))
            .collect()
    }
}
