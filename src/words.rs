//! Closed vocabularies (CNI names, phases, finding kinds…): one macro gives
//! each a single spelling for Display, FromStr, serde and clap, so a CLI
//! value, a plan file and a JSON report can never drift apart.

/// A word that is not in a vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} \"{value}\" (expected {expected})")]
pub struct UnknownWord {
    pub what: &'static str,
    pub value: String,
    /// `a, b or c`.
    pub expected: String,
}

/// `a, b or c`.
pub fn one_of(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Declares `enum $name { $var => "spelling", … }` with `ALL`, `as_str`,
/// Display, case-insensitive FromStr (Err = [`UnknownWord`]), serde and
/// clap's ValueEnum.
macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident, $what:literal, { $($(#[$vm:meta])* $var:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] #[value(name = $s)] $var),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];

            /// The one spelling (CLI, files, reports).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::words::UnknownWord;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let t = s.trim().to_ascii_lowercase();
                $name::ALL.iter().copied().find(|v| v.as_str() == t).ok_or_else(|| $crate::words::UnknownWord {
                    what: $what,
                    value: s.trim().to_string(),
                    expected: $crate::words::one_of(&$name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>()),
                })
            }
        }
    };
}
pub(crate) use word_enum;

#[cfg(test)]
mod tests {
    #[test]
    fn lists_read_naturally() {
        assert_eq!(super::one_of(&["a"]), "a");
        assert_eq!(super::one_of(&["a", "b", "c"]), "a, b or c");
    }
}
