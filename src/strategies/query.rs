//! Query strings as clients write them: `key=value` pairs joined by `&`, each side
//! form-encoded, a space written `+` or `%20`.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use proptest::prelude::*;

/// What a client leaves unescaped in a query component (RFC 3986's unreserved characters).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How a client escapes a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    /// A space as `+` (HTML forms, Python's `urlencode`), else `%20` (JavaScript's
    /// `URLSearchParams` writes `+` too; `encodeURIComponent` writes `%20`).
    plus: bool,
    /// The brackets of a filter key escaped (`%5B`, `%5D`), as `URLSearchParams` does.
    brackets: bool,
}

/// Any style.
pub(crate) fn style() -> impl Strategy<Value = Style> {
    (any::<bool>(), any::<bool>()).prop_map(|(plus, brackets)| Style { plus, brackets })
}

impl Style {
    /// `text` escaped as a query component.
    pub(crate) fn encode(self, text: &str) -> String {
        let encoded = utf8_percent_encode(text, COMPONENT).to_string();
        if self.plus {
            encoded.replace("%20", "+")
        } else {
            encoded
        }
    }

    /// A `[` or `]` of a filter key.
    pub(crate) fn bracket(self, bracket: char) -> String {
        match (self.brackets, bracket) {
            (false, bracket) => bracket.to_string(),
            (true, '[') => "%5B".to_owned(),
            (true, _) => "%5D".to_owned(),
        }
    }
}

/// A parameter whose key is already written (a filter key has brackets that must stay
/// brackets) and whose value is not yet escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    pub(crate) key: String,
    pub(crate) value: String,
}

impl Param {
    /// A plain parameter: `key` will be escaped too.
    pub(crate) fn plain(style: Style, key: &str, value: impl Into<String>) -> Param {
        Param {
            key: style.encode(key),
            value: value.into(),
        }
    }
}

/// The query string of `params`, in order (without the `?`).
pub(crate) fn render(style: Style, params: &[Param]) -> String {
    params
        .iter()
        .map(|param| format!("{}={}", param.key, style.encode(&param.value)))
        .collect::<Vec<_>>()
        .join("&")
}
