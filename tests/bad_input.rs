//! The README's bad-input table, each row run as a user would type it: the
//! exit code and the first line of stderr must be exactly what the README
//! says. Commands that take targets run with `--dry-run` or on loopback, so
//! that even a regression that accepted the bad input would send nothing
//! anywhere else. The files they name are made here, in a temp directory
//! that is the command's working directory.
mod common;

use std::process::Command;

use common::{bin, fixture};

const CASES: &[(&str, i32, &str)] = &[
    ("scan 198.19.1.0/33 -p 80 --dry-run", 2, "portsweep: bad target \"198.19.1.0/33\": not a CIDR: invalid prefix"),
    ("scan 198.19.1.1/24 -p 80 --dry-run", 2, "portsweep: bad target \"198.19.1.1/24\": host bits set; did you mean 198.19.1.0/24?"),
    ("scan 198.19.1.9-198.19.1.1 -p 80 --dry-run", 2, "portsweep: bad target \"198.19.1.9-198.19.1.1\": range start is after its end"),
    ("scan 2001:2::/64 -p 80 --dry-run", 2, "portsweep: bad target \"2001:2::/64\": a /64 has 18446744073709551616 addresses; an IPv6 target may cover at most a /112 (65536): list the addresses to scan in an @file"),
    ("scan 2001:2::1-198.19.0.1 -p 80 --dry-run", 2, "portsweep: bad target \"2001:2::1-198.19.0.1\": range ends are of different address families"),
    ("scan ::ffff:198.19.0.1 -p 80 --dry-run", 2, "portsweep: bad target \"::ffff:198.19.0.1\": \"::ffff:198.19.0.1\" is an IPv4-mapped IPv6 address; write it as 198.19.0.1"),
    ("scan 127.0.0.1 -p 80,70000", 2, "portsweep: bad port specification \"70000\": port 70000 is above 65535"),
    ("scan 127.0.0.1 -p 0", 2, "portsweep: bad port specification \"0\": port 0 cannot be scanned"),
    ("scan 127.0.0.1 -p 9-3", 2, "portsweep: bad port specification \"9-3\": range start is after its end"),
    ("scan 127.0.0.1 -p X:22", 2, "portsweep: bad port specification \"X:22\": protocol prefix must be T: or U:"),
    ("scan 127.0.0.1 -p nosuchsvc", 2, "portsweep: bad port specification \"nosuchsvc\": \"nosuchsvc\" is not a port number, and the services database (/etc/services) has no tcp service of that name"),
    ("scan @/no/such/file -p 80 --dry-run", 2, "portsweep: cannot read /no/such/file: No such file or directory (os error 2)"),
    ("scan @targets.txt -p 80 --dry-run", 2, "portsweep: targets.txt:2: bad target \"198.19.0.x\": not an IPv4 or IPv6 address, CIDR, a-b range, host name or @file"),
    ("scan 127.0.0.1 -p 80 --rate 0", 2, "error: invalid value '0' for '--rate <RATE>': rate must be at least 1 packet/s, or `max`"),
    ("scan 127.0.0.1 -p 80 --shard 3/2", 2, "error: invalid value '3/2' for '--shard <I/N>': \"3/2\" is not a shard I/N with 1 <= I <= N (e.g. 2/4), or job/N"),
    ("scan 127.0.0.1 -p 80 --retries 99", 2, "error: invalid value '99' for '--retries <RETRIES>': 99 is not in 0..=14"),
    ("scan 127.0.0.1 -p 80 -o x.xml", 2, "portsweep: --output x.xml: .xml means junit; scan reports are written as table, json, csv or html"),
    ("scan 127.0.0.1 -p 80 -o /no/such/dir/r.json", 2, "portsweep: --output /no/such/dir/r.json: directory /no/such/dir does not exist"),
    ("scan 127.0.0.1 -p 80 -o /tmp", 2, "portsweep: --output /tmp is a directory: name a file in it"),
    ("scan 0.0.0.0/0 -p 80 --dry-run", 2, "portsweep: the target set has 4294967296 addresses; at most 16777216 are supported"),
    ("scan nosuch.invalid -p 80 --resolve off --dry-run", 2, "portsweep: host name \"nosuch.invalid\" is not resolved with --resolve off (give its address, or --resolve 4)"),
    ("scan 127.0.0.1 -p 80 --resume /no/such.checkpoint", 2, "portsweep: /no/such.checkpoint: No such file or directory (os error 2)"),
    ("scan 127.0.0.1 -p 80 --resume bad.checkpoint", 2, "portsweep: bad.checkpoint: not a portsweep checkpoint (bad first line)"),
    ("scan 127.0.0.1 -p 80 --icmp-wait 3x", 2, "error: invalid value '3x' for '--icmp-wait <DURATION>': \"3x\": unknown time unit \"x\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations) (e.g. 500ms, 2s)"),
    ("scan 127.0.0.1 -p 80 --source-ip 127.0.0.1 --source-ip 127.0.0.2", 2, "portsweep: --source-ip given twice for IPv4 (127.0.0.1 and 127.0.0.2): give it at most once per family"),
    ("scan 127.0.0.1 -p 80 --source-ip ::1", 2, "portsweep: --source-ip ::1: no IPv6 target to send from it"),
    ("audit --dry-run", 2, "portsweep: no nodes: give --inventory FILE or --control-plane/--worker/--registry"),
    ("audit --inventory /no/such.yaml --dry-run", 2, "portsweep: cannot read /no/such.yaml: No such file or directory (os error 2)"),
    ("audit --inventory bad.yaml --dry-run", 2, "portsweep: bad.yaml:5:1: did not find expected ',' or ']', while parsing a flow sequence at line 4 column 12"),
    ("audit --inventory bad.ini --dry-run", 2, "portsweep: bad.ini:2: host \"198.19.1.1\": ip \"198.19.1.300\" is not an IP address"),
    ("audit --inventory bad.toml --dry-run", 2, "portsweep: bad.toml:1: unclosed table, expected `]`"),
    ("audit --inventory big.yaml --dry-run", 2, "portsweep: big.yaml: 131072 nodes or more; an inventory may have at most 65536"),
    ("audit --inventory svc.json --dry-run", 2, "portsweep: svc.json:12: items[0] \"kubernetes\" is a Service, not a Node (Services go to --services)"),
    ("audit --worker 10.0.0.300 --dry-run", 2, "portsweep: --worker 10.0.0.300: \"10.0.0.300\" is not an IP address, CIDR, range or host name"),
    ("audit --worker 198.0.0.0/8 --dry-run", 2, "portsweep: --worker 198.0.0.0/8: CIDR 198.0.0.0/8 has 16777216 addresses; more than a /16 (65536) is refused"),
    ("audit --worker 2001:2::/64 --dry-run", 2, "portsweep: --worker 2001:2::/64: CIDR 2001:2::/64 has 18446744073709551616 addresses; more than a /112 (65536) is refused"),
    ("audit --worker 198.19.1.1 --family 6 --dry-run", 2, "portsweep: --family 6: no node has an IPv6 address"),
    ("audit --worker 127.0.0.1 --plan badplan.yaml --dry-run", 2, "portsweep: badplan.yaml:3:11: entries[0].port: port 99999 is out of range (1-65535)"),
    ("audit --worker 127.0.0.1 --services /no/such.json --dry-run", 2, "portsweep: cannot read /no/such.json: No such file or directory (os error 2)"),
    ("audit --worker 127.0.0.1 --cni weave --dry-run", 2, "error: invalid value 'weave' for '--cni <CNI>'"),
    ("merge notjson.json", 2, "portsweep: notjson.json: line 1: expected ident at line 1 column 2"),
    ("merge /no/such.json", 2, "portsweep: cannot read /no/such.json: No such file or directory (os error 2)"),
    ("diff notjson.json notjson.json", 2, "portsweep: notjson.json: line 1: expected ident at line 1 column 2"),
    ("diff nodes.json notjson.json", 2, "portsweep: nodes.json: not a portsweep report (kind \"List\")"),
    ("report notjson.json", 2, "portsweep: notjson.json: line 1: expected ident at line 1 column 2"),
    ("report nodes.json --format html", 2, "portsweep: nodes.json: not a portsweep report (kind \"List\")"),
    ("report /no/such.json", 2, "portsweep: cannot read /no/such.json: No such file or directory (os error 2)"),
    ("report scan.json --format junit", 2, "portsweep: --format junit: scan reports are written as table, json, csv or html"),
    ("report scan.json -o scan.md", 2, "portsweep: --output scan.md: .md means markdown; scan reports are written as table, json, csv or html"),
    ("plan --plan badplan.yaml", 2, "portsweep: badplan.yaml:3:11: entries[0].port: port 99999 is out of range (1-65535)"),
    ("audit --inventory kube --kubeconfig /no/such.yaml --dry-run", 2, "portsweep: no Kubernetes API configuration: --kubeconfig /no/such.yaml: failed to read kubeconfig from '\"/no/such.yaml\"': No such file or directory (os error 2)"),
    ("audit --worker 198.19.1.1 --metrics-addr 127.0.0.1:9468 --dry-run", 2, "error: the following required arguments were not provided:"),
    ("audit --worker 198.19.1.1 --every 1h --metrics-addr nope --dry-run", 2, "error: invalid value 'nope' for '--metrics-addr <ADDR:PORT>': \"nope\" is not ADDR:PORT (e.g. 0.0.0.0:9468, [::1]:9468)"),
];

