//! Plans (`--plan FILE`): parsed, merged over the built-in plan, and made
//! effective under one of three cluster option sets (the first byte's).
#![no_main]
use libfuzzer_sys::fuzz_target;
use portsweep::plan::{ClusterOptions, Plan};

const OPTIONS: [&str; 3] = ["cni=flannel,flannel-backend=vxlan,lb=none", "cni=calico,lb=kube-vip,addons=ingress,kuboard,grafana,redis", "cni=cilium,lb=none,addons=ingress"];

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let Ok(plan) = Plan::from_str(text, "fuzz") else { return };
    let options: ClusterOptions = OPTIONS[which as usize % 3].parse().expect("options");
    let _ = plan.effective(&options).to_table();
    let _ = Plan::builtin().merge_user(plan).effective(&options);
});
