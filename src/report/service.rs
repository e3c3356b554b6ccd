//! What answered on an open port, as reports carry it (`"service"`). The
//! type lives with the reports because it is part of their JSON contract;
//! `crate::identify` fills it in, the audit reads it.
use serde::{Deserialize, Serialize};

use crate::words::word_enum;

word_enum!(
    /// How sure the identification is: `certain` when the protocol itself
    /// said so (etcd's `/version` keys, a RESP reply), `likely` when a shape
    /// fits but proves nothing alone (a self-signed `localhost@` cert on
    /// 10259), `guess` when little more than the port speaks.
    Confidence, "confidence", {
        Guess => "guess",
        Likely => "likely",
        Certain => "certain",
    }
);

word_enum!(
    /// Whether the service let an anonymous client in: `none` (it did),
    /// `required` (it refused), `unknown` (the probes could not tell).
    Auth, "auth", {
        None => "none",
        Required => "required",
        Unknown => "unknown",
    }
);

word_enum!(
    /// What the TLS server did about a client certificate: `required` (it
    /// refused to go on without one, during or right after the handshake),
    /// `requested` (it asked, then served the request without one), `none`
    /// (it never asked).
    ClientCert, "client certificate", {
        Required => "required",
        Requested => "requested",
        None => "none",
    }
);

/// The TLS side of a service: what its certificate says (read, never
/// trusted) and what it asked of the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<String>,
    /// RFC 3339, UTC.
    pub not_after: String,
    pub client_cert: ClientCert,
    /// The distinguished names of the CAs its CertificateRequest named.
    pub client_cas: Vec<String>,
}

/// One identified service (README: "Service identification").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// kube-apiserver, etcd, kubelet, …, or the fallbacks http, tls, unknown.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub confidence: Confidence,
    /// What was seen, in a few words (`GET /version: {"etcdserver":…}`).
    pub evidence: String,
    pub auth: Auth,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
}

impl Service {
    /// A port that answered but named nothing: `unknown`, a guess, its
    /// authentication unknown, with what was seen.
    pub fn unknown(evidence: impl Into<String>) -> Service {
        Service { name: "unknown".into(), product: None, version: None, confidence: Confidence::Guess, evidence: evidence.into(), auth: Auth::Unknown, tls: None }
    }

    /// `etcd 3.4.23 (certain, auth none)`: the service in words, for tables.
    pub fn label(&self) -> String {
        let mut s = self.name.clone();
        if let Some(p) = self.product.as_ref().filter(|p| **p != self.name) {
            s.push_str(&format!(" [{p}]"));
        }
        if let Some(v) = &self.version {
            s.push_str(&format!(" {v}"));
        }
        s.push_str(&format!(" ({}, auth {}", self.confidence, self.auth));
        if let Some(t) = &self.tls {
            s.push_str(&format!(", tls client cert {}", t.client_cert));
        }
        s.push(')');
        s
    }
}
