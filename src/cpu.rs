//! The threads that do a cycle's CPU work on each fetched source (parsing,
//! normalising, features; a writer thread stores): one per core and one more, started
//! once and kept for the process's life. Few and lasting, so that what a
//! thread keeps warm, its memo of word readings (`dedup::content::concepts`),
//! is built a few times per process: on tokio's blocking pool the work
//! spread over as many threads as fetches had finished at once, each with
//! a memo of its own (about 55 MB of a 170 MB heap in a cold poll of 1,000
//! feeds, rebuilt by every new thread).

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

static POOL: OnceLock<Sender<Job>> = OnceLock::new();

/// The cores this process may use, read once (on Linux the answer reads
/// cgroup files); None when the system does not say.
pub fn cores() -> Option<usize> {
    static CORES: OnceLock<Option<usize>> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().ok().map(usize::from))
}

/// How many threads the pool has (read once: every cycle sizes its
/// semaphore by it, and it must stay the pool's size).
pub fn threads() -> usize {
    cores().unwrap_or(2) + 1
}

fn pool() -> &'static Sender<Job> {
    POOL.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads() {
            let rx = rx.clone();
            let started = std::thread::Builder::new().name(format!("cpu-{i}")).spawn(move || work(&rx));
            if let Err(e) = started {
                tracing::warn!(error = %e, "cannot start a worker thread");
            }
        }
        tx
    })
}

fn work(jobs: &Mutex<Receiver<Job>>) {
    crate::node::enter_log_span();
    loop {
        let job = match jobs.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        job();
    }
}

/// Runs `f` on one of the pool's threads (in the calling task's tracing
/// span) and waits for its result. A panic in `f` comes back as an error
/// naming it; the thread goes on with the next job.
pub async fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let span = tracing::Span::current();
    let job: Job = Box::new(move || {
        let _entered = span.enter();
        let _ = tx.send(std::panic::catch_unwind(AssertUnwindSafe(f)));
    });
    pool().send(job).map_err(|_| "the worker threads are gone".to_string())?;
    match rx.await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(panic)) => Err(format!("worker panicked: {}", panic_message(panic.as_ref()))),
        Err(_) => Err("no worker thread ran the job".to_string()),
    }
}

/// What a caught panic said (empty when it carried no text).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_few_lasting_threads_and_a_panic_is_an_error() {
        let names: Vec<String> = futures_util::future::join_all(
            (0..20).map(|_| run(|| std::thread::current().name().unwrap_or_default().to_string())),
        )
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
        assert!(names.iter().all(|n| n.starts_with("cpu-")), "{names:?}");
        let distinct: std::collections::BTreeSet<_> = names.iter().collect();
        assert!(distinct.len() <= threads());
        let err = run(|| -> u8 { panic!("bad feed") }).await.unwrap_err();
        assert!(err.contains("bad feed"), "{err}");
        assert_eq!(run(|| 7).await, Ok(7), "the pool still works after a panic");
    }
}
