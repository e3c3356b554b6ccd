//! The TLS side of identification, with rustls: a handshake that reads the
//! server's chain and never trusts it, records whether the server asked for
//! a client certificate and which CAs it named (a resolver that keeps the
//! CertificateRequest's names and sends no certificate), then one request
//! over the session and its answer — under TLS 1.3 a server that requires a
//! client certificate finishes the handshake and refuses only after it, so
//! nothing is concluded before that read.
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{AlertDescription, ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

use super::conn::{Budget, End};
use super::http::Request;
use crate::report::{ClientCert, TlsInfo};

/// Accepts any chain: the stage reads certificates, it does not trust them,
/// and it sends nothing that a forged server could misuse.
#[derive(Debug)]
struct ReadOnly(Vec<SignatureScheme>);

impl ServerCertVerifier for ReadOnly {
    fn verify_server_cert(&self, _: &CertificateDer<'_>, _: &[CertificateDer<'_>], _: &ServerName<'_>, _: &[u8], _: UnixTime) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(&self, _: &[u8], _: &CertificateDer<'_>, _: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(&self, _: &[u8], _: &CertificateDer<'_>, _: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.clone()
    }
}

/// Records the CertificateRequest (if any) and offers no certificate.
#[derive(Debug, Default)]
struct RecordRequest(Mutex<Option<Vec<String>>>);

impl ResolvesClientCert for RecordRequest {
    fn resolve(&self, hints: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let names = hints.iter().map(|h| distinguished_name(h)).collect();
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(names);
        None
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// `CN=etcd-ca`: a DER name from a CertificateRequest (with or without the
/// outer SEQUENCE, as stacks differ), or its hex when it does not parse.
fn distinguished_name(der: &[u8]) -> String {
    use x509_parser::prelude::FromDer;
    let parse = |d: &[u8]| x509_parser::x509::X509Name::from_der(d).ok().map(|(_, n)| n.to_string());
    if let Some(n) = parse(der) {
        return n;
    }
    let mut seq = vec![0x30];
    match der.len() {
        n if n < 128 => seq.push(n as u8),
        n if n < 256 => seq.extend([0x81, n as u8]),
        n => seq.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    seq.extend_from_slice(der);
    parse(&seq).unwrap_or_else(|| der.iter().map(|b| format!("{b:02x}")).collect())
}

/// What one TLS attempt saw.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// The peer answered the ClientHello with bytes that are not TLS (kept,
    /// capped): another protocol, such as HTTP's 400 or a RESP error.
    NotTls(Vec<u8>),
    /// Accepted, then closed without a byte.
    Closed,
    /// Accepted and said nothing within the read deadline.
    Silent,
    /// The connection failed (refused, reset before accepting, no budget).
    Failed(String),
    /// A TLS server.
    Tls { info: TlsInfo, answer: Option<Vec<u8>>, refusal: Option<String> },
}

fn config(recorder: Arc<RecordRequest>) -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let schemes = provider.signature_verification_algorithms.supported_schemes();
    let mut c = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ReadOnly(schemes)))
        .with_client_cert_resolver(recorder);
    c.enable_sni = false;
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(c)
}

