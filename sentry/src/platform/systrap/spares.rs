//! Spare parts for new stub processes on the seccomp-trap platform: each fork from a handler
//! (`SystrapAddressSpace::fork_in_slot`, which also makes every new address space from the
//! template) needs a fresh slot region (memfd_create(2), ftruncate(2), mmap(2)) and a
//! socketpair(2) for the child's own fd-passing socket, about 45 µs of host calls. A
//! background thread keeps a few made ahead, so that a fork on the application's critical
//! path only takes them; it makes one at once when none is left. The thread may run on any of
//! the sentry's CPUs: started from a task's thread, it would otherwise inherit that thread's
//! pinning (`ptrace::pin_pair`) and wait behind the very pair it works for.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use super::address_space::SLOTS_LEN;
use super::sys::SharedRegion;
use crate::platform::ptrace::OwnSocket;
use crate::Errno;

/// How many sets are kept ready.
const STOCK: usize = 2;

/// The parts of one new stub process: its zeroed slot region, and its own socket with the
/// end the stub is to receive.
pub(super) struct Spare {
    pub region: SharedRegion,
    pub socket: OwnSocket,
    pub stub_end: OwnedFd,
}

impl Spare {
    fn make() -> Result<Spare, Errno> {
        let region = SharedRegion::new(SLOTS_LEN)?;
        let (socket, stub_end) = OwnSocket::new()?;
        Ok(Spare {
            region,
            socket,
            stub_end,
        })
    }
}

#[derive(Default)]
struct Stock {
    ready: Vec<Spare>,
    /// The refill thread runs (started at the first `take`).
    started: bool,
    /// The owner is gone: the refill thread ends.
    closed: bool,
}

#[derive(Default)]
struct Shared {
    stock: Mutex<Stock>,
    /// Signalled when a spare is taken or the stock closes.
    taken: Condvar,
    /// The CPUs the refill thread may run on (the sentry's at start).
    cpus: Vec<usize>,
}

/// The platform's stock of spares. Dropping it ends the refill thread.
pub(super) struct Spares {
    shared: Arc<Shared>,
}

impl Spares {
    /// An empty stock whose refill thread will run on `cpus` (all of the sentry's; empty:
    /// wherever it starts).
    pub fn new(cpus: Vec<usize>) -> Spares {
        Spares {
            shared: Arc::new(Shared {
                cpus,
                ..Shared::default()
            }),
        }
    }

    /// A set of parts: a ready one, else one made now.
    pub fn take(&self) -> Result<Spare, Errno> {
        let taken = {
            let mut stock = self.lock();
            let taken = stock.ready.pop();
            if !stock.started {
                stock.started = self.start_refill();
            }
            taken
        };
        self.shared.taken.notify_one();
        match taken {
            Some(spare) => Ok(spare),
            None => Spare::make(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stock> {
        self.shared
            .stock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the refill thread; false if the host refused (forks then make their own).
    fn start_refill(&self) -> bool {
        let shared = Arc::clone(&self.shared);
        std::thread::Builder::new()
            .name("systrap-spares".into())
            .spawn(move || refill(&shared))
            .is_ok()
    }
}

impl Drop for Spares {
    fn drop(&mut self) {
        self.lock().closed = true;
        self.shared.taken.notify_all();
    }
}

/// The refill thread: tops the stock up to `STOCK`, then sleeps until a spare is taken.
fn refill(shared: &Shared) {
    if !shared.cpus.is_empty() {
        let mut set = nix::sched::CpuSet::new();
        for &cpu in &shared.cpus {
            let _ = set.set(cpu);
        }
        // Best effort: pinned where it started, it still works, only later.
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
    let lock = || shared.stock.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        {
            let mut stock = lock();
            while !stock.closed && stock.ready.len() >= STOCK {
                stock = shared
                    .taken
                    .wait(stock)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if stock.closed {
                return;
            }
        }
        // Made without the lock, so that a fork never waits for it.
        match Spare::make() {
            Ok(spare) => lock().ready.push(spare),
            Err(e) => {
                // Out of fds or memory: forks make their own (and fail with the errno).
                crate::debug!("systrap: making a spare stub region: {e}");
                let stock = lock();
                if !stock.closed {
                    drop(shared.taken.wait(stock));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    fn ready(spares: &Spares) -> usize {
        spares.lock().ready.len()
    }

    #[test]
    fn takes_are_refilled_in_the_background_and_the_thread_ends_with_the_stock() {
        let spares = Spares::new(Vec::new());
        assert_eq!(ready(&spares), 0, "nothing is made before the first take");
        let first = spares.take().unwrap();
        assert_eq!(first.region.len(), SLOTS_LEN);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while ready(&spares) < STOCK {
            assert!(
                std::time::Instant::now() < deadline,
                "the stock is refilled"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // Each take gets its own parts.
        let second = spares.take().unwrap();
        assert_ne!(
            first.region.fd().as_raw_fd(),
            second.region.fd().as_raw_fd()
        );
        let shared = Arc::downgrade(&spares.shared);
        drop(spares);
        while shared.strong_count() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the refill thread ends"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}
