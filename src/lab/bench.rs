//! Scoring other scanners' output against a scenario's ground truth, for
//! the side-by-side benchmark (`portsweep lab bench`): masscan's list
//! output (`-oL`, with `--show closed`) and nmap's grepable output (`-oG`).
//! A pair a tool does not mention gets the state that tool implies for
//! silence: masscan lists only open and closed (the rest is filtered);
//! nmap names an "Ignored State" for the ports it does not list.
use std::collections::HashMap;
use std::net::IpAddr;

use super::scenario::Scenario;
use crate::report::ScanReport;
use crate::space::{HostSet, PortList, Protocol};

/// What a tool said: explicit states per pair, and per-host defaults.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ToolStates {
    pub pairs: HashMap<(IpAddr, Protocol, u16), String>,
    pub host_default: HashMap<IpAddr, String>,
    /// For pairs neither listed nor covered by a host default.
    pub default: String,
}

impl ToolStates {
    pub fn state(&self, addr: IpAddr, proto: Protocol, port: u16) -> &str {
        self.pairs.get(&(addr, proto, port)).or_else(|| self.host_default.get(&addr)).map(String::as_str).unwrap_or(&self.default)
    }
}

/// masscan `-oL`: `open tcp 80 198.19.1.1 1700000000` / `closed tcp …`.
pub fn parse_masscan_list(text: &str) -> ToolStates {
    let mut t = ToolStates { default: "filtered".into(), ..Default::default() };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [state, "tcp", port, addr, ..] = f[..] {
            if let (Ok(port), Ok(addr)) = (port.parse::<u16>(), addr.parse::<IpAddr>()) {
                // masscan may report a pair twice (retries): open wins.
                let e = t.pairs.entry((addr, Protocol::Tcp, port)).or_insert_with(|| state.to_string());
                if state == "open" {
                    *e = "open".into();
                }
            }
        }
    }
    t
}

/// nmap `-oG`: `Host: IP ()<TAB>Ports: 80/open/tcp//http///, 123/open|filtered/udp//ntp///, …<TAB>Ignored State: closed (2795)`.
pub fn parse_nmap_grepable(text: &str) -> ToolStates {
    let mut t = ToolStates { default: "filtered".into(), ..Default::default() };
    for line in text.lines().filter(|l| l.starts_with("Host: ")) {
        let Some(addr) = line[6..].split_whitespace().next().and_then(|a| a.parse::<IpAddr>().ok()) else { continue };
        for field in line.split('\t') {
            if let Some(ports) = field.strip_prefix("Ports: ") {
                for entry in ports.split(", ") {
                    let parts: Vec<&str> = entry.trim().split('/').collect();
                    let proto = match parts.get(2) {
                        Some(&"tcp") => Protocol::Tcp,
                        Some(&"udp") => Protocol::Udp,
                        _ => continue,
                    };
                    if let (Some(Ok(port)), Some(state)) = (parts.first().map(|p| p.parse::<u16>()), parts.get(1)) {
                        t.pairs.insert((addr, proto, port), state.to_string());
                    }
                }
            } else if let Some(ignored) = field.strip_prefix("Ignored State: ") {
                if let Some(state) = ignored.split_whitespace().next() {
                    t.host_default.insert(addr, state.to_string());
                }
            }
        }
    }
    t
}

/// How a tool's states compare with the truth over targets × ports.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Score {
    pub pairs: u64,
    pub exact: u64,
    pub open_truth: u64,
    pub open_found: u64,
}

impl Score {
    pub fn exact_percent(&self) -> f64 {
        if self.pairs == 0 { 0.0 } else { 100.0 * self.exact as f64 / self.pairs as f64 }
    }
    pub fn open_recall_percent(&self) -> f64 {
        if self.open_truth == 0 { 100.0 } else { 100.0 * self.open_found as f64 / self.open_truth as f64 }
    }
}

