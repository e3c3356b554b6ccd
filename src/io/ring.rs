//! The packet socket's receive ring (`PACKET_RX_RING`, `TPACKET_V3`).
//!
//! Read with `recvmmsg`, a packet socket wakes its reader for every packet
//! it queues (`sock_def_readable` in the sending CPU's softirq: 7 % of a
//! reference scan's CPU) and copies each one out in a syscall. With a
//! `TPACKET_V3` ring the kernel writes frames straight into memory shared
//! with us, packed in blocks, and wakes the reader only when a block is
//! handed over: when it is full, or when the block timeout passes with
//! frames in it. So a busy scan costs one wakeup per block (thousands of
//! replies) and an idle one at most one per timeout, which also bounds how
//! late a reply can be seen.
//!
//! The ring only moves frames: it hands each one, from its network header
//! on (the socket is `SOCK_DGRAM`), to whoever reads, and knows nothing of
//! address families or of the filter that chose them.
//!
//! Ownership of a block goes back and forth through its status word: the
//! kernel sets `TP_STATUS_USER` when it hands the block over (read with
//! acquire ordering, so the frames it wrote are visible), we set
//! `TP_STATUS_KERNEL` when done (release ordering, so our reads finish
//! first). Blocks are handed over strictly in order, so one cursor (block,
//! frame within it) says where reading resumes; the cursor sits behind a
//! mutex taken once per batch, never per frame, so that duplicated
//! receivers of one socket (one per scan of `audit --every`) share it.
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// Bytes of each block (a multiple of the page size).
const BLOCK_SIZE: usize = 256 << 10;
/// Blocks in the ring: 8 MiB, about 58,000 SYN-ACKs (each frame takes a
/// 96-byte header and its packet, 16-aligned), 0.3 s of replies at the
/// reference lab's rate before the kernel must drop.
const BLOCK_COUNT: usize = 32;
/// The block timeout, ms: the longest a reply waits in a block that is not
/// full, and the most wakeups a quiet scan costs (1,000 / this a second).
const BLOCK_TIMEOUT_MS: u32 = 2;
/// The ring's size: memory the process maps (and the kernel pins) for as
/// long as its packet socket is open.
pub const RING_BYTES: usize = BLOCK_SIZE * BLOCK_COUNT;
/// What the kernel checks frame sizes against (unused by `TPACKET_V3`,
/// which packs frames, but it must divide the block size).
const FRAME_SIZE: usize = 2048;

// Offsets in the block descriptor (`struct tpacket_block_desc`, whose
// header is a `tpacket_hdr_v1`) and in each frame (`struct tpacket3_hdr`).
const BLOCK_STATUS: usize = 8;
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;
const FRAME_NEXT: usize = 0;
const FRAME_SNAPLEN: usize = 12;
const FRAME_NET: usize = 26;

/// A mapped `TPACKET_V3` receive ring of one packet socket.
pub struct RxRing {
    map: *mut u8,
    len: usize,
    cursor: Mutex<Cursor>,
}

// SAFETY: the mapping lives as long as the ring; every access to block
// contents happens while we own the block (status `TP_STATUS_USER`), under
// the cursor's mutex.
unsafe impl Send for RxRing {}
unsafe impl Sync for RxRing {}

/// Where reading resumes: a block, and within it how many frames were
/// read already and the offset of the next one.
#[derive(Default)]
struct Cursor {
    block: usize,
    frame: u32,
    offset: usize,
}

