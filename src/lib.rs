//! portsweep: sweep Kubernetes node CIDRs with raw SYN probes and audit the
//! answers against the port plan of each node's role.
//!
//! Data flows one way through the modules:
//! `resolve` (host names → addresses, once, before anything is built) →
//! `space` (what to probe, in which order) → `wire` (the bytes of a probe and
//! of a reply) → `io` (raw sockets, behind traits) → `engine` (the pipeline that
//! sends, receives, validates and records) → `report` (states a user reads,
//! merged shards) → `audit` (findings: `plan` × `inventory` × a report) →
//! `diff` (what changed between two reports) → `output` (where a report goes:
//! stdout or several files, each in its own format). `words` holds the closed
//! vocabularies they share. `metrics` turns finished audits into Prometheus
//! metrics (served over HTTP or written for node_exporter) for `--every`.
//! `lab` builds test hosts with a known ground truth: network namespaces on
//! this machine, or a simulated network for tests without privileges.
//! `bounded`, below them all, reads outside files under size and line
//! limits.
pub mod audit;
pub mod bounded;
pub mod diff;
pub mod engine;
pub mod identify;
pub mod inventory;
pub mod io;
pub mod lab;
pub mod metrics;
pub mod output;
pub mod plan;
pub mod render;
pub mod report;
pub mod resolve;
pub mod space;
pub mod wire;
pub mod words;
