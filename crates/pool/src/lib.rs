//! A fixed set of worker threads for the CPU backend's kernels.
//!
//! A decode step of a 30-layer model runs a few hundred small parallel ops (each matmul is tens
//! of microseconds). Handing each one to rayon from a thread outside its pool costs a sleeping
//! worker's wake-up and a blocking wait per op, which measured as more than half of a decode
//! step. Here the calling thread takes part in every job as participant 0, and the workers spin
//! for a short while between jobs before they park, so a job starts in well under a microsecond
//! while ops come back to back (as llama.cpp's thread pool does).
//!
//! Work is split by tasks claimed from a shared counter ([`Pool::for_each`] and the helpers in
//! `tasks.rs`), so a participant that gets descheduled on a busy machine only delays the tasks
//! it already holds.

mod tasks;
#[cfg(test)]
mod tests;

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker keeps polling for the next job before it parks: long enough to
/// bridge the gaps between the ops of a forward pass, short enough to free the core soon when
/// the caller is busy elsewhere.
const POLL: Duration = Duration::from_micros(200);
/// Of that, the first stretch spins without giving up the core.
const SPIN: Duration = Duration::from_micros(20);

/// A job: called by every participant that joins in time with its index (0 = the caller).
type Job<'a> = dyn Fn(usize) + Sync + 'a;

