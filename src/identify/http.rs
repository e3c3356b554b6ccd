//! Minimal bounded HTTP/1.1 GETs (and one POST: etcd's count-only range
//! read) over a connection the stage opened itself.
//!
//! Hand-written rather than a client crate on purpose: the stage must
//! connect to an exact address it already has (no DNS), speak over its own
//! TLS session (whose handshake it inspects), cap every read in bytes and
//! time, send `Connection: close` and never follow a redirect. ureq and
//! reqwest can do parts of that but bring pools, redirects and resolvers
//! that would each have to be turned off; what is needed is a request line,
//! three headers and a status-line/header parser (~80 lines).
use std::net::SocketAddr;

/// A request the stage sends: always read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Request {
    pub method: &'static str,
    pub path: &'static str,
    pub body: Option<&'static str>,
    /// Read only the status line and headers: the body may hold data the
    /// stage must not keep (kubelet `/pods`).
    pub status_only: bool,
}

impl Request {
    pub(crate) const fn get(path: &'static str) -> Request {
        Request { method: "GET", path, body: None, status_only: false }
    }

    pub(crate) fn bytes(&self, addr: SocketAddr) -> Vec<u8> {
        let host = match addr {
            SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        };
        let mut s = format!("{} {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: portsweep/{}\r\nAccept: */*\r\nConnection: close\r\n", self.method, self.path, env!("CARGO_PKG_VERSION"));
        if let Some(b) = self.body {
            s.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", b.len()));
        }
        s.push_str("\r\n");
        if let Some(b) = self.body {
            s.push_str(b);
        }
        s.into_bytes()
    }
}

/// Whether a status-only request has read all it may: the header block
/// of a 2xx answer (its body is data); a refusal's text is read on, it
/// names who the server took the caller for.
pub(crate) fn enough(req: &Request, bytes: &[u8]) -> bool {
    req.status_only && bytes.windows(4).any(|w| w == b"\r\n\r\n") && bytes.get(9) == Some(&b'2')
}

/// The data of a chunked body, as far as it was read.
fn dechunk(mut raw: &[u8]) -> String {
    let mut out = Vec::new();
    while let Some(i) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..i]).ok().and_then(|l| usize::from_str_radix(l.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size.filter(|&n| n > 0) else { break };
        let data = &raw[i + 2..];
        out.extend_from_slice(&data[..size.min(data.len())]);
        // The size is the peer's number: it may be anything up to usize::MAX.
        raw = size.checked_add(2).and_then(|end| data.get(end..)).unwrap_or(&[]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed response: status, the headers the matches read, the body as
/// far as the cap let it be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Response {
    pub status: u16,
    pub server: Option<String>,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: String,
}

impl Response {
    /// Parses an HTTP/1.x response; `None` if the bytes are not one.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Response> {
        let rest = bytes.strip_prefix(b"HTTP/1.")?;
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n");
        let head = String::from_utf8_lossy(&bytes[..end.unwrap_or(bytes.len())]);
        let status = rest.get(2..5).and_then(|s| std::str::from_utf8(s).ok()).and_then(|s| s.parse().ok())?;
        let mut r = Response { status, ..Response::default() };
        for line in head.lines().skip(1) {
            let Some((k, v)) = line.split_once(':') else { continue };
            let v = Some(v.trim().to_string());
            match k.trim().to_ascii_lowercase().as_str() {
                "server" => r.server = v,
                "content-type" => r.content_type = v,
                "location" => r.location = v,
                _ => {}
            }
        }
        if let Some(e) = end {
            let raw = &bytes[e + 4..];
            let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
            r.body = if chunked { dechunk(raw) } else { String::from_utf8_lossy(raw).into_owned() };
        }
        Some(r)
    }

    /// The body as JSON, if it is (and was read whole).
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.body.trim()).ok()
    }

    /// `200 Server: nginx/1.22.1`: the evidence of one response.
    pub(crate) fn summary(&self) -> String {
        let mut s = self.status.to_string();
        if let Some(v) = &self.server {
            s.push_str(&format!(", Server: {v}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_headers_and_body() {
        let r = Response::parse(b"HTTP/1.1 404 Not Found\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n\r\n<html>").unwrap();
        assert_eq!((r.status, r.server.as_deref(), r.body.as_str()), (404, Some("nginx/1.22.1"), "<html>"));
        let r = Response::parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2d\r\n{\"etcdserver\":\"3.4.23\",\"etcdcluster\":\"3.4.0\"}\r\n0\r\n\r\n").unwrap();
        assert_eq!(r.json().unwrap()["etcdserver"], "3.4.23");
        assert!(Response::parse(b"-NOAUTH Authentication required.\r\n").is_none());
        assert!(Response::parse(b"HTTP/1.1 2").is_none());
    }

    #[test]
    fn chunk_sizes_are_the_peers_numbers_and_never_trusted() {
        // The largest size there is: the data is what arrived, no overflow.
        assert_eq!(dechunk(b"ffffffffffffffff\r\nabc"), "abc");
        // A size past the data, then nothing more.
        assert_eq!(dechunk(b"10\r\nabc\r\n3\r\nxyz\r\n"), "abc\r\n3\r\nxyz\r\n");
        // Not a number, an empty size, no line end: nothing.
        assert_eq!(dechunk(b"zz\r\nabc"), "");
        assert_eq!(dechunk(b"\r\nabc"), "");
        assert_eq!(dechunk(b"3"), "");
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "abcde");
    }

    #[test]
    fn requests_close_and_name_the_exact_address() {
        let r = Request::get("/version").bytes("198.18.1.2:2379".parse().unwrap());
        let t = String::from_utf8(r).unwrap();
        assert!(t.starts_with("GET /version HTTP/1.1\r\nHost: 198.18.1.2:2379\r\n") && t.contains("Connection: close"), "{t}");
    }
}
