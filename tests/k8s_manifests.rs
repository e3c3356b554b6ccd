//! The Kubernetes manifests in deploy/kubernetes, parsed into the API's own
//! types (k8s-openapi) and checked for what matters: least privilege
//! (CAP_NET_RAW only, no privileged mode, read-only root, non-root), limits,
//! the Indexed Job's shard wiring, and that every portsweep command line in
//! them is one the binary accepts (run with --dry-run).
mod common;

use std::process::Command;

use common::*;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, PersistentVolumeClaim, PodSpec};
use serde::Deserialize;

fn documents(name: &str) -> Vec<serde_yaml_ng::Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text).map(|d| serde_yaml_ng::Value::deserialize(d).unwrap()).collect()
}

fn of_kind<T: serde::de::DeserializeOwned>(docs: &[serde_yaml_ng::Value], kind: &str) -> Vec<T> {
    docs.iter().filter(|d| d["kind"].as_str() == Some(kind)).map(|d| serde_yaml_ng::from_value(d.clone()).unwrap()).collect()
}

/// Least privilege for a container that sends raw packets (`raw`) or not.
fn check_container(c: &Container, raw: bool) {
    let sc = c.security_context.as_ref().expect("securityContext");
    assert_ne!(sc.privileged, Some(true), "{}: privileged", c.name);
    assert_eq!(sc.read_only_root_filesystem, Some(true), "{}", c.name);
    let caps = sc.capabilities.as_ref().expect("capabilities");
    assert_eq!(caps.drop.as_deref(), Some(&["ALL".to_string()][..]), "{}", c.name);
    let add: Vec<String> = caps.add.clone().unwrap_or_default();
    let want: Vec<String> = if raw { vec!["NET_RAW".into()] } else { vec![] };
    assert_eq!(add, want, "{}", c.name);
    let limits = c.resources.as_ref().and_then(|r| r.limits.as_ref()).expect("limits");
    assert!(limits.contains_key("cpu") && limits.contains_key("memory"), "{}", c.name);
}

fn check_pod(spec: &PodSpec) {
    let sc = spec.security_context.as_ref().expect("pod securityContext");
    assert_eq!(sc.run_as_non_root, Some(true));
    assert!(sc.run_as_user.is_some_and(|u| u != 0));
}

/// Runs the container's portsweep command line with --dry-run, the
/// inventory replaced by a fixture and the services file dropped.
fn accepts(args: &[String], env: &[(&str, &str)]) {
    let mut a: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(x) = it.next() {
        match x.as_str() {
            "--inventory" => {
                it.next();
                a.extend(["--inventory".into(), fixture("inventories/lab-cluster.ini").display().to_string()]);
            }
            "--services" | "--scan-report" => {
                it.next();
            }
            _ => a.push(x.clone()),
        }
    }
    a.push("--dry-run".into());
    let out = Command::new(bin()).args(&a).envs(env.iter().copied()).output().unwrap();
    assert!(out.status.success(), "portsweep {a:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn arg_after<'a>(args: &'a [String], flag: &str) -> &'a str {
    args.iter().position(|a| a == flag).map(|i| args[i + 1].as_str()).unwrap_or_else(|| panic!("{flag} missing in {args:?}"))
}

#[test]
fn indexed_audit_job_shards_with_least_privilege() {
    let docs = documents("audit-job.yaml");
    assert_eq!(of_kind::<PersistentVolumeClaim>(&docs, "PersistentVolumeClaim").len(), 1);
    let jobs: Vec<Job> = of_kind(&docs, "Job");
    assert_eq!(jobs.len(), 1);
    let spec = jobs[0].spec.as_ref().unwrap();
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
    let pod = spec.template.spec.as_ref().unwrap();
    check_pod(pod);
    assert_eq!(pod.host_network, Some(true));
    let c = &pod.containers[0];
    check_container(c, true);
    let args = c.args.clone().unwrap();
    let n: i32 = arg_after(&args, "--shard").strip_prefix("job/").expect("--shard job/N").parse().unwrap();
    assert_eq!((spec.completions, spec.parallelism), (Some(n), Some(n)), "completions and parallelism follow --shard job/N");
    assert!(arg_after(&args, "--seed").parse::<u64>().is_ok(), "shards need one seed");
    assert!(arg_after(&args, "--output").contains("$(JOB_COMPLETION_INDEX)"));
    let env = c.env.as_ref().unwrap();
    let idx = env.iter().find(|e| e.name == "JOB_COMPLETION_INDEX").expect("index env");
    let field = idx.value_from.as_ref().and_then(|v| v.field_ref.as_ref()).unwrap();
    assert_eq!(field.field_path, "metadata.annotations['batch.kubernetes.io/job-completion-index']");
    accepts(&args, &[("JOB_COMPLETION_INDEX", "0")]);
    // The merge step reads exactly the N shard files and judges the merge.
    let merge: Vec<Job> = of_kind(&documents("audit-merge-job.yaml"), "Job");
    let pod = merge[0].spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    check_pod(pod);
    let m = pod.init_containers.as_ref().unwrap()[0].args.clone().unwrap();
    let shard_files: Vec<&String> = m.iter().filter(|a| a.starts_with("/reports/shard-")).collect();
    assert_eq!(shard_files, (0..n).map(|i| format!("/reports/shard-{i}.json")).collect::<Vec<_>>().iter().collect::<Vec<_>>());
    let audit = pod.containers[0].args.clone().unwrap();
    assert_eq!(arg_after(&m, "--output"), arg_after(&audit, "--scan-report"));
    check_container(&pod.containers[0], false);
    check_container(&pod.init_containers.as_ref().unwrap()[0], false);
    accepts(&audit, &[]);
}

#[test]
fn node_daemonset_runs_on_the_host_network_with_net_raw_only() {
    let ds: Vec<DaemonSet> = of_kind(&documents("daemonset.yaml"), "DaemonSet");
    let pod = ds[0].spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    check_pod(pod);
    assert_eq!(pod.host_network, Some(true));
    let c = &pod.containers[0];
    check_container(c, true);
    let args = c.args.clone().unwrap();
    assert_eq!(arg_after(&args, "--from"), "node");
    assert_eq!(arg_after(&args, "--vantage-node"), "$(NODE_NAME)");
    assert!(arg_after(&args, "--rate").parse::<u64>().is_ok_and(|r| r <= 20_000), "a per-node rate limit");
    let env = c.env.as_ref().unwrap();
    let node = env.iter().find(|e| e.name == "NODE_NAME").unwrap();
    assert_eq!(node.value_from.as_ref().and_then(|v| v.field_ref.as_ref()).unwrap().field_path, "spec.nodeName");
    accepts(&args, &[]);
}
