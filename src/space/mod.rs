//! The scan space: which hosts and ports a scan covers, and in which order.
//! (Not called `target`: cargo's build directory has that name, and tools
//! that skip it would skip this module too.)
//!
//! A scan is a grid of (host, port) pairs. Hosts are kept as sorted, disjoint
//! address ranges and ports as a sorted list, so that any pair has a dense
//! index `host_index * port_count + port_index`. The engine keeps its state
//! per index (a few bits each) and walks indices through a keyed permutation.
//!
//! Host names among the targets are collected by [`Targets`] and resolved
//! beforehand ([`crate::resolve`]); service names among the ports are read
//! from the system's services database ([`services`]).
mod grid;
mod hosts;
mod permute;
mod ports;
pub mod services;

pub use grid::ScanSpace;
pub use hosts::{HostSet, TargetError, Targets};
pub use permute::Permutation;
pub use ports::{PortList, PortSpecError, Protocol};
