//! What the server did wrong on purpose ([`Fault`]), the per-path budgets
//! that decide when, and the socket trick behind a real connection reset.

use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One fault injected into a response, as listed in
/// [`RequestRecord::faults`](crate::RequestRecord::faults). Decided when the
/// response starts; a client that hangs up first may not have met it.
///
/// ```
/// use pardl_testserver::Fault;
/// let cut = Fault::Reset { after_bytes: 1000 };
/// assert_ne!(cut, Fault::Truncated { after_bytes: 1000 });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answered this status instead of the file:
    /// [`fail_first`](crate::Behaviour::fail_first) or
    /// [`fail_after`](crate::Behaviour::fail_after).
    Status(u16),
    /// Refused with this status because the path already had
    /// [`max_concurrent`](crate::Behaviour::max_concurrent) file responses
    /// in flight.
    Refused(u16),
    /// The request's `Range` was ignored: `200` with the whole body
    /// ([`ignore_range_after`](crate::Behaviour::ignore_range_after)).
    RangeIgnored,
    /// A `206` for bytes `start..=end`, which is not the range requested
    /// ([`wrong_content_range`](crate::Behaviour::wrong_content_range)).
    WrongRange {
        /// First byte sent.
        start: u64,
        /// Last byte sent (inclusive, as in `Content-Range`).
        end: u64,
    },
    /// Nothing was sent for `duration` after `after_bytes` body bytes
    /// ([`stall_after`](crate::Behaviour::stall_after)).
    Stall {
        /// Body bytes sent before the pause.
        after_bytes: u64,
        /// Length of the pause.
        duration: Duration,
    },
    /// The connection was reset after `after_bytes` body bytes
    /// ([`reset_after`](crate::Behaviour::reset_after)).
    Reset {
        /// Body bytes sent before the reset.
        after_bytes: u64,
    },
    /// The whole body was sent at this many bytes per second
    /// ([`slow`](crate::Behaviour::slow)).
    Slow {
        /// The speed, in bytes per second.
        rate: u64,
    },
    /// The connection was closed cleanly after `after_bytes` body bytes,
    /// short of the length announced
    /// ([`truncate`](crate::Behaviour::truncate)).
    Truncated {
        /// Body bytes sent before the close.
        after_bytes: u64,
    },
}

/// How much of each "first K" budget a path has spent, and its request
/// count for the "after N" faults. Lives under one mutex per registration,
/// so one request's decisions are atomic as a whole: two concurrent chunk
/// requests can never both take the last unit of a budget, nor take units
/// of two budgets in an interleaved order.
#[derive(Default)]
pub(crate) struct Budgets {
    /// GET and HEAD requests that reached the path, answered or not.
    pub requests: usize,
    pub failed_first: usize,
    /// Requests whose `Range` was honoured, for `ignore_range_after`.
    pub ranges_honoured: usize,
    pub wrong_ranges: usize,
    pub resets: usize,
    pub truncations: usize,
    pub stalls: usize,
    /// GET responses with a body so far, for `slow`.
    pub bodies: usize,
}

/// Takes one unit of a "first `times`" budget; false once it is spent.
pub(crate) fn claim(used: &mut usize, times: usize) -> bool {
    if *used < times {
        *used += 1;
        true
    } else {
        false
    }
}

/// The fault state of one registration, shared by the versions of a route
/// that [`TestServer::replace`](crate::TestServer::replace) creates.
#[derive(Default)]
pub(crate) struct RouteState {
    pub budgets: Mutex<Budgets>,
    /// File responses in flight, for `max_concurrent`. Only ever raised
    /// while `budgets` is locked, so check-then-raise cannot race another
    /// request; lowered without the lock (by [`Slot`]), which can only make
    /// the check more permissive.
    active: AtomicUsize,
}

impl RouteState {
    /// File responses in flight now.
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Counts one more file response in flight until the slot is dropped.
    /// The caller holds the `budgets` lock (see `active`).
    pub(crate) fn take_slot(self: &Arc<Self>) -> Slot {
        self.active.fetch_add(1, Ordering::SeqCst);
        Slot(Arc::clone(self))
    }
}