/// Scores `state(addr, protocol, port)` against the scenario for its
/// targets × ports.
pub fn score(scenario: &Scenario, state: impl Fn(IpAddr, Protocol, u16) -> String) -> Score {
    let oracle = scenario.oracle();
    let (Ok(hosts), Ok(ports)) = (HostSet::parse(&scenario.targets, &scenario.exclude), PortList::parse(&scenario.ports, Protocol::Tcp)) else {
        return Score::default();
    };
    let mut s = Score::default();
    for addr in hosts.iter() {
        for &(proto, port) in ports.as_slice() {
            let truth = oracle.truth(addr, proto, port).state;
            let got = state(addr, proto, port);
            s.pairs += 1;
            s.exact += (got == truth) as u64;
            if truth == "open" {
                s.open_truth += 1;
                s.open_found += (got == "open") as u64;
            }
        }
    }
    s
}

/// Scores a portsweep report.
pub fn score_report(scenario: &Scenario, report: &ScanReport) -> Score {
    let ports = report.port_list().unwrap_or_else(|| PortList::from_ports(Vec::new()));
    score(scenario, |a, proto, p| report.lookup(a, proto, p, &ports).map(|(s, _)| s.as_str().to_string()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masscan_list() {
        let t = parse_masscan_list("#masscan\nopen tcp 80 198.19.1.1 1700000000\nclosed tcp 81 198.19.1.1 1700000000\nopen tcp 81 198.19.1.1 1700000001\n# end\n");
        let a = IpAddr::from([198, 19, 1, 1]);
        assert_eq!(t.state(a, Protocol::Tcp, 80), "open");
        assert_eq!(t.state(a, Protocol::Tcp, 81), "open", "open wins over an earlier closed");
        assert_eq!(t.state(a, Protocol::Tcp, 82), "filtered");
    }

    #[test]
    fn nmap_grepable() {
        let text = "# Nmap 7.93 scan initiated\nHost: 198.19.1.1 ()\tStatus: Up\nHost: 198.19.1.1 ()\tPorts: 80/open/tcp//http///, 443/filtered/tcp//https///\tIgnored State: closed (2795)\nHost: 198.19.1.250 ()\tStatus: Up\nHost: 198.19.1.250 ()\tPorts: \tIgnored State: filtered (2797)\n# Nmap done\n";
        let t = parse_nmap_grepable(text);
        let a = IpAddr::from([198, 19, 1, 1]);
        let tcp = Protocol::Tcp;
        assert_eq!(t.state(a, tcp, 80), "open");
        assert_eq!(t.state(a, tcp, 443), "filtered");
        assert_eq!(t.state(a, tcp, 22), "closed");
        assert_eq!(t.state(IpAddr::from([198, 19, 1, 250]), tcp, 22), "filtered");
        assert_eq!(t.state(IpAddr::from([198, 19, 1, 251]), tcp, 22), "filtered");
    }

    #[test]
    fn nmap_udp_grepable() {
        let text = "# Nmap 7.93 scan initiated\nHost: 198.19.1.1 ()\tStatus: Up\nHost: 198.19.1.1 ()\tPorts: 123/closed/udp//ntp///, 8285/closed/udp/////, 8472/open|filtered/udp//otv///\nHost: 198.19.1.2 ()\tPorts: 8472/open|filtered/udp//otv///\tIgnored State: closed (2)\n";
        let t = parse_nmap_grepable(text);
        let (a, b, udp) = (IpAddr::from([198, 19, 1, 1]), IpAddr::from([198, 19, 1, 2]), Protocol::Udp);
        assert_eq!((t.state(a, udp, 123), t.state(a, udp, 8285), t.state(a, udp, 8472)), ("closed", "closed", "open|filtered"));
        assert_eq!((t.state(b, udp, 123), t.state(b, udp, 8472)), ("closed", "open|filtered"));
        assert_eq!(t.state(a, Protocol::Tcp, 8472), "filtered", "not the UDP entry: the tool's default");
    }
}
