//! Small serde helpers shared by `plan` and `inventory`.
//!
//! Validation happens inside visitors on purpose: an error raised while the
//! deserializer is still on a value gets that value's position (serde_yaml_ng,
//! toml and serde_json all attach it), so a bad port or address is reported at
//! its own line instead of at the end of the document.

use serde::de::{self, Visitor};
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

/// A visitor that parses a string scalar with `FromStr`.
pub(crate) struct StrVisitor<T> {
    expecting: &'static str,
    _t: PhantomData<T>,
}

impl<T> StrVisitor<T> {
    pub(crate) fn new(expecting: &'static str) -> Self {
        StrVisitor {
            expecting,
            _t: PhantomData,
        }
    }
}

impl<'de, T> Visitor<'de> for StrVisitor<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

/// A string that must not be empty (component, purpose).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text(pub String);

impl FromStr for Text {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            Err("must not be empty")
        } else {
            Ok(Text(s.to_string()))
        }
    }
}

impl<'de> de::Deserialize<'de> for Text {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("a non-empty string"))
    }
}

/// The parts of a serde_yaml_ng error: where, which field, what.
pub(crate) struct YamlErrorParts {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

/// Splits a serde_yaml_ng error into position, field path and message, so
/// that our errors can print `file:line:column: field: message` uniformly.
pub(crate) fn split_yaml_error(e: &serde_yaml_ng::Error) -> YamlErrorParts {
    let mut text = e.to_string();
    let (line, column) = match e.location() {
        Some(loc) => (Some(loc.line()), Some(loc.column())),
        None => (None, None),
    };
    if let (Some(l), Some(c)) = (line, column) {
        text = text.replacen(&format!(" at line {l} column {c}"), "", 1);
    }
    let (field, message) = split_field_path(&text);
    YamlErrorParts {
        line,
        column,
        field,
        message,
    }
}

/// serde_yaml_ng prefixes messages with the value's path
/// (`entries[3].audience: unknown variant ...`); a path has no spaces.
fn split_field_path(text: &str) -> (Option<String>, String) {
    if let Some((head, rest)) = text.split_once(": ") {
        if !head.is_empty() && !head.contains(char::is_whitespace) && !head.contains('`') {
            return (Some(head.to_string()), rest.to_string());
        }
    }
    (None, text.to_string())
}

/// 1-based line of a byte offset.
pub(crate) fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// 1-based line of the `index`-th item of the block sequence under the
/// top-level key `key` (`entries:` / `nodes:`), for semantic errors found
/// after parsing. Flow sequences (`key: [...]`) give `None`.
pub(crate) fn block_item_line(text: &str, key: &str, index: usize) -> Option<usize> {
    let mut lines = text.lines().enumerate();
    let found = lines.by_ref().any(|(_, l)| {
        l.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
    });
    if !found {
        return None;
    }
    let mut item_col: Option<usize> = None;
    let mut count = 0usize;
    for (i, l) in lines {
        let t = l.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let col = l.len() - t.len();
        let is_item = t == "-" || t.starts_with("- ");
        match item_col {
            None => {
                if !is_item {
                    return None;
                }
                item_col = Some(col);
            }
            Some(c) => {
                if col < c || (col == c && !is_item) {
                    return None;
                }
                if col > c || !is_item {
                    continue;
                }
            }
        }
        if count == index {
            return Some(i + 1);
        }
        count += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_item_line_counts_items_of_the_key_only() {
        let text = "a: 1\nentries:\n  # c\n  - x: 1\n    y: [1]\n    z:\n      - nested\n  - x: 2\n\n  - x: 3\nnodes: []\n";
        assert_eq!(block_item_line(text, "entries", 0), Some(4));
        assert_eq!(block_item_line(text, "entries", 1), Some(8));
        assert_eq!(block_item_line(text, "entries", 2), Some(10));
        assert_eq!(block_item_line(text, "entries", 3), None);
        assert_eq!(block_item_line(text, "nodes", 0), None);
        // Items at the key's own indentation are legal YAML too.
        assert_eq!(
            block_item_line("entries:\n- a\n- b\nx: 1\n", "entries", 1),
            Some(3)
        );
    }

    #[test]
    fn line_of_offset_is_one_based() {
        assert_eq!(line_of_offset("ab\ncd\n", 0), 1);
        assert_eq!(line_of_offset("ab\ncd\n", 3), 2);
        assert_eq!(line_of_offset("ab\ncd\n", 99), 3);
    }
}