/// One response's place under `max_concurrent`, given back on drop.
pub(crate) struct Slot(Arc<RouteState>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An abortive close: TCP RST instead of FIN, so the client's next read
/// fails with `ECONNRESET` rather than returning EOF.
///
/// std cannot ask for it (`TcpStream::set_linger` is unstable), so this
/// calls `setsockopt(SO_LINGER, 0)` from the C library std links anyway: no
/// dependency. An abortive close also throws away whatever the kernel has
/// not yet delivered, which would make "cut after exactly N bytes" depend on
/// how fast the client reads; so first wait (boundedly) until the peer has
/// acknowledged every byte written (`SIOCOUTQ` reaches 0). On loopback an
/// acknowledged byte is in the client's receive queue, and Linux lets the
/// client read all of it before reporting the reset.
///
/// The constants are Linux's generic ones; the architectures listed are the
/// ones that use them (MIPS, SPARC, PowerPC and Alpha differ).
#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "loongarch64",
        target_arch = "s390x"
    )
))]
mod rst {
    use std::ffi::{c_int, c_void};
    use std::net::TcpStream;
    use std::os::fd::AsRawFd;
    use std::thread;
    use std::time::{Duration, Instant};

    const SOL_SOCKET: c_int = 1;
    const SO_LINGER: c_int = 13;
    const SIOCOUTQ: IoctlRequest = 0x5411;

    // glibc declares `ioctl(int, unsigned long, ...)`, musl `ioctl(int, int, ...)`.
    #[cfg(target_env = "musl")]
    type IoctlRequest = c_int;
    #[cfg(not(target_env = "musl"))]
    type IoctlRequest = std::ffi::c_ulong;

    #[repr(C)]
    struct Linger {
        l_onoff: c_int,
        l_linger: c_int,
    }

    extern "C" {
        fn setsockopt(
            fd: c_int,
            level: c_int,
            name: c_int,
            value: *const c_void,
            len: u32,
        ) -> c_int;
        fn ioctl(fd: c_int, request: IoctlRequest, ...) -> c_int;
    }

    /// Waits until every byte written to `stream` is acknowledged, or
    /// `limit` has passed (a client that stopped reading).
    pub(super) fn wait_until_delivered(stream: &TcpStream, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let mut unacked: c_int = 0;
            // SAFETY: the descriptor is open for as long as `stream` lives,
            // and SIOCOUTQ writes exactly one int through the pointer.
            let rc = unsafe { ioctl(stream.as_raw_fd(), SIOCOUTQ, &mut unacked as *mut c_int) };
            if rc != 0 || unacked <= 0 || Instant::now() >= deadline {
                return;
            }
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Makes the final close of `stream` send RST. False if refused.
    pub(super) fn linger_zero(stream: &TcpStream) -> bool {
        let linger = Linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: the descriptor is open for as long as `stream` lives, and
        // the pointer and length describe a live `struct linger`.
        let rc = unsafe {
            setsockopt(
                stream.as_raw_fd(),
                SOL_SOCKET,
                SO_LINGER,
                (&linger as *const Linger).cast(),
                std::mem::size_of::<Linger>() as u32,
            )
        };
        rc == 0
    }
}

/// Where RST is not available: nothing to wait for, and no linger.
#[cfg(not(all(
    target_os = "linux",
    any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "loongarch64",
        target_arch = "s390x"
    )
)))]
mod rst {
    use std::net::TcpStream;
    use std::time::Duration;

    pub(super) fn wait_until_delivered(_: &TcpStream, _: Duration) {}

    pub(super) fn linger_zero(_: &TcpStream) -> bool {
        false
    }
}

/// How long a reset waits for written bytes to reach the client.
const RESET_DELIVERY_WAIT: Duration = Duration::from_secs(2);

/// Prepares `stream` so that closing it resets the connection. The reset
/// goes out when the last descriptor of the socket is closed, i.e. when the
/// connection thread has dropped its streams; the caller must not shut the
/// socket down first (shutdown sends FIN). Where RST is not available, shuts
/// the connection down instead: the client sees an early EOF.
pub(crate) fn prepare_reset(stream: &TcpStream) {
    rst::wait_until_delivered(stream, RESET_DELIVERY_WAIT);
    if !rst::linger_zero(stream) {
        let _ = stream.shutdown(Shutdown::Both);
    }
}
