//! Nodes and Services read from the Kubernetes API (`--inventory kube`,
//! `--services kube`), with the kube crate.
//!
//! A hand-made inventory goes stale as soon as a node joins; the API does
//! not. This module only fetches: it lists `nodes` and `services` (all
//! namespaces) page by page and hands the k8s-openapi objects to the same
//! conversion the kubectl files go through ([`super::kubectl`]), so the two
//! sources cannot disagree.
//!
//! Where the API is: `--kubeconfig FILE`, else `KUBECONFIG`, else
//! `~/.kube/config`, else the pod's service account (in-cluster), as
//! kubectl looks; `--context` picks a kubeconfig context. Every request is
//! bounded by `--kube-timeout` (connect, read and the whole request), a
//! list by [`MAX_PAGES`] pages. Errors say what is wrong in the words an
//! operator acts on: the API cannot be reached, the credentials were
//! refused (401), or the account lacks a verb on a resource (403, naming
//! both). The audit itself is synchronous: a small current-thread runtime
//! lives only as long as a [`KubeApi`].

use super::kubectl::{inventory_of, services_of};
use super::{Inventory, InventoryError, NodePortService, MAX_NODES};
use ::kube::api::{Api, ListParams, ObjectList};
use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::{Client, Config};
use k8s_openapi::api::core::v1::{Node, Service};
use std::path::PathBuf;
use std::time::Duration;

/// Objects asked for per request: kubectl's own chunk size.
pub const PAGE_SIZE: u32 = 500;
/// Most pages of one list: a server that keeps sending continue tokens is
/// refused rather than followed forever.
pub const MAX_PAGES: usize = (MAX_NODES as usize).div_ceil(PAGE_SIZE as usize) + 1;

/// Where the API is and how long to wait for it.
#[derive(Debug, Clone, Default)]
pub struct KubeAccess {
    /// A kubeconfig file (`--kubeconfig`); else `KUBECONFIG`,
    /// `~/.kube/config`, then the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// A kubeconfig context (`--context`); else the current one.
    pub context: Option<String>,
    /// Bound of connecting, reading, and of each whole request.
    pub timeout: Duration,
}