impl RxRing {
    /// Asks for the ring on `fd` (a bound or unbound `AF_PACKET` socket
    /// without one yet) and maps it.
    pub fn attach(fd: &OwnedFd) -> io::Result<RxRing> {
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        super::raw::setsockopt(fd, libc::SOL_PACKET, libc::PACKET_VERSION, &version)?;
        let req = libc::tpacket_req3 {
            tp_block_size: BLOCK_SIZE as u32,
            tp_block_nr: BLOCK_COUNT as u32,
            tp_frame_size: FRAME_SIZE as u32,
            tp_frame_nr: (BLOCK_SIZE / FRAME_SIZE * BLOCK_COUNT) as u32,
            tp_retire_blk_tov: BLOCK_TIMEOUT_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        super::raw::setsockopt(fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)?;
        let len = RING_BYTES;
        // SAFETY: a fresh shared mapping of the ring the kernel just made;
        // checked for failure before use.
        let map = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_LOCKED, fd.as_raw_fd(), 0) };
        let map = if map == libc::MAP_FAILED {
            // MAP_LOCKED needs RLIMIT_MEMLOCK room; the ring works without it.
            // SAFETY: as above.
            unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd.as_raw_fd(), 0) }
        } else {
            map
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(RxRing { map: map as *mut u8, len, cursor: Mutex::new(Cursor::default()) })
    }

    /// The status word of block `i`.
    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: in bounds (i < BLOCK_COUNT), 4-aligned (blocks are
        // page-aligned), and the kernel writes it only as a u32.
        unsafe { &*(self.map.add(i * BLOCK_SIZE + BLOCK_STATUS) as *const AtomicU32) }
    }

    fn user_owned(&self, i: usize) -> bool {
        self.status(i).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
    }

    /// A native-endian u16 of block `i` at `offset`; 0 past the block's end.
    fn half(&self, i: usize, offset: usize) -> u16 {
        if offset + 2 > BLOCK_SIZE {
            return 0;
        }
        // SAFETY: in bounds of block i, which we own (the caller checked).
        unsafe { std::ptr::read_unaligned(self.map.add(i * BLOCK_SIZE + offset) as *const u16) }
    }

    /// A u32 of block `i` at `offset`; 0 past the block's end.
    fn word(&self, i: usize, offset: usize) -> u32 {
        if offset + 4 > BLOCK_SIZE {
            return 0;
        }
        // SAFETY: in bounds of block i, which we own (the caller checked).
        unsafe { std::ptr::read_unaligned(self.map.add(i * BLOCK_SIZE + offset) as *const u32) }
    }

    /// Whether a frame waits to be read, without waiting.
    pub fn ready(&self) -> bool {
        let c = self.cursor.lock().unwrap_or_else(|e| e.into_inner());
        self.user_owned(c.block)
    }

    /// Hands up to `max` frames, in arrival order, to `each` (each one from
    /// its network header, as long as the filter kept it) and gives fully
    /// read blocks back to the kernel; returns how many it handed. Does
    /// not wait: 0 when no block is ready.
    pub fn read(&self, max: usize, each: impl FnMut(&[u8])) -> usize {
        self.read_blocks(max, usize::MAX, each)
    }

    /// [`read`](Self::read), also stopping once `blocks` blocks were given
    /// back to the kernel.
    fn read_blocks(&self, max: usize, blocks: usize, mut each: impl FnMut(&[u8])) -> usize {
        let mut c = self.cursor.lock().unwrap_or_else(|e| e.into_inner());
        let mut done = 0;
        let mut returned = 0;
        while done < max && returned < blocks && self.user_owned(c.block) {
            let b = c.block;
            let frames = self.word(b, BLOCK_NUM_PKTS);
            if c.frame == 0 {
                c.offset = self.word(b, BLOCK_FIRST_PKT) as usize;
            }
            while c.frame < frames && done < max {
                let at = c.offset;
                let snap = self.word(b, at + FRAME_SNAPLEN) as usize;
                // tp_net is a u16 of its own (after tp_mac), in the
                // machine's byte order like every field the kernel writes.
                let net = self.half(b, at + FRAME_NET) as usize;
                let start = at + net;
                if at >= BLOCK_SIZE || start.checked_add(snap).is_none_or(|end| end > BLOCK_SIZE) {
                    // A frame that does not fit its block: the kernel
                    // never writes one; skip the rest of the block.
                    c.frame = frames;
                    break;
                }
                // SAFETY: [start, start + snap) lies inside block b, which
                // we own until its status is given back below.
                each(unsafe { std::slice::from_raw_parts(self.map.add(b * BLOCK_SIZE + start), snap) });
                done += 1;
                c.frame += 1;
                c.offset = at + self.word(b, at + FRAME_NEXT) as usize;
            }
            if c.frame >= frames {
                self.status(b).store(libc::TP_STATUS_KERNEL, Ordering::Release);
                *c = Cursor { block: (b + 1) % BLOCK_COUNT, frame: 0, offset: 0 };
                returned += 1;
            }
        }
        done
    }

    /// Gives ready blocks back unread; returns the frames discarded.
    /// Bounded by the ring, not by traffic: at most one turn (the block
    /// count), however fast the kernel refills the blocks behind us.
    pub fn discard(&self) -> usize {
        self.read_blocks(usize::MAX, BLOCK_COUNT, |_| {})
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `attach`, unmapped once.
        unsafe { libc::munmap(self.map as *mut libc::c_void, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    /// A ring in anonymous memory laid out as the kernel lays it out:
    /// every block handed to us (`TP_STATUS_USER`) holding `frames`
    /// frames whose packet is `[block, frame]` repeated, placed `net`
    /// bytes after the frame header's start (`tp_mac` a different value,
    /// so reading the wrong half shows).
    fn fake_ring(frames: u32, net: u16) -> RxRing {
        // SAFETY: a fresh private anonymous mapping, checked below.
        let map = unsafe { libc::mmap(std::ptr::null_mut(), RING_BYTES, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
        assert_ne!(map, libc::MAP_FAILED);
        let map = map as *mut u8;
        let put32 = |at: usize, v: u32| unsafe { std::ptr::write_unaligned(map.add(at) as *mut u32, v) };
        let put16 = |at: usize, v: u16| unsafe { std::ptr::write_unaligned(map.add(at) as *mut u16, v) };
        const FIRST: usize = 48;
        const STRIDE: usize = 256;
        for b in 0..BLOCK_COUNT {
            let base = b * BLOCK_SIZE;
            put32(base + BLOCK_NUM_PKTS, frames);
            put32(base + BLOCK_FIRST_PKT, FIRST as u32);
            for f in 0..frames as usize {
                let at = base + FIRST + f * STRIDE;
                put32(at + FRAME_NEXT, STRIDE as u32);
                put32(at + FRAME_SNAPLEN, 8);
                put16(at + FRAME_NET - 2, net - 16); // tp_mac
                put16(at + FRAME_NET, net);
                for i in 0..8 {
                    unsafe { *map.add(at + net as usize + i) = if i % 2 == 0 { b as u8 } else { f as u8 } };
                }
            }
            put32(base + BLOCK_STATUS, libc::TP_STATUS_USER);
        }
        RxRing { map, len: RING_BYTES, cursor: Mutex::new(Cursor::default()) }
    }

    #[test]
    fn frames_start_at_tp_net_in_arrival_order() {
        let ring = fake_ring(3, 0x52);
        let mut seen = Vec::new();
        assert_eq!(ring.read(5, |p| seen.push(p.to_vec())), 5);
        let expect = |b: u8, f: u8| vec![b, f, b, f, b, f, b, f];
        assert_eq!(seen, vec![expect(0, 0), expect(0, 1), expect(0, 2), expect(1, 0), expect(1, 1)]);
        // Block 0 went back to the kernel, block 1 (partly read) did not.
        assert!(!ring.user_owned(0) && ring.user_owned(1));
    }

    #[test]
    fn discard_stops_after_one_turn_while_the_kernel_keeps_refilling() {
        let ring = Arc::new(fake_ring(2, 0x50));
        let stop = Arc::new(AtomicBool::new(false));
        // The "kernel": hands every block straight back, full again.
        let refill = {
            let (ring, stop) = (ring.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for b in 0..BLOCK_COUNT {
                        let _ = ring.status(b).compare_exchange(libc::TP_STATUS_KERNEL, libc::TP_STATUS_USER, Ordering::AcqRel, Ordering::Relaxed);
                    }
                }
            })
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let discarding = ring.clone();
        std::thread::spawn(move || {
            let _ = tx.send(discarding.discard());
        });
        let discarded = rx.recv_timeout(std::time::Duration::from_secs(10));
        stop.store(true, Ordering::Relaxed);
        refill.join().unwrap();
        assert_eq!(discarded, Ok(2 * BLOCK_COUNT), "one turn of the ring, two frames a block");
    }
}
