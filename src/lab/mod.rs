//! Test hosts with a known ground truth.
//!
//! `scenario` reads the fixture files that describe hosts and port
//! behaviours; `netns` builds them for real as network namespaces on this
//! machine (the scanner in one namespace whose only route leads into the
//! lab, every target in another, answered by real kernel listeners and
//! shaped by nftables); `sim` plays them as a simulated network for engine
//! tests without privileges; `truth` reads a scenario's ground truth
//! independently of the scanner's parsers; `verify` compares a scan report
//! with it; `etc` gives the scanner namespace its own hosts file and
//! resolver settings, so names resolve inside a lab and nowhere else.
//! `flood` is a hostile peer (malformed and forged packets at full rate),
//! and `bpf` runs the scanner's receive filter outside the kernel so the
//! simulation and the flood know what reaches the engine.
//! `bench` scores other scanners' output, `bench_record` holds a benchmark
//! run (JSON and Markdown) and `gates` checks one against limits or a
//! saved baseline. `kube_api` replays recorded Kubernetes API list
//! responses (no apiserver can be installed here). `daemons` runs real
//! Debian daemons in a lab, and `process` stops by pid, on drop, every
//! process a lab or a test starts.
pub mod bench;
pub mod bench_record;
pub mod bpf;
pub mod daemons;
pub mod etc;
pub mod flood;
pub mod gates;
pub mod kube_api;
pub mod netns;
pub mod process;
pub mod replay;
pub mod responder;
pub mod scenario;
pub mod sim;
pub mod truth;
pub mod verify;

pub use netns::{Lab, LabError};
pub use scenario::{Scenario, Truth};
