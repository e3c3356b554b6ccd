//! Which local address the kernel would use to reach a target: the route
//! lookup users expect, done by connecting a UDP socket (which sends nothing).
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

pub fn source_for(dst: Ipv4Addr) -> io::Result<Ipv4Addr> {
    let s = UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))?;
    s.connect(SocketAddr::from((dst, 9)))?;
    match s.local_addr()?.ip() {
        IpAddr::V4(a) if !a.is_unspecified() => Ok(a),
        other => Err(io::Error::other(format!("no IPv4 route to {dst} (source {other})"))),
    }
}
