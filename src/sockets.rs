//! The scan's raw sockets, opened once per process.
//!
//! Opening a raw or packet socket needs CAP_NET_RAW; using one does not.
//! So the standalone commands (`scan`, `audit`, and `audit --every`, which
//! scans again every interval for as long as it runs) open their sockets
//! when the first scan needs them, then give up every privilege
//! (`portsweep::io::privilege`) before the engine reads a single reply; each
//! scan after that gets duplicated descriptors of the same sockets, and the
//! packet socket queues nothing between scans. `demo` scans on a thread of
//! a process that must keep its privileges to tear its lab down, so it
//! opens them without dropping anything.
use anyhow::anyhow;
use portsweep::io::privilege;
use portsweep::io::raw::{is_permission_error, PacketReceiver, RawSender};
use portsweep::io::{ProbeSink, ReplySource};

use crate::cli::EngineArgs;
use crate::Failure;

const GRANT_HINT: &str = "opening a raw socket needs CAP_NET_RAW: run portsweep as root, or grant the capability once with `setcap cap_net_raw,cap_net_admin+ep \"$(command -v portsweep)\"`";

/// The sinks and the reply source one scan runs on.
pub type ScanIo = (Vec<Box<dyn ProbeSink>>, Box<dyn ReplySource>);

/// Sockets opened on first use, reused by every later scan.
pub struct Sockets {
    drop_privileges: bool,
    open: Option<Open>,
}

struct Open {
    senders: Vec<RawSender>,
    receiver: PacketReceiver,
}

impl Sockets {
    /// For a process that scans and needs nothing else privileged: once the
    /// sockets are open, every capability goes.
    pub fn dropping_privileges() -> Sockets {
        Sockets { drop_privileges: true, open: None }
    }

    /// For a process that still needs its privileges after the scan (demo).
    pub fn keeping_privileges() -> Sockets {
        Sockets { drop_privileges: false, open: None }
    }

    /// The sinks and the reply source of one scan, on the sockets opened by
    /// the first call (in the calling thread's network namespace).
    pub fn for_scan(&mut self, engine: &EngineArgs) -> Result<ScanIo, Failure> {
        let open = match &mut self.open {
            Some(open) => open,
            None => {
                let open = Open::new(engine)?;
                if self.drop_privileges {
                    privilege::drop_all().map_err(|e| Failure::runtime(anyhow!(e).context("giving up privileges after opening the raw sockets")))?;
                }
                self.open.insert(open)
            }
        };
        let io_error = |e: std::io::Error| Failure::runtime(anyhow!(e).context("preparing the raw sockets for a scan"));
        open.receiver.resume().map_err(io_error)?;
        let mut sinks: Vec<Box<dyn ProbeSink>> = Vec::new();
        for s in &open.senders {
            sinks.push(Box::new(s.try_clone().map_err(io_error)?));
        }
        Ok((sinks, Box::new(open.receiver.try_clone().map_err(io_error)?)))
    }

    /// Between scans: the packet socket stops queueing (best effort: a
    /// socket that still queues costs memory, not correctness, as the next
    /// scan empties it first).
    pub fn idle(&self) {
        if let Some(open) = &self.open {
            let _ = open.receiver.pause();
        }
    }
}

impl Open {
    fn new(engine: &EngineArgs) -> Result<Open, Failure> {
        let raw_error = |e: std::io::Error, what: &str| {
            if is_permission_error(&e) {
                Failure::runtime(anyhow!("{GRANT_HINT}"))
            } else {
                Failure::runtime(anyhow::Error::new(e).context(format!("opening the {what} socket")))
            }
        };
        let mut senders = Vec::new();
        for _ in 0..sender_count(engine) {
            senders.push(RawSender::open(engine.interface.as_deref(), 256).map_err(|e| raw_error(e, "raw send"))?);
        }
        let receiver = PacketReceiver::open(engine.interface.as_deref()).map_err(|e| raw_error(e, "packet receive"))?;
        Ok(Open { senders, receiver })
    }
}

fn sender_count(engine: &EngineArgs) -> usize {
    if let Some(n) = engine.senders {
        return n as usize;
    }
    match engine.rate.0 {
        Some(r) if r <= 150_000 => 1,
        _ => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(4),
    }
}
