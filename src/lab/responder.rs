//! UDP services of the lab: one socket per open (address, port), so every
//! reply leaves from the address that was asked (a socket bound to 0.0.0.0
//! would answer from the veth's address). Port 123 answers like an NTP
//! server (mode 4, origin timestamp = the request's transmit timestamp);
//! every other port echoes the datagram. One thread polls all sockets and
//! stops when the responder is dropped.
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct Responder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The lab's NTP answer to a request (`None` if it is not one).
pub fn ntp_reply(request: &[u8]) -> Option<[u8; 48]> {
    if request.len() < 48 || request[0] & 0x07 != 3 {
        return None;
    }
    let mut r = [0u8; 48];
    r[0] = 0x24; // LI 0, version 4, mode 4 (server)
    r[1] = 2; // stratum
    r[24..32].copy_from_slice(&request[40..48]); // origin = their transmit
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() + 2_208_988_800).unwrap_or(0);
    r[32..36].copy_from_slice(&(now as u32).to_be_bytes()); // receive
    r[40..44].copy_from_slice(&(now as u32).to_be_bytes()); // transmit
    Some(r)
}

impl Responder {
    pub fn start(sockets: Vec<UdpSocket>) -> io::Result<Responder> {
        for s in &sockets {
            s.set_nonblocking(true)?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name("lab-udp".into()).spawn(move || serve(&sockets, &flag))?;
        Ok(Responder { stop, thread: Some(thread) })
    }
}

fn serve(sockets: &[UdpSocket], stop: &AtomicBool) {
    let mut fds: Vec<libc::pollfd> = sockets.iter().map(|s| libc::pollfd { fd: s.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: `fds` is a valid array of pollfd for the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
        if n <= 0 {
            continue;
        }
        for (fd, sock) in fds.iter_mut().zip(sockets) {
            if fd.revents & libc::POLLIN == 0 {
                continue;
            }
            fd.revents = 0;
            while let Ok((len, peer)) = sock.recv_from(&mut buf) {
                let port = sock.local_addr().map(|a| a.port()).unwrap_or(0);
                let _ = match (port, ntp_reply(&buf[..len])) {
                    (123, Some(reply)) => sock.send_to(&reply, peer),
                    (123, None) => continue,
                    _ => sock.send_to(&buf[..len], peer),
                };
            }
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Payload;

    #[test]
    fn ntp_reply_echoes_the_transmit_timestamp_and_satisfies_the_probe_check() {
        let mut req = [0u8; 48];
        Payload::Ntp.write(&mut req, 0xFEED_FACE_0000_0001);
        let reply = ntp_reply(&req).unwrap();
        assert_eq!(reply[0] & 7, 4);
        assert!(Payload::Ntp.reply_matches(&reply, 0xFEED_FACE_0000_0001));
        assert!(ntp_reply(&req[..47]).is_none());
        let mut server = req;
        server[0] = 0x24;
        assert!(ntp_reply(&server).is_none(), "does not answer server packets");
    }
}