/// Errors talking to the API. Each names the server and what to do.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("no Kubernetes API configuration: {0}")]
    Config(String),
    #[error("cannot reach the Kubernetes API at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the Kubernetes API at {url} did not answer within {} (--kube-timeout) while listing {resource}", humantime::format_duration(*timeout))]
    Timeout { url: String, resource: &'static str, timeout: Duration },
    #[error("the Kubernetes API at {url} refused the credentials (401 Unauthorized) while listing {resource}: the token or client certificate of the kubeconfig or service account is not valid there ({message})")]
    Unauthorized { url: String, resource: &'static str, message: String },
    #[error("the Kubernetes API at {url} forbids listing {resource} (403 Forbidden): the account needs the verb \"list\" on the resource \"{resource}\" at the cluster scope (deploy/kubernetes/rbac.yaml grants get and list on nodes and services); the server said: {message}")]
    Forbidden { url: String, resource: &'static str, message: String },
    #[error("the Kubernetes API at {url} answered {code} while listing {resource}: {message}")]
    Api { url: String, resource: &'static str, code: u16, message: String },
    #[error("the Kubernetes API at {url} sent more than {MAX_PAGES} pages of {resource}: refused")]
    TooManyPages { url: String, resource: &'static str },
    #[error("the Kubernetes API at {url}: {reason}")]
    Other { url: String, reason: String },
}

/// A connected client, with the runtime it runs on.
pub struct KubeApi {
    runtime: tokio::runtime::Runtime,
    client: Client,
    url: String,
    timeout: Duration,
}

/// The error and its causes, one sentence (rustls and hyper nest theirs).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

impl KubeApi {
    /// Finds the API (see the module doc) and builds a client; nothing is
    /// sent yet.
    pub fn connect(access: &KubeAccess) -> Result<KubeApi, KubeError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| KubeError::Config(format!("cannot start the client's runtime: {e}")))?;
        let options = KubeConfigOptions { context: access.context.clone(), ..Default::default() };
        let mut config = runtime.block_on(async {
            match (&access.kubeconfig, &access.context) {
                (Some(path), _) => {
                    let kubeconfig = Kubeconfig::read_from(path).map_err(|e| KubeError::Config(format!("--kubeconfig {}: {}", path.display(), chain(&e))))?;
                    Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| KubeError::Config(format!("--kubeconfig {}: {}", path.display(), chain(&e))))
                }
                (None, Some(context)) => Config::from_kubeconfig(&options).await.map_err(|e| KubeError::Config(format!("--context {context}: {}", chain(&e)))),
                (None, None) => Config::infer().await.map_err(|e| {
                    KubeError::Config(format!("not in a pod with a service account, and no kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config): {}", chain(&e)))
                }),
            }
        })?;
        config.connect_timeout = Some(access.timeout);
        config.read_timeout = Some(access.timeout);
        config.write_timeout = Some(access.timeout);
        let url = config.cluster_url.to_string();
        let url = url.trim_end_matches('/').to_string();
        let client = runtime
            .block_on(async { Client::try_from(config) })
            .map_err(|e| KubeError::Other { url: url.clone(), reason: format!("cannot build a client: {}", chain(&e)) })?;
        Ok(KubeApi { runtime, client, url, timeout: access.timeout })
    }

    /// The API server's URL, as errors and the report name it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every Node, as an inventory (one node per InternalIP).
    pub fn nodes(&self) -> Result<Inventory, InventoryError> {
        let items: Vec<Node> = self.list(Api::all(self.client.clone()), "nodes")?;
        inventory_of(&items, &format!("{} (nodes)", self.url), &|_| None)
    }

    /// Every NodePort of every Service of every namespace.
    pub fn services(&self) -> Result<Vec<NodePortService>, InventoryError> {
        let items: Vec<Service> = self.list(Api::all(self.client.clone()), "services")?;
        services_of(&items, &format!("{} (services)", self.url), &|_| None)
    }

    /// Lists every object of `api`, page by page (limit + continue).
    fn list<K>(&self, api: Api<K>, resource: &'static str) -> Result<Vec<K>, InventoryError>
    where
        K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut params = ListParams::default().limit(PAGE_SIZE);
            if let Some(t) = &token {
                params = params.continue_token(t);
            }
            let page: ObjectList<K> = self
                .runtime
                .block_on(async { tokio::time::timeout(self.timeout, api.list(&params)).await })
                .map_err(|_| KubeError::Timeout { url: self.url.clone(), resource, timeout: self.timeout })?
                .map_err(|e| self.error(resource, e))?;
            items.extend(page.items);
            if items.len() as u64 > MAX_NODES * 16 {
                return Err(InventoryError::at(&format!("{} ({resource})", self.url), None, format!("more than {} {resource}: refused", MAX_NODES * 16)));
            }
            match page.metadata.continue_.filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next),
                None => return Ok(items),
            }
        }
        Err(KubeError::TooManyPages { url: self.url.clone(), resource }.into())
    }

    fn error(&self, resource: &'static str, e: ::kube::Error) -> KubeError {
        let url = self.url.clone();
        match e {
            ::kube::Error::Api(status) => {
                let message = if status.message.is_empty() { status.reason.clone() } else { status.message.clone() };
                match status.code {
                    401 => KubeError::Unauthorized { url, resource, message },
                    403 => KubeError::Forbidden { url, resource, message },
                    code => KubeError::Api { url, resource, code, message },
                }
            }
            e @ (::kube::Error::HyperError(_) | ::kube::Error::Service(_) | ::kube::Error::RustlsTls(_)) => {
                // A read timeout inside the client is a timeout too.
                let reason = chain(&e);
                if reason.contains("timed out") || reason.contains("deadline has elapsed") {
                    KubeError::Timeout { url, resource, timeout: self.timeout }
                } else {
                    KubeError::Unreachable { url, reason }
                }
            }
            other => KubeError::Other { url, reason: chain(&other) },
        }
    }
}
