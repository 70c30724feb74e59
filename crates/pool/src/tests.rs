use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::Pool;

#[test]
fn every_task_runs_once_for_many_small_jobs() {
    for threads in [1, 2, 3, 5] {
        let pool = Pool::new(threads).unwrap();
        assert_eq!(pool.threads(), threads);
        for n in [0, 1, 2, 7, 64, 1000] {
            let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            pool.for_each(n, |i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(
                hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                "{threads}/{n}"
            );
        }
    }
}

#[test]
fn chunks_cover_the_slice_disjointly() {
    let pool = Pool::new(3).unwrap();
    for (len, chunk) in [(0, 4), (1, 4), (10, 3), (1000, 7), (64, 64), (5, 0)] {
        let mut data = vec![0usize; len];
        pool.chunks_mut(&mut data, chunk, |c, part| {
            for (k, x) in part.iter_mut().enumerate() {
                *x += c * chunk.max(1) + k + 1;
            }
        });
        let want: Vec<usize> = (1..=len).collect();
        assert_eq!(data, want, "len {len} chunk {chunk}");
    }
}

#[test]
fn map_keeps_the_order() {
    let pool = Pool::new(2).unwrap();
    let v = pool.map(100, |i| i * i);
    assert_eq!(v, (0..100).map(|i| i * i).collect::<Vec<_>>());
}

#[test]
fn state_is_made_at_most_once_per_participant() {
    let pool = Pool::new(4).unwrap();
    let made = AtomicUsize::new(0);
    let seen = Mutex::new(Vec::new());
    pool.for_each_init(
        200,
        || {
            made.fetch_add(1, Ordering::Relaxed);
            Vec::<usize>::new()
        },
        |mine, i| {
            mine.push(i);
            seen.lock().unwrap().push(i);
        },
    );
    assert!((1..=4).contains(&made.load(Ordering::Relaxed)));
    let mut all = seen.into_inner().unwrap();
    all.sort();
    assert_eq!(all, (0..200).collect::<Vec<_>>());
}

#[test]
fn nested_jobs_run_inline() {
    let pool = Pool::new(2).unwrap();
    let total = AtomicUsize::new(0);
    pool.for_each(8, |_| {
        pool.for_each(8, |_| {
            total.fetch_add(1, Ordering::Relaxed);
        });
    });
    assert_eq!(total.load(Ordering::Relaxed), 64);
}

#[test]
fn a_panicking_task_is_reraised_and_the_pool_stays_usable() {
    let pool = Pool::new(2).unwrap();
    for _ in 0..3 {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.for_each(16, |i| assert!(i != 11, "task 11 fails"));
        }));
        assert!(r.is_err());
        let count = AtomicUsize::new(0);
        pool.for_each(16, |_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 16);
    }
}

#[test]
fn parked_workers_wake_for_the_next_job() {
    let pool = Pool::new(2).unwrap();
    std::thread::sleep(super::POLL * 3);
    let count = AtomicUsize::new(0);
    pool.for_each(1000, |_| {
        count.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(count.load(Ordering::Relaxed), 1000);
}

#[test]
fn jobs_from_several_threads_are_serialised() {
    let pool = Pool::new(2).unwrap();
    let total = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    pool.for_each(10, |_| {
                        total.fetch_add(1, Ordering::Relaxed);
                    });
                }
            });
        }
    });
    assert_eq!(total.load(Ordering::Relaxed), 4 * 50 * 10);
}
