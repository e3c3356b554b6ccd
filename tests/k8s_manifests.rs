//! The Kubernetes manifests in deploy/kubernetes, parsed into the API's own
//! types (k8s-openapi) and checked for what matters: least privilege
//! (CAP_NET_RAW only, no privileged mode, read-only root, non-root), limits,
//! the Indexed Job's shard wiring, that every workload reads nodes and
//! Services from the API with a ServiceAccount whose ClusterRole grants
//! get/list on nodes and services and nothing else, the monitoring objects
//! (no k8s-openapi types: read as YAML, the fields relied on checked, the
//! alert rules through `promtool check rules`), and that every portsweep
//! command line in them is one the binary accepts (run with --dry-run).
mod common;

use std::process::Command;

use common::*;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, PersistentVolumeClaim, PodSpec, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
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
    // The API's nodes and Services, read with the rbac.yaml account: no
    // inventory ConfigMap, nothing to make by hand.
    assert_eq!(spec.service_account_name.as_deref(), Some("portsweep"));
    assert_ne!(spec.automount_service_account_token, Some(false));
    assert!(spec.volumes.iter().flatten().all(|v| v.config_map.is_none()), "no ConfigMap volume");
    for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
        let args = c.args.clone().unwrap_or_default();
        if args.first().map(String::as_str) == Some("audit") {
            assert_eq!(arg_after(&args, "--inventory"), "kube", "{}", c.name);
            assert_eq!(arg_after(&args, "--services"), "kube", "{}", c.name);
        }
    }
}