/// The current job as a raw pointer: valid while the job is open and while any worker that
/// joined it is still inside (which [`Pool::run`] waits for before returning).
#[derive(Clone, Copy)]
struct JobPtr(*const Job<'static>);

// SAFETY: the pointee is `Sync` (shared between participants by design) and outlives every use,
// as `Pool::run` does not return while a worker may still use it.
unsafe impl Send for JobPtr {}

/// State shared by the caller and the workers.
struct Shared {
    /// `2 · epoch + open`: the epoch is bumped once per job (and at shutdown); `open` is set
    /// while workers may still join the epoch's job.
    state: AtomicU64,
    /// The job of the current epoch.
    job: Mutex<Option<JobPtr>>,
    /// Workers inside the current job.
    active: AtomicUsize,
    /// Set at drop: workers exit at the next epoch.
    stop: AtomicBool,
    /// Workers parked (or about to park) on `wake`.
    sleepers: AtomicUsize,
    /// Guards parking against a missed wake-up.
    park: Mutex<()>,
    /// Parked workers wait here for the next epoch.
    wake: Condvar,
    /// The first panic of a worker in the current job, re-raised by the caller.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

thread_local! {
    /// Whether this thread is running a job of some pool: nested jobs then run inline.
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
}

/// A thread pool of `threads` participants: the calling thread plus `threads - 1` workers.
pub struct Pool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// One job at a time, whichever thread submits it.
    submit: Mutex<()>,
}

impl Pool {
    /// A pool of `threads` participants (0 = one per available core). Fails only when the
    /// operating system refuses to start a thread.
    pub fn new(threads: usize) -> std::io::Result<Pool> {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let shared = Arc::new(Shared {
            state: AtomicU64::new(0),
            job: Mutex::new(None),
            active: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            park: Mutex::new(()),
            wake: Condvar::new(),
            panic: Mutex::new(None),
        });
        let mut pool = Pool {
            shared,
            workers: Vec::with_capacity(threads - 1),
            submit: Mutex::new(()),
        };
        for index in 1..threads {
            let shared = Arc::clone(&pool.shared);
            let handle = std::thread::Builder::new()
                .name(format!("pine-worker-{index}"))
                .spawn(move || worker(&shared, index))?;
            pool.workers.push(handle);
        }
        Ok(pool)
    }

    /// Participants in every job (the caller included).
    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Calls `job(p)` on the caller (`p` = 0) and on every worker that joins before the
    /// caller's own call returns, and returns when all of those calls have returned. Jobs claim
    /// their tasks from a shared counter, so the caller's call returns only when every task has
    /// been claimed, and a worker that is slow to wake (a busy machine) is simply not waited
    /// for. A panic in any call is re-raised here after all of them have finished. Inside a
    /// job (nested use) or with one thread, only the caller runs.
    fn run(&self, job: &Job<'_>) {
        if self.workers.is_empty() || IN_JOB.get() {
            return job(0);
        }
        let _one = self.submit.lock().unwrap_or_else(PoisonError::into_inner);
        let s = &*self.shared;
        // SAFETY (lifetime): workers dereference the pointer only between joining an open job
        // and leaving it, and this function closes the job and waits until no worker is inside
        // before it returns (panics included).
        let ptr: *const Job<'static> =
            unsafe { std::mem::transmute::<&Job<'_>, &'static Job<'static>>(job) };
        *s.job.lock().unwrap_or_else(PoisonError::into_inner) = Some(JobPtr(ptr));
        let open = (s.state.load(Ordering::SeqCst) & !1) + 3;
        s.state.store(open, Ordering::SeqCst);
        if s.sleepers.load(Ordering::SeqCst) > 0 {
            let _g = s.park.lock().unwrap_or_else(PoisonError::into_inner);
            s.wake.notify_all();
        }
        IN_JOB.set(true);
        let own = catch_unwind(AssertUnwindSafe(|| job(0)));
        IN_JOB.set(false);
        s.state.store(open - 1, Ordering::SeqCst);
        let mut polls = 0u32;
        while s.active.load(Ordering::SeqCst) != 0 {
            polls = polls.saturating_add(1);
            if polls < 256 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        *s.job.lock().unwrap_or_else(PoisonError::into_inner) = None;
        if let Err(p) = own {
            resume_unwind(p);
        }
        let worker_panic = s
            .panic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(p) = worker_panic {
            resume_unwind(p);
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let s = &*self.shared;
        s.stop.store(true, Ordering::SeqCst);
        s.state.fetch_add(2, Ordering::SeqCst);
        {
            let _g = s.park.lock().unwrap_or_else(PoisonError::into_inner);
            s.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            // A worker never panics outside a job (jobs run under catch_unwind).
            let _ = w.join();
        }
    }
}

/// A worker's life: wait for each new epoch, join its job if it is still open, run it as
/// participant `index`, leave.
fn worker(s: &Shared, index: usize) {
    IN_JOB.set(true);
    let mut seen = 0u64;
    loop {
        seen = wait_for_epoch(s, seen);
        if s.stop.load(Ordering::SeqCst) {
            return;
        }
        if seen & 1 == 0 {
            continue;
        }
        s.active.fetch_add(1, Ordering::SeqCst);
        if s.state.load(Ordering::SeqCst) == seen {
            let job = *s.job.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(JobPtr(ptr)) = job {
                // SAFETY: the job is open and this worker is counted in `active`, so
                // `Pool::run` keeps the closure alive until it leaves.
                let job = unsafe { &*ptr };
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| job(index))) {
                    s.panic
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_or_insert(p);
                }
            }
        }
        s.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Polls until the epoch moves past `seen` (spinning for [`SPIN`], then yielding the core
/// until [`POLL`]), then parks; returns the new state.
fn wait_for_epoch(s: &Shared, seen: u64) -> u64 {
    let epoch = seen >> 1;
    let start = Instant::now();
    let mut polls = 0u32;
    loop {
        let now = s.state.load(Ordering::SeqCst);
        if now >> 1 != epoch {
            return now;
        }
        polls = polls.wrapping_add(1);
        if !polls.is_multiple_of(64) {
            std::hint::spin_loop();
            continue;
        }
        let idle = start.elapsed();
        if idle < SPIN {
            continue;
        }
        if idle < POLL {
            std::thread::yield_now();
            continue;
        }
        let mut g = s.park.lock().unwrap_or_else(PoisonError::into_inner);
        s.sleepers.fetch_add(1, Ordering::SeqCst);
        while s.state.load(Ordering::SeqCst) >> 1 == epoch {
            g = s.wake.wait(g).unwrap_or_else(PoisonError::into_inner);
        }
        s.sleepers.fetch_sub(1, Ordering::SeqCst);
        return s.state.load(Ordering::SeqCst);
    }
}
