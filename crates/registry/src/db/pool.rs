//! A fixed pool of PostgreSQL connections, each owned by a thread of its
//! own, taking calls from one shared queue.
//!
//! The synchronous `postgres` client drives a private Tokio runtime whose
//! `block_on` (used by every call, by connecting and by dropping the
//! client) panics on a thread that is inside another runtime, as `lord
//! registry token create` and the server's worker threads are. So calls are
//! sent to the pool's threads as closures and answered over a channel.
//! Whichever thread is free takes the next call: with `size` threads, up to
//! `size` calls run at once, each in its own session, so one slow search
//! no longer holds up every other request as a single connection did.
//!
//! A pool of threads rather than an async pool crate: the rest of the
//! backend is written against the synchronous client, the number of
//! connections is small and fixed (an operator sizes it against
//! PostgreSQL's `max_connections` divided by the number of servers), and
//! a thread per connection costs nothing next to the connection itself.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, mpsc};

use postgres::Client;

use crate::error::RegistryError;

/// What the first connection does before the pool takes calls.
type Setup = Box<dyn FnOnce(&mut Client) -> Result<(), RegistryError> + Send>;

/// One call for whichever connection is free.
pub(crate) type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// Connects one client; where TLS is decided.
pub(crate) type Connect = Arc<dyn Fn() -> Result<Client, RegistryError> + Send + Sync>;

/// The pool: a handle on its queue. Its threads end when the last handle
/// is dropped.
#[derive(Clone)]
pub(crate) struct Pool {
    jobs: mpsc::Sender<Job>,
}

fn gone() -> RegistryError {
    RegistryError::Database(
        "the PostgreSQL connection thread stopped while answering; see the log above".to_owned(),
    )
}

impl Pool {
    /// Opens `size` connections (at least one) with `connect`, runs
    /// `setup` on the first before any call is taken (schema migrations),
    /// and fails here, not on the first request, when the database is
    /// unreachable.
    pub(crate) fn start(
        name: &str,
        size: usize,
        connect: Connect,
        setup: impl FnOnce(&mut Client) -> Result<(), RegistryError> + Send + 'static,
    ) -> Result<Self, RegistryError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        // The first connection runs `setup` before the others connect, so
        // they never see a half-migrated schema.
        let mut setup: Option<Setup> = Some(Box::new(setup));
        for n in 0..size.max(1) {
            let (ready_tx, ready) = mpsc::sync_channel(1);
            let (connect, queue, setup) = (Arc::clone(&connect), Arc::clone(&queue), setup.take());
            std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || {
                    let opened = connect().and_then(|mut client| {
                        if let Some(setup) = setup {
                            setup(&mut client)?;
                        }
                        Ok(client)
                    });
                    match opened {
                        Ok(client) => {
                            let _ = ready_tx.send(Ok(()));
                            serve_jobs(client, &connect, &queue);
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                })
                .map_err(|e| RegistryError::Database(format!("no thread for PostgreSQL: {e}")))?;
            ready.recv().map_err(|_| gone())??;
        }
        Ok(Self { jobs })
    }

    /// Queues `job` without waiting for it.
    pub(crate) fn submit(&self, job: Job) -> Result<(), RegistryError> {
        self.jobs.send(job).map_err(|_| gone())
    }

    /// Runs `work` on a free connection and waits for its answer.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<T, RegistryError> + Send + 'static,
    ) -> Result<T, RegistryError> {
        let (answer_tx, answer) = mpsc::sync_channel(1);
        self.submit(Box::new(move |client: &mut Client| {
            let _ = answer_tx.send(work(client));
        }))?;
        answer.recv().map_err(|_| gone())?
    }
}

/// One connection's loop: takes calls until the pool is dropped.
fn serve_jobs(mut client: Client, connect: &Connect, queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next call, so the
        // threads take turns at the queue and never at the database.
        let job = {
            let queue = queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.recv()
        };
        let Ok(job) = job else { return };
        if client.is_closed() {
            // The server restarted or dropped us: try once more per call;
            // if it fails the call fails with the closed connection's error.
            if let Ok(fresh) = connect() {
                client = fresh;
            }
        }
        // A panicking call must not take the registry down for everyone:
        // its transaction rolls back as it unwinds, and its caller sees
        // `gone()`.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut client)));
    }
}
