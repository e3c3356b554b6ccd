//! Service names → port numbers (`ssh` → 22/tcp, `ntp` → 123/udp), from
//! the system's services database, so `-p ssh,http,https` means what it
//! means to nmap and to every other tool on the machine.
//!
//! The database is `/etc/services` (Debian's `netbase` package) read through
//! NSS with `getservbyname(3)` — the C library's own reader rather than a
//! parser of ours, so other NSS sources work too. The lookup is per
//! protocol: a name stands for the port the database gives it for the
//! protocol the port list is in (`T:`/`U:`); `U:ssh` is an error because
//! ssh has no UDP entry. `getservbyname` returns static storage, so calls
//! are serialised.
use std::ffi::CString;
use std::sync::Mutex;

use super::Protocol;

/// Where the database is, for messages.
pub const DATABASE: &str = "/etc/services";

static LOCK: Mutex<()> = Mutex::new(());

/// The port of service `name` for `proto`, if the database has it
/// (case-insensitive).
pub fn port_of(name: &str, proto: Protocol) -> Option<u16> {
    let name = CString::new(name.trim().to_ascii_lowercase()).ok()?;
    let proto = CString::new(proto.as_str()).ok()?;
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: both arguments are NUL-terminated strings that outlive the
    // call; the result is NULL or points to static storage that stays
    // valid until the next call, which LOCK keeps from happening while we
    // read it.
    let entry = unsafe { libc::getservbyname(name.as_ptr(), proto.as_ptr()) };
    if entry.is_null() {
        return None;
    }
    // SAFETY: non-NULL, see above. s_port holds the port in network byte
    // order in the low 16 bits.
    let port = u16::from_be(unsafe { (*entry).s_port } as u16);
    (port != 0).then_some(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_services_database() {
        assert_eq!(port_of("ssh", Protocol::Tcp), Some(22));
        assert_eq!(port_of("HTTPS", Protocol::Tcp), Some(443));
        assert_eq!(port_of("http-alt", Protocol::Tcp), Some(8080));
        assert_eq!(port_of("ntp", Protocol::Udp), Some(123));
        assert_eq!(port_of("ssh", Protocol::Udp), None, "ssh has no UDP entry");
        assert_eq!(port_of("no-such-service", Protocol::Tcp), None);
        assert_eq!(port_of("nul\0byte", Protocol::Tcp), None);
    }
}
