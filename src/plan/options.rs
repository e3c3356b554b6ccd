//! Cluster options: which CNI, load balancer and add-ons a cluster runs.
//!
//! A plan entry can carry a `when` condition over these options; only the
//! entries whose condition holds belong to the effective plan. The option
//! types parse from CLI values (`FromStr`) and from plan files (serde), with
//! the same spelling in both places.

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A bad cluster option value on the command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error(transparent)]
    Unknown(#[from] crate::words::UnknownWord),
    #[error("cluster option \"{0}\" is not key=value (keys: cni, flannel-backend, lb, addons)")]
    NotKeyValue(String),
    #[error("unknown cluster option \"{0}\" (keys: cni, flannel-backend, lb, addons)")]
    UnknownKey(String),
}

use crate::words::word_enum;

word_enum!(
    /// The CNI plugin. Default: flannel (the simplest and kubeasz's classic choice).
    Cni, "CNI", {
        Flannel => "flannel",
        Calico => "calico",
        Cilium => "cilium",
    }
);

word_enum!(
    /// flannel's backend. Default: vxlan (flannel's own default, 8472/udp).
    FlannelBackend, "flannel backend", {
        Vxlan => "vxlan",
        Udp => "udp",
    }
);

word_enum!(
    /// The load balancer in front of kube-apiserver. Default: none.
    LoadBalancer, "load balancer", {
        KubeVip => "kube-vip",
        /// No in-cluster load balancer (an external one, or a single API server).
        NoLb => "none",
    }
);

word_enum!(
    /// Optional add-ons whose ports belong to the plan only when installed.
    Addon, "add-on", {
        Ingress => "ingress",
        Kuboard => "kuboard",
        Grafana => "grafana",
        Redis => "redis",
    }
);

#[allow(clippy::derivable_impls)] // the enum comes from a macro
impl Default for Cni {
    fn default() -> Self {
        Cni::Flannel
    }
}

#[allow(clippy::derivable_impls)] // the enum comes from a macro
impl Default for FlannelBackend {
    fn default() -> Self {
        FlannelBackend::Vxlan
    }
}

#[allow(clippy::derivable_impls)] // the enum comes from a macro
impl Default for LoadBalancer {
    fn default() -> Self {
        LoadBalancer::NoLb
    }
}

/// Parses an add-on list as given on the command line: `ingress,kuboard`
/// (`+` also separates, so the list fits inside `--options`); `none` or an
/// empty string is the empty set.
pub fn parse_addons(s: &str) -> Result<BTreeSet<Addon>, OptionsError> {
    let mut out = BTreeSet::new();
    for word in s.split([',', '+']).map(str::trim).filter(|w| !w.is_empty()) {
        if word.eq_ignore_ascii_case("none") {
            continue;
        }
        out.insert(word.parse()?);
    }
    Ok(out)
}

/// What the cluster runs. `Default` is flannel/vxlan, no load balancer, no
/// add-ons: the smallest cluster a kubeasz install produces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterOptions {
    pub cni: Cni,
    pub flannel_backend: FlannelBackend,
    pub lb: LoadBalancer,
    pub addons: BTreeSet<Addon>,
}

/// `cni=calico,lb=kube-vip,addons=ingress+grafana` (or `addons=ingress,grafana`
/// as the last key); keys may be omitted (defaults apply) and the key
/// `flannel-backend` may be spelled `flannel_backend` or `backend`.
impl FromStr for ClusterOptions {
    type Err = OptionsError;
    fn from_str(s: &str) -> Result<Self, OptionsError> {
        let mut opts = ClusterOptions::default();
        let mut in_addons = false;
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                // `addons=ingress,kuboard`: the comma also separates add-ons.
                if in_addons {
                    opts.addons.extend(parse_addons(item)?);
                    continue;
                }
                return Err(OptionsError::NotKeyValue(item.to_string()));
            };
            let key = key.trim().to_ascii_lowercase();
            in_addons = key == "addons" || key == "addon";
            match key.as_str() {
                "cni" => opts.cni = value.parse()?,
                "flannel-backend" | "flannel_backend" | "backend" => {
                    opts.flannel_backend = value.parse()?
                }
                "lb" => opts.lb = value.parse()?,
                "addons" | "addon" => opts.addons = parse_addons(value)?,
                other => return Err(OptionsError::UnknownKey(other.to_string())),
            }
        }
        Ok(opts)
    }
}

impl fmt::Display for ClusterOptions {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "cni={},flannel-backend={},lb={},addons=",
            self.cni, self.flannel_backend, self.lb
        )?;
        if self.addons.is_empty() {
            return f.write_str("none");
        }
        for (i, a) in self.addons.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            f.write_str(a.as_str())?;
        }
        Ok(())
    }
}

/// The `when:` of a plan entry: every field that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Condition {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cni: Option<Cni>,
    /// Holds only when the CNI is flannel and its backend is this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flannel_backend: Option<FlannelBackend>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lb: Option<LoadBalancer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addon: Option<Addon>,
}

