//! Giving up every privilege once the raw sockets are open.
//!
//! CAP_NET_RAW is checked when a raw or packet socket is *created*; sending
//! and receiving on one already open needs nothing. So a scanner opens its
//! sockets first and then drops every capability from every set before it
//! reads a single packet from the network: whatever a hostile reply does to
//! a parser, it does it in a process that can do no more than its uid.
//!
//! Why it is shaped so:
//! - Capabilities belong to threads, not processes. Dropping them on one
//!   thread while another exists would leave that one privileged, so
//!   [`drop_all`] refuses to run in a process with more than one thread;
//!   it is called before the engine starts its sender and receiver threads,
//!   which inherit the empty sets.
//! - The order is the kernel's: the ambient set first (clearing needs
//!   nothing), then the bounding set (each drop needs CAP_SETPCAP, which
//!   root has and a `setcap cap_net_raw+ep` binary lacks), then effective,
//!   permitted and inheritable (lowering needs nothing), then
//!   `PR_SET_NO_NEW_PRIVS`, after which no `execve` can grant a capability.
//! - A failed step is an error only if it leaves a privilege, judged on the
//!   sets read back afterwards: any capability still effective, permitted or
//!   ambient, or a non-empty bounding set without `no_new_privs` (an exec'd
//!   file with capabilities could then gain them). A bounding set that
//!   cannot be cleared (no CAP_SETPCAP: the non-root image with a file
//!   capability) is not one when permitted is empty and `no_new_privs` is
//!   set: nothing can raise a capability any more.
//! - The uid is kept, so outputs are written as before (as root without
//!   capabilities, only where root's own permission bits allow).
//!
//! The capability sets are read and written with the `caps` crate (capget,
//! capset and the `PR_CAPBSET_*`/`PR_CAP_AMBIENT` prctls, with the kernel's
//! list of capabilities); `no_new_privs` is a single `prctl` through libc.
use caps::{CapSet, CapsHashSet};

/// What a process holds, read back from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privileges {
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub bounding: CapsHashSet,
    pub ambient: CapsHashSet,
    pub no_new_privs: bool,
}

impl Privileges {
    /// Reads the calling thread's sets and flag.
    pub fn current() -> Result<Privileges, PrivilegeError> {
        let read = |set| caps::read(None, set).map_err(|e| PrivilegeError::Read(e.to_string()));
        // SAFETY: PR_GET_NO_NEW_PRIVS takes no pointers.
        let nnp = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
        Ok(Privileges {
            effective: read(CapSet::Effective)?,
            permitted: read(CapSet::Permitted)?,
            inheritable: read(CapSet::Inheritable)?,
            bounding: read(CapSet::Bounding)?,
            ambient: read(CapSet::Ambient)?,
            no_new_privs: nnp == 1,
        })
    }

    /// What is still a privilege (empty: none), per the module's rule.
    pub fn left(&self) -> Vec<String> {
        let names = |s: &CapsHashSet| {
            let mut v: Vec<String> = s.iter().map(|c| c.to_string()).collect();
            v.sort();
            v.join(",")
        };
        let mut left = Vec::new();
        for (name, set) in [("effective", &self.effective), ("permitted", &self.permitted), ("inheritable", &self.inheritable), ("ambient", &self.ambient)] {
            if !set.is_empty() {
                left.push(format!("{name} {}", names(set)));
            }
        }
        if !self.bounding.is_empty() && !self.no_new_privs {
            left.push(format!("bounding {} without no_new_privs", names(&self.bounding)));
        }
        left
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PrivilegeError {
    #[error("the process has {0} threads; capabilities are per thread, so they must be dropped before any other thread starts")]
    Threads(usize),
    #[error("reading the capability sets: {0}")]
    Read(String),
    #[error("could not give up every privilege ({failed}); still held: {left}")]
    Left { failed: String, left: String },
}

/// What [`drop_all`] did: the steps that failed without leaving a
/// privilege (e.g. the bounding set without CAP_SETPCAP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub harmless_failures: Vec<String>,
}

/// The number of threads of this process (`Threads:` of /proc/self/status).
pub fn thread_count() -> Result<usize, PrivilegeError> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| PrivilegeError::Read(format!("/proc/self/status: {e}")))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| PrivilegeError::Read("/proc/self/status has no Threads: line".into()))
}

/// Drops every capability from every set and sets `no_new_privs`; an error
/// if a privilege is left afterwards (see the module documentation).
pub fn drop_all() -> Result<Dropped, PrivilegeError> {
    let threads = thread_count()?;
    if threads != 1 {
        return Err(PrivilegeError::Threads(threads));
    }
    let mut failed = Vec::new();
    for (name, set) in [("ambient", CapSet::Ambient), ("bounding", CapSet::Bounding), ("effective", CapSet::Effective), ("permitted", CapSet::Permitted), ("inheritable", CapSet::Inheritable)] {
        if let Err(e) = caps::clear(None, set) {
            failed.push(format!("clearing the {name} set: {e}"));
        }
    }
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integers only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        failed.push(format!("PR_SET_NO_NEW_PRIVS: {}", std::io::Error::last_os_error()));
    }
    let left = Privileges::current()?.left();
    if left.is_empty() {
        Ok(Dropped { harmless_failures: failed })
    } else {
        Err(PrivilegeError::Left { failed: if failed.is_empty() { "no step failed".into() } else { failed.join("; ") }, left: left.join("; ") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caps::Capability;

    fn set(c: &[Capability]) -> CapsHashSet {
        c.iter().copied().collect()
    }

    fn none() -> Privileges {
        Privileges { effective: set(&[]), permitted: set(&[]), inheritable: set(&[]), bounding: set(&[]), ambient: set(&[]), no_new_privs: true }
    }

    #[test]
    fn what_counts_as_a_privilege_left() {
        assert_eq!(none().left(), Vec::<String>::new());
        // The non-root image: the bounding set cannot be cleared without
        // CAP_SETPCAP, but with permitted empty and no_new_privs set
        // nothing can raise it.
        let image = Privileges { bounding: set(&[Capability::CAP_NET_RAW]), ..none() };
        assert_eq!(image.left(), Vec::<String>::new());
        assert_eq!(Privileges { no_new_privs: false, ..image.clone() }.left(), ["bounding CAP_NET_RAW without no_new_privs"]);
        assert_eq!(Privileges { permitted: set(&[Capability::CAP_NET_RAW]), ..none() }.left(), ["permitted CAP_NET_RAW"]);
        assert_eq!(
            Privileges { effective: set(&[Capability::CAP_NET_RAW, Capability::CAP_NET_ADMIN]), ambient: set(&[Capability::CAP_NET_RAW]), ..none() }.left(),
            ["effective CAP_NET_ADMIN,CAP_NET_RAW", "ambient CAP_NET_RAW"]
        );
        assert_eq!(Privileges { inheritable: set(&[Capability::CAP_SYS_ADMIN]), ..none() }.left(), ["inheritable CAP_SYS_ADMIN"]);
    }

    #[test]
    fn refuses_to_drop_in_a_threaded_process() {
        // The test harness runs tests on threads: this process has several,
        // so the drop must refuse (and leave the harness's privileges).
        let before = Privileges::current().unwrap();
        let n = thread_count().unwrap();
        assert!(n > 1, "{n}");
        assert!(matches!(drop_all(), Err(PrivilegeError::Threads(k)) if k > 1));
        assert_eq!(Privileges::current().unwrap(), before);
    }
}
