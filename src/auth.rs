//! Credentials: what a request must carry, and what the mock may require.

use hyper::header::{HeaderName, AUTHORIZATION};
use hyper::HeaderMap;

use crate::error::ApiError;
use crate::schema::catalogue_error;

/// Credentials the mock can require, in the two forms the API takes.
///
/// ```
/// use cloudflare_images_mock::{Credentials, MockImages};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mock = MockImages::builder()
///     .credentials(Credentials::token("s3cret"))
///     .start()
///     .await;
/// # }
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// `Authorization: Bearer <token>` (an API token).
    Token(String),
    /// `X-Auth-Email` and `X-Auth-Key` (a global API key).
    Key {
        /// The account's email.
        email: String,
        /// The global API key.
        key: String,
    },
}

impl Credentials {
    /// An API token, sent as `Authorization: Bearer <token>`.
    pub fn token(token: impl Into<String>) -> Credentials {
        Credentials::Token(token.into())
    }

    /// A global API key, sent as `X-Auth-Email` and `X-Auth-Key`.
    pub fn key(email: impl Into<String>, key: impl Into<String>) -> Credentials {
        Credentials::Key {
            email: email.into(),
            key: key.into(),
        }
    }
}

// Secrets stay out of debug output and panic messages.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Credentials::Token(..)"),
            Credentials::Key { email, .. } => {
                write!(f, "Credentials::Key {{ email: {email:?}, .. }}")
            }
        }
    }
}

/// Checks the credentials of a request: 9106 when there are none, 10000 when they are not the
/// required ones (or when no credentials are required, when they are malformed).
pub(crate) fn check(headers: &HeaderMap, required: Option<&Credentials>) -> Result<(), ApiError> {
    // Named by constants: a lookup by `&str` parses the name first, on every request.
    const EMAIL: HeaderName = HeaderName::from_static("x-auth-email");
    const KEY: HeaderName = HeaderName::from_static("x-auth-key");
    let text = |name: &HeaderName| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    let token = text(&AUTHORIZATION).map(|value| {
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    });
    let key = match (text(&EMAIL), text(&KEY)) {
        (Some(email), Some(key)) => Some((email, key)),
        _ => None,
    };
    if token.is_none() && key.is_none() {
        return Err(catalogue_error("missing_auth", &[]));
    }
    let authentic = match required {
        None => {
            token.flatten().is_some() || key.is_some_and(|(e, k)| !e.is_empty() && !k.is_empty())
        }
        Some(Credentials::Token(want)) => token.flatten().is_some_and(|got| same(got, want)),
        Some(Credentials::Key { email, key: want }) => {
            key.is_some_and(|(e, k)| same(e, email) & same(k, want))
        }
    };
    if authentic {
        Ok(())
    } else {
        Err(catalogue_error("authentication", &[]))
    }
}

/// Compares in time that depends on the lengths only, so a test suite that shares a mock cannot
/// be used as a timing oracle for the required secret.
fn same(got: &str, want: &str) -> bool {
    let (got, want) = (got.as_bytes(), want.as_bytes());
    let mut diff = got.len() ^ want.len();
    for (i, w) in want.iter().enumerate() {
        diff |= usize::from(got.get(i).copied().unwrap_or(0) ^ w);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn codes() {
        let code = |h: &[(&'static str, &'static str)], r: Option<&Credentials>| {
            check(&headers(h), r).err().map(|e| e.code)
        };
        assert_eq!(code(&[], None), Some(9106));
        assert_eq!(code(&[("x-auth-key", "k")], None), Some(9106));
        assert_eq!(code(&[("authorization", "Bearer t")], None), None);
        assert_eq!(code(&[("authorization", "Basic dTpw")], None), Some(10000));
        assert_eq!(
            code(&[("x-auth-email", "a@b"), ("x-auth-key", "k")], None),
            None
        );
        let token = Credentials::token("t");
        assert_eq!(code(&[("authorization", "bearer t")], Some(&token)), None);
        assert_eq!(
            code(&[("authorization", "Bearer tt")], Some(&token)),
            Some(10000)
        );
        let key = Credentials::key("a@b", "k");
        assert_eq!(
            code(&[("x-auth-email", "a@b"), ("x-auth-key", "k")], Some(&key)),
            None
        );
        assert_eq!(
            code(&[("x-auth-email", "a@c"), ("x-auth-key", "k")], Some(&key)),
            Some(10000)
        );
        assert_eq!(
            code(&[("authorization", "Bearer k")], Some(&key)),
            Some(10000)
        );
    }

    #[test]
    fn comparison() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("ab", "abc"));
        assert!(!same("abcd", "abc"));
        assert!(same("", ""));
    }
}