impl Condition {
    pub fn holds(&self, opts: &ClusterOptions) -> bool {
        // map_or(true, ..) rather than is_none_or: rust-version is 1.80.
        self.cni.is_none_or(|c| c == opts.cni)
            && self.flannel_backend.is_none_or(|b| {
                opts.cni == Cni::Flannel && b == opts.flannel_backend
            })
            && self.lb.is_none_or(|l| l == opts.lb)
            && self.addon.is_none_or(|a| opts.addons.contains(&a))
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(c) = self.cni {
            parts.push(format!("cni={c}"));
        }
        if let Some(b) = self.flannel_backend {
            parts.push(format!("flannel_backend={b}"));
        }
        if let Some(l) = self.lb {
            parts.push(format!("lb={l}"));
        }
        if let Some(a) = self.addon {
            parts.push(format!("addon={a}"));
        }
        f.write_str(&parts.join(","))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    cni: Option<Cni>,
    flannel_backend: Option<FlannelBackend>,
    lb: Option<LoadBalancer>,
    addon: Option<Addon>,
}

struct ConditionVisitor;

impl<'de> Visitor<'de> for ConditionVisitor {
    type Value = Condition;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of cni, flannel_backend, lb, addon")
    }

    // The cross-field check runs inside the visitor so that the error carries
    // the position of the `when:` map.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Condition, A::Error> {
        let raw = RawCondition::deserialize(de::value::MapAccessDeserializer::new(map))?;
        if let (Some(cni), Some(_)) = (raw.cni, raw.flannel_backend) {
            if cni != Cni::Flannel {
                return Err(de::Error::custom(format!(
                    "flannel_backend can only hold with cni: flannel, not cni: {cni}"
                )));
            }
        }
        Ok(Condition {
            cni: raw.cni,
            flannel_backend: raw.flannel_backend,
            lb: raw.lb,
            addon: raw.addon,
        })
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ConditionVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_options_parse_and_display() {
        let o: ClusterOptions = "cni=calico, lb=kube-vip ,addons=ingress+grafana"
            .parse()
            .unwrap();
        assert_eq!(o.cni, Cni::Calico);
        assert_eq!(o.flannel_backend, FlannelBackend::Vxlan);
        assert_eq!(o.lb, LoadBalancer::KubeVip);
        assert_eq!(
            o.addons.iter().copied().collect::<Vec<_>>(),
            vec![Addon::Ingress, Addon::Grafana]
        );
        assert_eq!(
            o.to_string(),
            "cni=calico,flannel-backend=vxlan,lb=kube-vip,addons=ingress+grafana"
        );
        assert_eq!(o.to_string().parse::<ClusterOptions>().unwrap(), o);
        assert_eq!(
            "".parse::<ClusterOptions>().unwrap().to_string(),
            "cni=flannel,flannel-backend=vxlan,lb=none,addons=none"
        );
        assert_eq!(
            "backend=UDP"
                .parse::<ClusterOptions>()
                .unwrap()
                .flannel_backend,
            FlannelBackend::Udp
        );
    }

    #[test]
    fn cluster_option_errors() {
        assert_eq!(
            "cni=weave"
                .parse::<ClusterOptions>()
                .unwrap_err()
                .to_string(),
            "unknown CNI \"weave\" (expected flannel, calico or cilium)"
        );
        assert_eq!(
            "calico".parse::<ClusterOptions>().unwrap_err().to_string(),
            "cluster option \"calico\" is not key=value (keys: cni, flannel-backend, lb, addons)"
        );
        assert_eq!(
            "cni=calico,ingress"
                .parse::<ClusterOptions>()
                .unwrap_err()
                .to_string(),
            "cluster option \"ingress\" is not key=value (keys: cni, flannel-backend, lb, addons)"
        );
        assert_eq!(
            "proxy=ipvs"
                .parse::<ClusterOptions>()
                .unwrap_err()
                .to_string(),
            "unknown cluster option \"proxy\" (keys: cni, flannel-backend, lb, addons)"
        );
        assert_eq!(
            parse_addons("ingress,prometheus").unwrap_err().to_string(),
            "unknown add-on \"prometheus\" (expected ingress, kuboard, grafana or redis)"
        );
        assert!(parse_addons("none").unwrap().is_empty());
        assert_eq!(
            "kube-vip".parse::<LoadBalancer>(),
            Ok(LoadBalancer::KubeVip)
        );
        assert_eq!("none".parse::<LoadBalancer>(), Ok(LoadBalancer::NoLb));
    }

    #[test]
    fn condition_holds() {
        let flannel_udp = ClusterOptions {
            flannel_backend: FlannelBackend::Udp,
            ..Default::default()
        };
        let backend_udp = Condition {
            flannel_backend: Some(FlannelBackend::Udp),
            ..Default::default()
        };
        assert!(backend_udp.holds(&flannel_udp));
        assert!(!backend_udp.holds(&ClusterOptions::default()));
        // A flannel backend condition never holds under another CNI, even if
        // the (unused) backend option matches.
        let calico_udp = ClusterOptions {
            cni: Cni::Calico,
            ..flannel_udp.clone()
        };
        assert!(!backend_udp.holds(&calico_udp));
        assert!(Condition::default().holds(&calico_udp));
        let ingress = Condition {
            addon: Some(Addon::Ingress),
            ..Default::default()
        };
        assert!(!ingress.holds(&ClusterOptions::default()));
        assert!(ingress.holds(&"addons=redis,ingress".parse().unwrap()));
        assert!(!ingress.holds(&"addons=redis+grafana".parse().unwrap()));
    }
}
