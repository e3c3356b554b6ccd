//! Real daemons in a lab: Debian's etcd, nginx, haproxy, redis, BIRD and
//! chrony, started inside the lab's target namespace, each bound only to
//! its lab address, each with its own temporary config and data directory,
//! and stopped by pid when dropped (also when the test fails). Nothing here
//! touches the root namespace: every daemon is `ip netns exec`ed into the
//! target namespace, and chrony runs with `-x` (never touches the clock).
//!
//! A scenario names them in `[[daemons]]` (`kind`, `address`, optional
//! `ports`); their ports must be `open` for that address in `[[hosts]]`, so
//! the ground truth stays the `[[hosts]]` rules, and the lab then leaves
//! those pairs to the daemon instead of its own listeners.
//!
//! Certificates (etcd with TLS, nginx's HTTPS) are signed here with rcgen
//! by the replays' throw-away CA (`replay::test_ca`): one named `etcd-ca`
//! for etcd (server certificate for the lab address, client certificates
//! required), one named `lab-nginx-ca` for nginx.
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::netns::{in_netns, LabError};
use super::process::StopOnDrop;
use super::replay::test_ca;
use crate::words::word_enum;

word_enum!(
    /// The daemons a lab can run (Debian packages in parentheses).
    DaemonKind, "daemon kind", {
        /// etcd-server, plain HTTP client and peer ports (2379, 2380).
        Etcd => "etcd",
        /// etcd-server with TLS and `--client-cert-auth` (CA `etcd-ca`).
        EtcdTls => "etcd-tls",
        /// nginx: HTTP on the given ports (default 80).
        Nginx => "nginx",
        /// nginx: HTTPS with a certificate signed by the lab CA `lab-nginx-ca` (default 443).
        NginxTls => "nginx-tls",
        /// haproxy: an HTTP frontend with no server behind it (default 6443).
        Haproxy => "haproxy",
        /// redis-server without a password (default 6379).
        Redis => "redis",
        /// redis-server with `requirepass` (a random password, never kept).
        RedisAuth => "redis-auth",
        /// BIRD 2: BGP bound to the address (`strict bind`), port 179.
        Bird => "bird",
        /// chrony: an NTP server on UDP 123 (`chronyd -x`: never sets the clock).
        Chrony => "chrony",
    }
);

impl DaemonKind {
    /// The ports it serves when the scenario gives none (UDP for chrony).
    pub fn default_ports(self) -> Vec<u16> {
        match self {
            DaemonKind::Etcd | DaemonKind::EtcdTls => vec![2379, 2380],
            DaemonKind::Nginx => vec![80],
            DaemonKind::NginxTls => vec![443],
            DaemonKind::Haproxy => vec![6443],
            DaemonKind::Redis | DaemonKind::RedisAuth => vec![6379],
            DaemonKind::Bird => vec![179],
            DaemonKind::Chrony => vec![123],
        }
    }

    pub fn udp(self) -> bool {
        self == DaemonKind::Chrony
    }

    /// The program the Debian package installs, and the package.
    fn program(self) -> (&'static str, &'static str) {
        match self {
            DaemonKind::Etcd | DaemonKind::EtcdTls => ("etcd", "etcd-server"),
            DaemonKind::Nginx | DaemonKind::NginxTls => ("nginx", "nginx"),
            DaemonKind::Haproxy => ("haproxy", "haproxy"),
            DaemonKind::Redis | DaemonKind::RedisAuth => ("redis-server", "redis-server"),
            DaemonKind::Bird => ("bird", "bird2"),
            DaemonKind::Chrony => ("chronyd", "chrony"),
        }
    }
}

/// One `[[daemons]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSpec {
    pub kind: DaemonKind,
    pub address: IpAddr,
    /// TCP ports (UDP for chrony); etcd takes exactly two: client, peer.
    pub ports: Vec<u16>,
}

/// A running daemon; dropping it stops it (SIGTERM, then SIGKILL after
/// 5 s) by pid, then removes its directory.
pub struct Daemon {
    pub spec: DaemonSpec,
    // Declared before `dir`: the daemon stops before its directory goes.
    child: StopOnDrop,
    dir: tempfile::TempDir,
}

fn find_program(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].iter().map(|d| Path::new(d).join(name)).find(|p| p.exists())
}

fn write(dir: &Path, name: &str, text: &str) -> io::Result<PathBuf> {
    let p = dir.join(name);
    std::fs::write(&p, text)?;
    Ok(p)
}

