//! `portsweep plan`: the effective port plan for a cluster's options, and
//! the plan loading the audit shares.
use anyhow::Context;
use portsweep::plan::{ClusterOptions, EffectivePlan, Plan};

use crate::cli::{ClusterArgs, PlanArgs, PlanFormat};
use crate::Failure;

/// The built-in plan, merged with the user's plan file if given, for the
/// cluster options on the command line.
pub fn effective(cluster: &ClusterArgs) -> Result<EffectivePlan, Failure> {
    let mut plan = Plan::builtin();
    if let Some(path) = &cluster.plan {
        plan = plan.merge_user(Plan::from_file(path).map_err(Failure::input)?);
    }
    let options = ClusterOptions { cni: cluster.cni, flannel_backend: cluster.flannel_backend, lb: cluster.lb, addons: cluster.addons.iter().copied().collect() };
    Ok(plan.effective(&options))
}

/// The plan a saved audit was judged with: the built-in plan (merged with
/// `plan_file` when the audit used one) for the cluster options the report
/// recorded (`file` names the report in errors).
pub fn recorded(file: &str, options: &str, plan_file: Option<&std::path::Path>) -> Result<EffectivePlan, Failure> {
    let parsed: ClusterOptions = options.parse().map_err(|e| Failure::input(anyhow::anyhow!("{file}: options {options:?}: {e}")))?;
    let mut plan = Plan::builtin();
    if let Some(p) = plan_file {
        plan = plan.merge_user(Plan::from_file(p).map_err(Failure::input)?);
    }
    Ok(plan.effective(&parsed))
}

pub fn run(args: PlanArgs) -> Result<u8, Failure> {
    let plan = effective(&args.cluster)?;
    let text = match args.format {
        PlanFormat::Table => plan.to_table(),
        PlanFormat::Json => serde_json::to_string_pretty(&plan).context("rendering the plan as JSON").map_err(Failure::runtime)? + "\n",
        PlanFormat::Yaml => serde_yaml_ng::to_string(&plan).context("rendering the plan as YAML").map_err(Failure::runtime)?,
    };
    print!("{text}");
    Ok(0)
}