/// Connects, handshakes and, once through, sends `request` and reads its
/// answer (capped). Only the first bytes the peer sends are kept when they
/// are not TLS.
pub(crate) fn attempt(budget: &mut Budget, addr: SocketAddr, request: &Request) -> Attempt {
    let recorder = Arc::new(RecordRequest::default());
    let cfg = match config(recorder.clone()) {
        Ok(c) => c,
        Err(e) => return Attempt::Failed(e.to_string()),
    };
    let mut tls = match ClientConnection::new(Arc::new(cfg), ServerName::IpAddress(addr.ip().into())) {
        Ok(c) => c,
        Err(e) => return Attempt::Failed(e.to_string()),
    };
    let mut sock = match budget.connect(addr) {
        Ok(s) => s,
        Err(e) => return Attempt::Failed(e.to_string()),
    };
    let cap = budget.settings.max_bytes;
    let mut first: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    let mut sent_request = false;
    let mut answer: Vec<u8> = Vec::new();
    let mut received = 0usize;
    let failure = loop {
        while tls.wants_write() {
            if !matches!(tls.write_tls(&mut sock), Ok(n) if n > 0) {
                break;
            }
        }
        if !tls.is_handshaking() && !sent_request {
            sent_request = true;
            if tls.writer().write_all(&request.bytes(addr)).is_err() {
                break Some("write failed".to_string());
            }
            continue;
        }
        if received >= cap || answer.len() >= cap || super::http::enough(request, &answer) {
            break None;
        }
        let n = match budget.read_some(&mut sock, &mut buf) {
            Ok(0) => break Some("closed".to_string()),
            Ok(n) => n,
            Err(End::Timeout) => break Some("timeout".to_string()),
            Err(_) => break Some("closed".to_string()),
        };
        received += n;
        if first.is_empty() && !matches!(buf[0], 0x15 | 0x16) {
            // Not a TLS record (handshake or alert): another protocol.
            return Attempt::NotTls(buf[..n.min(cap)].to_vec());
        }
        if first.len() < 16 {
            first.extend_from_slice(&buf[..n.min(16)]);
        }
        let mut slice = &buf[..n];
        let mut error = None;
        while !slice.is_empty() {
            // Ok(0) without consuming: rustls takes nothing more after a
            // close_notify, so bytes after it must end the loop.
            if !matches!(tls.read_tls(&mut slice), Ok(n) if n > 0) {
                break;
            }
            if let Err(e) = tls.process_new_packets() {
                error = Some(e);
                break;
            }
        }
        // Whatever plaintext is ready, up to the cap.
        let mut plain = tls.reader();
        let mut chunk = [0u8; 4096];
        let mut close_notify = false;
        while answer.len() < cap {
            match std::io::Read::read(&mut plain, &mut chunk) {
                // Ok(0) is the peer's close_notify; WouldBlock is "no more yet".
                Ok(0) => {
                    close_notify = true;
                    break;
                }
                Err(_) => break,
                Ok(m) => answer.extend_from_slice(&chunk[..m.min(cap - answer.len())]),
            }
        }
        if let Some(e) = error {
            break Some(match e {
                rustls::Error::AlertReceived(a) => format!("alert {a:?}"),
                e => e.to_string(),
            });
        }
        if close_notify {
            break Some("closed".to_string());
        }
    };
    let Some(certs) = tls.peer_certificates().filter(|c| !c.is_empty()) else {
        return match (first.is_empty(), failure.as_deref()) {
            (true, Some("timeout")) => Attempt::Silent,
            (true, _) => Attempt::Closed,
            (false, f) => Attempt::Failed(format!("TLS handshake failed: {}", f.unwrap_or("?"))),
        };
    };
    let asked = recorder.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    // Refused for want of a certificate: an alert during the handshake
    // (TLS 1.2) or right after it (TLS 1.3), or a close with no answer at
    // all once it asked for one.
    let refused = match failure.as_deref() {
        Some(f) if f.starts_with("alert") => {
            let cert_alert = [AlertDescription::CertificateRequired, AlertDescription::BadCertificate, AlertDescription::HandshakeFailure, AlertDescription::UnknownCA, AlertDescription::CertificateUnknown];
            cert_alert.iter().any(|a| f == format!("alert {a:?}"))
        }
        Some("closed") => asked.is_some() && answer.is_empty(),
        _ => false,
    };
    let client_cert = match (&asked, refused) {
        (Some(_), true) => ClientCert::Required,
        (Some(_), false) => ClientCert::Requested,
        (None, _) => ClientCert::None,
    };
    let info = certificate_info(&certs[0], client_cert, asked.unwrap_or_default());
    let refusal = refused.then(|| failure.unwrap_or_default());
    Attempt::Tls { info, answer: (!answer.is_empty()).then_some(answer), refusal }
}

/// Subject, issuer, SANs and not-after of a leaf certificate.
fn certificate_info(der: &CertificateDer<'_>, client_cert: ClientCert, client_cas: Vec<String>) -> TlsInfo {
    use x509_parser::prelude::*;
    let mut info = TlsInfo { subject: String::new(), issuer: String::new(), sans: Vec::new(), not_after: String::new(), client_cert, client_cas };
    let Ok((_, cert)) = X509Certificate::from_der(der.as_ref()) else {
        info.subject = "(unparsable certificate)".into();
        return info;
    };
    info.subject = cert.subject().to_string();
    info.issuer = cert.issuer().to_string();
    let t = cert.validity().not_after.timestamp();
    info.not_after = humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64)).to_string();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => info.sans.push(d.to_string()),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => info.sans.push(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).unwrap_or_default()).to_string()),
                    16 => info.sans.push(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).unwrap_or_default()).to_string()),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    info
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_parse_with_or_without_the_outer_sequence() {
        let params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut params = params;
        params.distinguished_name.push(rcgen::DnType::CommonName, "etcd-ca");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.der()).unwrap();
        let raw = parsed.subject().as_raw();
        assert_eq!(super::distinguished_name(raw), "CN=etcd-ca");
        // Without the outer SEQUENCE header (2 bytes for a short name).
        assert_eq!(super::distinguished_name(&raw[2..]), "CN=etcd-ca");
    }
}