fn cert_error(e: rcgen::Error) -> LabError {
    LabError::Io(io::Error::other(format!("making a lab certificate: {e}")))
}

/// A CA named `ca_name` (the replays' [`test_ca`]) and a server
/// certificate it signs for `address`, written as the PEM files the
/// daemons read: `ca.pem`, `server.pem`, `server-key.pem` in `dir`.
fn make_certs(dir: &Path, ca_name: &str, address: IpAddr) -> Result<(), LabError> {
    use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType};
    let (issuer, ca_pem) = test_ca(ca_name)?;
    let key = KeyPair::generate().map_err(cert_error)?;
    let mut server = CertificateParams::new(vec!["localhost".to_string()]).map_err(cert_error)?;
    server.distinguished_name.push(DnType::CommonName, format!("lab-{address}"));
    server.subject_alt_names.push(SanType::IpAddress(address));
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    let cert = server.signed_by(&key, &issuer).map_err(cert_error)?;
    write(dir, "ca.pem", &ca_pem)?;
    write(dir, "server.pem", &cert.pem())?;
    write(dir, "server-key.pem", &key.serialize_pem())?;
    Ok(())
}

/// Checks that the programs of `kinds` are installed; the error names the
/// Debian package (`scripts/deps` installs them).
pub fn check_installed(kinds: impl IntoIterator<Item = DaemonKind>) -> Result<(), LabError> {
    for k in kinds {
        let (tool, package) = k.program();
        if find_program(tool).is_none() {
            return Err(LabError::MissingTool { tool, package });
        }
    }
    Ok(())
}

