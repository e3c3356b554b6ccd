//! The scanner namespace's own `/etc` files, so that name resolution inside
//! a lab is the scenario's and never leaves it.
//!
//! `ip netns exec NS` bind-mounts every file of `/etc/netns/NS/` over the
//! file of that name in `/etc` for the command it runs. A lab writes three
//! there for its scanner namespace:
//! * `hosts`: `localhost` and the scenario's `[names]`;
//! * `resolv.conf`: `nameserver 127.0.0.1` with `timeout:1 attempts:1`, so a
//!   name the hosts file lacks fails at once on the namespace's own
//!   loopback (nothing listens there) instead of asking a real server;
//! * `nsswitch.conf`: the machine's, with `hosts: files dns`, so no other
//!   NSS source (mDNS, systemd-resolved) answers.
//!
//! The directory is removed when the [`EtcFiles`] is dropped (with its
//! lab, also when a test fails), and `Lab::clean_stale` removes those of
//! killed runs. Commands a lab runs in-process (`in_netns`) see the
//! machine's `/etc`; only `ip netns exec` binds these.
use std::fmt::Write as _;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Where `ip netns exec` looks.
pub const NETNS_ETC: &str = "/etc/netns";

const RESOLV_CONF: &str = "# portsweep lab: no DNS server answers here; names the hosts file lacks fail at once.
nameserver 127.0.0.1
options timeout:1 attempts:1
";

/// A namespace's `/etc/netns/NS/`, removed on drop.
#[derive(Debug)]
pub struct EtcFiles {
    dir: PathBuf,
}

/// The `hosts` file for `names`.
pub fn hosts_file(lab: &str, names: &[(String, Vec<Ipv4Addr>)]) -> String {
    let mut s = format!("# portsweep lab {lab}: the scenario's [names]\n127.0.0.1 localhost\n");
    for (name, addrs) in names {
        for a in addrs {
            let _ = writeln!(s, "{a} {name}");
        }
    }
    s
}

/// The machine's `nsswitch.conf` with `hosts: files dns` (added if absent).
pub fn nsswitch(machine: &str) -> String {
    let mut s: String = machine.lines().filter(|l| !l.trim_start().starts_with("hosts:")).map(|l| format!("{l}\n")).collect();
    s.push_str("hosts: files dns\n");
    s
}

impl EtcFiles {
    /// Writes the files for namespace `ns` of lab `lab`.
    pub fn write(lab: &str, ns: &str, names: &[(String, Vec<Ipv4Addr>)]) -> io::Result<EtcFiles> {
        let dir = Path::new(NETNS_ETC).join(ns);
        std::fs::create_dir_all(&dir)?;
        let files = EtcFiles { dir };
        let machine = std::fs::read_to_string("/etc/nsswitch.conf").unwrap_or_default();
        std::fs::write(files.dir.join("hosts"), hosts_file(lab, names))?;
        std::fs::write(files.dir.join("resolv.conf"), RESOLV_CONF)?;
        std::fs::write(files.dir.join("nsswitch.conf"), nsswitch(&machine))?;
        Ok(files)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for EtcFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_say_what_the_scenario_says() {
        let names = vec![("api.lab.test".to_string(), vec![Ipv4Addr::new(198, 19, 0, 10), Ipv4Addr::new(198, 19, 0, 11)]), ("cp-1.lab.test".to_string(), vec![Ipv4Addr::new(198, 19, 0, 10)])];
        assert_eq!(hosts_file("psw1x0", &names), "# portsweep lab psw1x0: the scenario's [names]\n127.0.0.1 localhost\n198.19.0.10 api.lab.test\n198.19.0.11 api.lab.test\n198.19.0.10 cp-1.lab.test\n");
        assert_eq!(nsswitch("passwd: files\nhosts:   files mdns4_minimal [NOTFOUND=return] dns myhostname\nnetworks: files\n"), "passwd: files\nnetworks: files\nhosts: files dns\n");
    }
}
