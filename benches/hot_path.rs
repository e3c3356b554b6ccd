//! Criterion benchmarks of the per-packet work: building a SYN, parsing and
//! validating a reply, one permutation step, one store update, and a whole
//! engine run over the simulated network. `cargo bench --bench hot_path`.
use std::net::Ipv4Addr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use portsweep::engine::{self, Answer, ResultStore, ScanConfig, Shard};
use portsweep::lab::{sim, Scenario};
use portsweep::space::{HostSet, Permutation, PortList, Protocol, ScanSpace};
use portsweep::wire::payload::PayloadTable;
use portsweep::wire::{Cookie, Reply, SynTemplate, SYN_LEN};

const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 1, 7);

fn packet(c: &mut Criterion) {
    let cookie = Cookie::new(1, 2);
    let template = SynTemplate::new();
    let mut buf = [0u8; SYN_LEN];
    c.bench_function("syn_build (cookie + emit)", |b| {
        let mut port = 0u16;
        b.iter(|| {
            port = port.wrapping_add(1);
            let tag = cookie.tag(SRC, DST, 6, port, 0);
            template.emit(&mut buf, SRC, DST, port, tag, port);
            std::hint::black_box(&buf);
        })
    });
    let tag = cookie.tag(SRC, DST, 6, 6443, 0);
    let reply = sim::tcp_packet(DST, SRC, 6443, tag.sport, 7, tag.seq.wrapping_add(1), 0x12);
    c.bench_function("reply_parse_validate", |b| {
        b.iter(|| match Reply::parse(std::hint::black_box(&reply)) {
            Ok(Reply::Tcp { ip, tcp }) => cookie.check(ip.dst, ip.src, 6, tcp.sport, tcp.dport, tcp.ack.wrapping_sub(1)),
            _ => None,
        })
    });
}

fn state(c: &mut Criterion) {
    let perm = Permutation::new(265 * 2797, 7);
    c.bench_function("permutation_step", |b| {
        let mut pos = 0u64;
        b.iter(|| {
            pos = (pos + 1) % perm.len();
            perm.at(pos)
        })
    });
    c.bench_function("permutation_inverse", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = (i + 1) % perm.len();
            perm.position_of(i)
        })
    });
    let store = ResultStore::new(265 * 2797, 265);
    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(1));
    g.bench_function("record", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = (i + 7919) % store.len();
            store.record(i, Answer::Rst)
        })
    });
    g.finish();
}

fn engine_pass(c: &mut Criterion) {
    let s = Scenario::parse(include_str!("../fixtures/scenarios/scan-small.toml"), "scan-small.toml", "scan-small").expect("scan-small scenario");
    let space = Arc::new(ScanSpace::new(HostSet::parse(&s.targets, &[]).expect("targets"), PortList::parse(&s.ports, Protocol::Tcp).expect("ports")));
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    g.throughput(Throughput::Elements(space.len()));
    g.bench_function("small_cluster_scan_over_sim_network", |b| {
        b.iter_batched(
            || sim::network(&s, SRC, 1),
            |(sink, source)| {
                let config = ScanConfig { space: space.clone(), source: SRC, source6: None, rate: None, max_retries: 0, wait: Some(std::time::Duration::from_millis(1)), seed: 1, cookie: Cookie::new(1, 2), shard: Shard::WHOLE, icmp_wait: std::time::Duration::from_secs(1), resume: None, payloads: PayloadTable::builtin() };
                engine::run(config, vec![Box::new(sink)], Box::new(source), Arc::new(AtomicBool::new(false)), &mut |_| {}).expect("engine runs")
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, packet, state, engine_pass);
criterion_main!(benches);