/// Starts `spec` in namespace `ns` and waits (at most 20 s) until it
/// answers on its first port.
pub fn start(ns: &str, spec: &DaemonSpec) -> Result<Daemon, LabError> {
    check_installed([spec.kind])?;
    let dir = tempfile::Builder::new().prefix("psw-daemon-").tempdir()?;
    let d = dir.path();
    // In URLs and listen directives an IPv6 address takes brackets.
    let a = match spec.address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    let port = |i: usize| spec.ports.get(i).copied().unwrap_or_else(|| spec.kind.default_ports()[i.min(spec.kind.default_ports().len() - 1)]);
    let path = |p: &str| d.join(p).display().to_string();
    let (program, args): (&str, Vec<String>) = match spec.kind {
        DaemonKind::Etcd | DaemonKind::EtcdTls => {
            let tls = spec.kind == DaemonKind::EtcdTls;
            let scheme = if tls { "https" } else { "http" };
            let (client, peer) = (format!("{scheme}://{a}:{}", port(0)), format!("{scheme}://{a}:{}", port(1)));
            let mut v: Vec<String> = ["--name", "lab", "--data-dir", &path("data"), "--listen-client-urls", &client, "--advertise-client-urls", &client, "--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer, "--initial-cluster", &format!("lab={peer}")].iter().map(|s| s.to_string()).collect();
            if tls {
                make_certs(d, "etcd-ca", spec.address)?;
                let (ca, cert, key) = (path("ca.pem"), path("server.pem"), path("server-key.pem"));
                for (flag, value) in [("--cert-file", &cert), ("--key-file", &key), ("--trusted-ca-file", &ca), ("--peer-cert-file", &cert), ("--peer-key-file", &key), ("--peer-trusted-ca-file", &ca)] {
                    v.extend([flag.to_string(), value.clone()]);
                }
                v.extend(["--client-cert-auth".into(), "--peer-client-cert-auth".into()]);
            }
            ("etcd", v)
        }
        DaemonKind::Nginx | DaemonKind::NginxTls => {
            let tls = spec.kind == DaemonKind::NginxTls;
            let mut servers = String::new();
            let ports = if spec.ports.is_empty() { spec.kind.default_ports() } else { spec.ports.clone() };
            for p in ports {
                servers.push_str(&format!("  server {{ listen {a}:{p}{}; location / {{ return 404; }} }}\n", if tls { " ssl" } else { "" }));
            }
            if tls {
                make_certs(d, "lab-nginx-ca", spec.address)?;
                servers = format!("  ssl_certificate {};\n  ssl_certificate_key {};\n{servers}", path("server.pem"), path("server-key.pem"));
            }
            let conf = format!(
                "daemon off;\nmaster_process off;\npid {pid};\nerror_log {log};\nevents {{ worker_connections 1024; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{servers}}}\n",
                pid = path("nginx.pid"),
                log = path("error.log"),
                d = d.display()
            );
            let conf = write(d, "nginx.conf", &conf)?;
            ("nginx", vec!["-c".into(), conf.display().to_string(), "-p".into(), d.display().to_string(), "-e".into(), path("error.log")])
        }
        DaemonKind::Haproxy => {
            let conf = format!("global\n  pidfile {}\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\nfrontend lab\n  bind {a}:{}\n  default_backend none\nbackend none\n", path("haproxy.pid"), port(0));
            let conf = write(d, "haproxy.cfg", &conf)?;
            ("haproxy", vec!["-db".into(), "-f".into(), conf.display().to_string()])
        }
        DaemonKind::Redis | DaemonKind::RedisAuth => {
            let mut conf = format!("bind {}\nport {}\nprotected-mode no\nsave \"\"\nappendonly no\ndir {}\nlogfile {}\ndaemonize no\n", spec.address, port(0), d.display(), path("redis.log"));
            if spec.kind == DaemonKind::RedisAuth {
                let mut secret = [0u8; 16];
                getrandom::fill(&mut secret).map_err(|e| LabError::Io(io::Error::other(e.to_string())))?;
                conf.push_str(&format!("requirepass {}\n", secret.iter().map(|b| format!("{b:02x}")).collect::<String>()));
            }
            let conf = write(d, "redis.conf", &conf)?;
            ("redis-server", vec![conf.display().to_string()])
        }
        DaemonKind::Bird => {
            // A neighbour that does not exist (inside the lab range, with no
            // route): BIRD listens, and closes connections from anyone else.
            let conf = format!("router id {};\nprotocol device {{ }}\nprotocol bgp lab {{\n  local {} port {} as 65001;\n  neighbor 198.18.255.254 as 65002;\n  strict bind yes;\n  multihop;\n  ipv4 {{ import none; export none; }};\n}}\n", "198.18.0.2", spec.address, port(0));
            let conf = write(d, "bird.conf", &conf)?;
            ("bird", vec!["-f".into(), "-c".into(), conf.display().to_string(), "-s".into(), path("bird.ctl"), "-P".into(), path("bird.pid")])
        }
        DaemonKind::Chrony => {
            let conf = format!("bindaddress {}\nport {}\nallow all\nlocal stratum 10\ncmdport 0\npidfile {}\ndriftfile {}\n", spec.address, port(0), path("chronyd.pid"), path("drift"));
            let conf = write(d, "chrony.conf", &conf)?;
            ("chronyd", vec!["-f".into(), conf.display().to_string(), "-d".into(), "-x".into(), "-u".into(), "root".into()])
        }
    };
    let exe = find_program(program).ok_or(LabError::MissingTool { tool: spec.kind.program().0, package: spec.kind.program().1 })?;
    let log = std::fs::File::create(d.join("stdout.log"))?;
    let child = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(&exe)
        .args(&args)
        .current_dir(d)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .map_err(|e| LabError::Command { command: format!("ip netns exec {ns} {program}"), stderr: e.to_string() })?;
    let mut daemon = Daemon { spec: spec.clone(), child: StopOnDrop::new(child, Duration::from_secs(5)), dir };
    daemon.wait_ready(ns, SocketAddr::new(spec.address, port(0)))?;
    Ok(daemon)
}

impl Daemon {
    /// Its directory (configuration, logs, certificates).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn wait_ready(&mut self, ns: &str, addr: SocketAddr) -> Result<(), LabError> {
        let udp = self.spec.kind.udp();
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let up = in_netns(ns, || -> bool {
                if udp {
                    let Ok(s) = std::net::UdpSocket::bind("0.0.0.0:0") else { return false };
                    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                    let mut buf = [0u8; 128];
                    s.send_to(&crate::identify::NTP_CLIENT_REQUEST, addr).is_ok() && s.recv(&mut buf).is_ok()
                } else {
                    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                }
            })?;
            if up {
                return Ok(());
            }
            let exited = matches!(self.child.try_wait(), Ok(Some(_)));
            if exited || Instant::now() > end {
                let log = std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default();
                let what = if exited { "exited" } else { "did not answer within 20 s" };
                return Err(LabError::Command { command: format!("{} on {addr}", self.spec.kind), stderr: format!("{what}: {}", log.chars().take(2000).collect::<String>()) });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
