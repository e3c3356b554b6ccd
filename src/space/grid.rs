//! The dense (host, port) index space a scan covers.
use std::net::IpAddr;

use super::{HostSet, PortList, Protocol};

/// Hosts × ports, with a pair's index `host * ports.len() + port`.
#[derive(Debug, Clone)]
pub struct ScanSpace {
    pub hosts: HostSet,
    pub ports: PortList,
}

impl ScanSpace {
    pub fn new(hosts: HostSet, ports: PortList) -> ScanSpace {
        ScanSpace { hosts, ports }
    }

    /// Number of (host, port) pairs.
    pub fn len(&self) -> u64 {
        self.hosts.len() * self.ports.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn port_count(&self) -> usize {
        self.ports.len()
    }

    /// The pair at dense index `i`.
    #[inline]
    pub fn pair(&self, i: u64) -> (IpAddr, Protocol, u16) {
        let n = self.ports.len() as u64;
        let (proto, port) = self.ports.get((i % n) as usize);
        (self.hosts.addr(i / n), proto, port)
    }

    /// The dense index of a pair, if it is in the space.
    #[inline]
    pub fn index_of(&self, addr: IpAddr, proto: Protocol, port: u16) -> Option<u64> {
        let p = self.ports.index_of(proto, port)? as u64;
        Some(self.hosts.index_of(addr)? * self.ports.len() as u64 + p)
    }
}
