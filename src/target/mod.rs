//! The target space: which hosts and ports a scan covers, and in which order.
//!
//! A scan is a grid of (host, port) pairs. Hosts are kept as sorted, disjoint
//! address ranges and ports as a sorted list, so that any pair has a dense
//! index `host_index * port_count + port_index`. The engine keeps its state
//! per index (a few bits each) and walks indices through a keyed permutation.
mod hosts;
mod permute;
mod ports;
mod space;

pub use hosts::{HostSet, TargetError};
pub use permute::Permutation;
pub use ports::{PortList, PortSpecError, Protocol};
pub use space::ScanSpace;
