//! The shell every HTML report shares: doctype, the Content-Security-Policy
//! that allows exactly the inline style and script (by hash) and nothing
//! else, the data the script reads, and pieces several pages use.
use base64::Engine as _;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use sha2::{Digest, Sha256};

use crate::audit::{Finding, Severity};

const STYLE: &str = include_str!("assets/report.css");
const SCRIPT: &str = include_str!("assets/report.js");

/// `'sha256-…'` of an inline element's exact text, for the CSP.
fn csp_hash(text: &str) -> String {
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes())))
}

/// The policy: nothing may be fetched, connected to, framed or submitted;
/// only the page's own style and script run.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src {}; script-src {}; img-src 'none'; connect-src 'none'; form-action 'none'; base-uri 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    )
}

/// JSON that can sit inside a `<script>` element: `<`, `>` and `&` as
/// `\u003c`…, so no value can close the element or open a comment, and
/// U+2028/2029 escaped for older parsers. They occur only inside strings,
/// where the escapes mean the same characters.
pub fn json_for_script(value: &serde_json::Value) -> String {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title`, the `header` and `main` parts, and `data` for
/// the script (its `severity_order` is added here).
pub fn page(title: &str, header: Markup, main: Markup, mut data: serde_json::Value) -> String {
    if let Some(map) = data.as_object_mut() {
        map.insert("severity_order".into(), Severity::ALL.iter().rev().map(|s| s.as_str()).collect());
    }
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(content_security_policy());
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content=(format!("portsweep {}", env!("CARGO_PKG_VERSION")));
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header { (header) }
                main { (main) }
                script type="application/json" id="report-data" { (PreEscaped(json_for_script(&data))) }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
    .into_string()
}

/// The mark that says a severity without colour.
pub fn severity_mark(severity: &str) -> &'static str {
    match severity {
        "critical" => "‼",
        "error" => "✗",
        "warning" => "!",
        "info" => "i",
        _ => "✗",
    }
}

/// The glyph of an observed state (the legend explains them).
pub fn state_glyph(state: &str) -> &'static str {
    match state {
        "open" => "●",
        "closed" => "○",
        "filtered" => "⊘",
        "open|filtered" => "◌",
        _ => "–",
    }
}

/// The legend of the state glyphs and severity marks.
pub fn legend() -> Markup {
    html! {
        div.legend aria-label="legend" {
            @for s in ["open", "closed", "filtered", "open|filtered"] {
                span { b { (state_glyph(s)) } (s) }
            }
            span { b { "–" } "not scanned" }
            @for s in Severity::ALL.iter().rev() {
                span { b class=(format!("sev-{s}")) { (severity_mark(s.as_str())) } (s) " finding" }
            }
        }
    }
}

/// A severity cell's text: the mark and the word, never colour alone.
pub fn severity_label(severity: &str) -> Markup {
    html! { span class=(format!("sevlabel badge sev-{severity}")) data-mark=(severity_mark(severity)) { (severity) } }
}

/// The DOM contract's attributes of a finding, as a list the templates
/// spread (maud has no attribute splat, so callers write them out; this
/// gives the values).
pub struct FindingAttrs {
    pub protocol: String,
    pub port: String,
    pub address: String,
    pub roles: String,
}

impl FindingAttrs {
    pub fn of(f: &Finding) -> FindingAttrs {
        FindingAttrs {
            protocol: f.protocol.map(|p| p.to_string()).unwrap_or_default(),
            port: f.port.to_string(),
            address: f.address.to_string(),
            roles: f.roles.join(","),
        }
    }
}

/// `1,234`-style grouping for counts.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_its_element() {
        let v = serde_json::json!({"x": "</script><!-- & \u{2028}"});
        let s = json_for_script(&v);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'), "{s}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&s).unwrap(), v, "the escapes mean the same text");
    }

    #[test]
    fn the_policy_names_the_hashes_of_the_inline_style_and_script() {
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'; "), "{csp}");
        // Checked against sha256sum's digest of the asset files, not this code's.
        for (file, directive) in [("src/render/assets/report.css", "style-src"), ("src/render/assets/report.js", "script-src")] {
            let out = std::process::Command::new("sh").arg("-c").arg(format!("openssl dgst -sha256 -binary {}/{file} | base64", env!("CARGO_MANIFEST_DIR"))).output().unwrap();
            let want = format!("{directive} 'sha256-{}'", String::from_utf8_lossy(&out.stdout).trim());
            assert!(csp.contains(&want), "{csp}\n{want}");
        }
    }

    #[test]
    fn counts_are_grouped() {
        assert_eq!((thousands(0), thousands(999), thousands(1000), thousands(741205)), ("0".into(), "999".into(), "1,000".into(), "741,205".into()));
    }
}