/// Runs the container's portsweep command line with --dry-run, `$(VAR)`
/// replaced from `env` as the kubelet does, the inventory replaced by a
/// fixture and the services dropped (no API here).
fn accepts(args: &[String], env: &[(&str, &str)]) {
    let expand = |x: &str| env.iter().fold(x.to_string(), |x, (k, v)| x.replace(&format!("$({k})"), v));
    let mut a: Vec<String> = Vec::new();
    let mut it = args.iter().map(|x| expand(x));
    while let Some(x) = it.next() {
        match x.as_str() {
            "--inventory" => {
                it.next();
                a.extend(["--inventory".into(), fixture("inventories/lab-cluster.ini").display().to_string()]);
            }
            "--services" | "--scan-report" => {
                it.next();
            }
            _ => a.push(x),
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
    // Metrics on the pod's (the node's) address, on the port named metrics.
    let pod_ip = env.iter().find(|e| e.name == "POD_IP").unwrap();
    assert_eq!(pod_ip.value_from.as_ref().and_then(|v| v.field_ref.as_ref()).unwrap().field_path, "status.podIP");
    let port = c.ports.as_ref().unwrap().iter().find(|p| p.name.as_deref() == Some("metrics")).expect("a metrics port");
    assert_eq!(arg_after(&args, "--metrics-addr"), format!("$(POD_IP):{}", port.container_port));
    let probe = c.readiness_probe.as_ref().and_then(|p| p.http_get.as_ref()).expect("readiness on /healthz");
    assert_eq!(probe.path.as_deref(), Some("/healthz"));
    accepts(&args, &[("POD_IP", "198.19.0.10"), ("NODE_NAME", "cp-1")]);
    accepts(&args, &[("POD_IP", "2001:2::a"), ("NODE_NAME", "cp-1")]);
}

#[test]
fn the_service_account_may_get_and_list_nodes_and_services_and_nothing_else() {
    let docs = documents("rbac.yaml");
    let sa: Vec<ServiceAccount> = of_kind(&docs, "ServiceAccount");
    assert_eq!(sa.len(), 1);
    assert_eq!((sa[0].metadata.name.as_deref(), sa[0].metadata.namespace.as_deref()), (Some("portsweep"), Some("portsweep")));
    let roles: Vec<ClusterRole> = of_kind(&docs, "ClusterRole");
    assert_eq!(roles.len(), 1);
    let rules = roles[0].rules.clone().unwrap();
    let mut granted: Vec<String> = Vec::new();
    for r in &rules {
        assert_eq!(r.api_groups.as_deref(), Some(&["".to_string()][..]), "the core group only");
        assert!(r.resource_names.is_none() && r.non_resource_urls.is_none());
        for res in r.resources.iter().flatten() {
            for verb in &r.verbs {
                granted.push(format!("{verb} {res}"));
            }
        }
    }
    granted.sort();
    assert_eq!(granted, ["get nodes", "get services", "list nodes", "list services"]);
    let bindings: Vec<ClusterRoleBinding> = of_kind(&docs, "ClusterRoleBinding");
    assert_eq!(bindings.len(), 1);
    let b = &bindings[0];
    assert_eq!((b.role_ref.kind.as_str(), b.role_ref.name.as_str()), ("ClusterRole", roles[0].metadata.name.as_deref().unwrap()));
    let subjects = b.subjects.clone().unwrap();
    assert_eq!(subjects.len(), 1);
    assert_eq!((subjects[0].kind.as_str(), subjects[0].name.as_str(), subjects[0].namespace.as_deref()), ("ServiceAccount", "portsweep", Some("portsweep")));
}

#[test]
fn monitoring_scrapes_the_daemonset_and_its_alert_rules_pass_promtool() {
    let ds: Vec<DaemonSet> = of_kind(&documents("daemonset.yaml"), "DaemonSet");
    let pod_labels = ds[0].spec.as_ref().unwrap().template.metadata.as_ref().unwrap().labels.clone().unwrap();
    let docs = documents("monitoring.yaml");
    let services: Vec<Service> = of_kind(&docs, "Service");
    assert_eq!(services.len(), 1);
    let svc = &services[0];
    let spec = svc.spec.as_ref().unwrap();
    assert!(spec.selector.as_ref().unwrap().iter().all(|(k, v)| pod_labels.get(k) == Some(v)), "the Service selects the DaemonSet's pods");
    let port = &spec.ports.as_ref().unwrap()[0];
    assert_eq!(port.name.as_deref(), Some("metrics"));
    assert_eq!(port.target_port, Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("metrics".into())));
    // The monitoring CRDs have no k8s-openapi types: the fields relied on.
    let monitor = docs.iter().find(|d| d["kind"].as_str() == Some("ServiceMonitor")).expect("a ServiceMonitor");
    assert_eq!(monitor["apiVersion"].as_str(), Some("monitoring.coreos.com/v1"));
    let svc_labels = svc.metadata.labels.clone().unwrap();
    let wanted = monitor["spec"]["selector"]["matchLabels"].as_mapping().unwrap();
    assert!(wanted.iter().all(|(k, v)| svc_labels.get(k.as_str().unwrap()).map(String::as_str) == v.as_str()), "the ServiceMonitor selects the Service");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"].as_str(), Some("metrics"));
    assert_eq!(monitor["spec"]["endpoints"][0]["path"].as_str(), Some("/metrics"));
    assert_eq!(monitor["spec"]["namespaceSelector"]["matchNames"][0].as_str(), svc.metadata.namespace.as_deref());
    let rule = docs.iter().find(|d| d["kind"].as_str() == Some("PrometheusRule")).expect("a PrometheusRule");
    assert_eq!(rule["apiVersion"].as_str(), Some("monitoring.coreos.com/v1"));
    let alerts: Vec<(String, String)> = rule["spec"]["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap().iter())
        .map(|r| (r["alert"].as_str().unwrap().to_string(), r["expr"].as_str().unwrap().to_string()))
        .collect();
    let expr = |name: &str| alerts.iter().find(|a| a.0 == name).map(|a| a.1.clone()).unwrap_or_else(|| panic!("alert {name}"));
    assert!(expr("PortsweepCriticalFinding").contains(r#"portsweep_findings{severity="critical"}"#));
    assert!(expr("PortsweepErrorFinding").contains(r#"portsweep_findings{severity="error"}"#));
    assert!(expr("PortsweepAuditStale").contains("portsweep_audit_last_success_timestamp_seconds"));
    // promtool reads the rule groups as Prometheus would load them.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portsweep-rules.yaml");
    std::fs::write(&file, serde_yaml_ng::to_string(&rule["spec"]).unwrap()).unwrap();
    let out = Command::new("promtool").args(["check", "rules"]).arg(&file).output().expect("promtool (Debian package prometheus)");
    assert!(out.status.success(), "promtool check rules: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("SUCCESS: {} rules found", alerts.len())), "{}", String::from_utf8_lossy(&out.stdout));
    // And they fire when they should: promtool's rule unit tests on series
    // shaped as portsweep exports them (a critical finding at once, an
    // error finding after 15 minutes, a success 3 hours old is stale).
    std::fs::write(dir.path().join("alerts-test.yaml"), ALERT_TESTS).unwrap();
    let out = Command::new("promtool").args(["test", "rules"]).arg(dir.path().join("alerts-test.yaml")).output().unwrap();
    assert!(out.status.success(), "promtool test rules: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

const ALERT_TESTS: &str = r#"rule_files: [portsweep-rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'portsweep_findings{node="cp-1",kind="insecure",severity="critical",component="etcd",protocol="tcp",port="2379",instance="a",job="portsweep-node-audit"}'
        values: '1x300'
      - series: 'portsweep_findings{node="w-1",kind="missing",severity="error",component="kubelet",protocol="tcp",port="10250",instance="a",job="portsweep-node-audit"}'
        values: '1x300'
      - series: 'portsweep_audit_last_success_timestamp_seconds{instance="a",job="portsweep-node-audit",vantage_node="cp-1"}'
        values: '0x300'
      - series: 'portsweep_audits_total{instance="a",job="portsweep-node-audit",vantage_node="cp-1"}'
        values: '1x300'
    alert_rule_test:
      - eval_time: 1m
        alertname: PortsweepCriticalFinding
        exp_alerts:
          - exp_labels: {severity: critical, node: cp-1, kind: insecure, component: etcd, protocol: tcp, port: "2379"}
            exp_annotations:
              summary: "portsweep: insecure etcd on cp-1 tcp/2379"
              description: "The last audit found 1 critical insecure finding(s) on node cp-1: etcd on tcp/2379. The audit report (portsweep audit --format json) says what and how to fix it."
      - eval_time: 10m
        alertname: PortsweepErrorFinding
        exp_alerts: []
      - eval_time: 20m
        alertname: PortsweepErrorFinding
        exp_alerts:
          - exp_labels: {severity: warning, node: w-1, kind: missing, component: kubelet, protocol: tcp, port: "10250"}
            exp_annotations:
              summary: "portsweep: missing kubelet on w-1 tcp/10250"
              description: "The last audit found 1 missing finding(s) of severity error on node w-1 (kubelet, tcp/10250)."
      - eval_time: 2h
        alertname: PortsweepAuditStale
        exp_alerts: []
      - eval_time: 4h
        alertname: PortsweepAuditStale
        exp_alerts:
          - exp_labels: {severity: warning, instance: a, job: portsweep-node-audit, vantage_node: cp-1}
            exp_annotations:
              summary: "portsweep: no complete audit from cp-1 for 4h 0m 0s"
              description: "The last audit with a complete scan from a finished 4h 0m 0s ago (every 1h expected). portsweep_audit_errors_total says why."
      - eval_time: 4h
        alertname: PortsweepAuditNeverCompleted
        exp_alerts: []
"#;

/// `/metrics` maps the nodes' weak ports to anyone who reaches it: where an
/// operator deploys it (the DaemonSet's and monitoring's headers) and the
/// README say so, and how to restrict it.
#[test]
fn the_unauthenticated_metrics_port_is_documented_with_its_remedies() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = |name: &str| -> String {
        let text = std::fs::read_to_string(dir.join("deploy/kubernetes").join(name)).unwrap();
        text.lines().take_while(|l| l.starts_with('#')).collect::<Vec<_>>().join(" ")
    };
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap().split_whitespace().collect::<Vec<_>>().join(" ");
    for (what, text) in [("daemonset.yaml's header", header("daemonset.yaml")), ("README", readme)] {
        for needle in ["unauthenticated", "NetworkPolicy", "hostNetwork", "kube-rbac-proxy", "127.0.0.1"] {
            assert!(text.contains(needle), "{what} does not say {needle:?}");
        }
    }
    let monitoring = header("monitoring.yaml");
    for needle in ["unauthenticated", "NetworkPolicy", "daemonset.yaml"] {
        assert!(monitoring.contains(needle), "monitoring.yaml's header does not say {needle:?}");
    }
}
