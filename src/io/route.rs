//! Which local address the kernel would use to reach a target: the route
//! lookup users expect, done by connecting a UDP socket (which sends nothing).
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// The source address of the kernel's route to `dst`, of `dst`'s family.
pub fn source_for(dst: IpAddr) -> io::Result<IpAddr> {
    let any = match dst {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let s = UdpSocket::bind(SocketAddr::new(any, 0))?;
    s.connect(SocketAddr::new(dst, 9))?;
    match s.local_addr()?.ip() {
        a if !a.is_unspecified() => Ok(a),
        other => Err(io::Error::other(format!("no route to {dst} (source {other})"))),
    }
}