/// The files the table's commands read, as the README describes them.
fn files(dir: &std::path::Path) {
    let w = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    w("targets.txt", "198.19.0.1\n198.19.0.x\n");
    w("bad.yaml", "nodes:\n  - name: a\n    address: 198.19.0.1\n    roles: [worker\n");
    w("bad.ini", "[kube_node]\n198.19.1.1 ip=198.19.1.300\n");
    w("bad.toml", "[tomlerr\n");
    w("big.yaml", "roles:\n  worker: [10.0.0.0/16, 10.1.0.0/16]\n");
    w("badplan.yaml", "entries:\n  - protocol: tcp\n    port: 99999\n    roles: [worker]\n    component: x\n    audience: all\n    purpose: y\n");
    w("notjson.json", "not json\n");
    w("bad.checkpoint", "PSWCHK garbage\n");
    w("scan.json", r#"{"portsweep": "0.1.0", "format_version": 1, "kind": "scan", "started": "", "finished": "", "complete": true, "args": [], "seed": 1, "shard": "1/1", "ports": "T:80",
        "stats": {"probes_sent": 1, "replies": 1, "invalid_replies": 0, "retransmissions": 0, "duration_s": 0.1, "rate_pps": 10.0, "rx_dropped": 0, "passes": 1, "srtt_us": 1},
        "hosts": [{"address": "198.19.1.1", "status": "up", "default_state": "closed", "default_reason": "rst", "ports": []}]}"#);
    std::fs::copy(fixture("inventories/kubectl-services.json"), dir.join("svc.json")).unwrap();
    std::fs::copy(fixture("inventories/kubectl-nodes.json"), dir.join("nodes.json")).unwrap();
}

fn row(args: &str, code: i32, message: &str) -> String {
    format!("| `portsweep {args}` | {code} | {} |", message.replace('|', "\\|"))
}

#[test]
fn every_bad_input_gets_its_documented_error_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    let mut wrong = Vec::new();
    for &(args, code, message) in CASES {
        let out = Command::new(bin()).args(args.split_whitespace()).current_dir(dir.path()).output().expect("runs portsweep");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or("");
        if out.status.code() != Some(code) || first != message {
            wrong.push(format!("portsweep {args}: exit {:?}, {first:?}\n    expected {code}, {message:?}", out.status.code()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(CASES.len() >= 30);
}

#[test]
fn the_readme_table_is_this_table() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let missing: Vec<String> = CASES.iter().map(|&(a, c, m)| row(a, c, m)).filter(|r| !readme.contains(r.as_str())).collect();
    assert!(missing.is_empty(), "README rows missing or different:\n{}", missing.join("\n"));
}
