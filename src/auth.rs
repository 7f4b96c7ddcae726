//! Credentials: what a request must carry, and what the mock may require.

use hyper::header::{HeaderName, AUTHORIZATION};
use hyper::HeaderMap;

use crate::error::ApiError;
use crate::schema::catalogue_error;
use crate::Rule;

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

/// Checks the credentials of a request, as the API gateway does before the Images service sees
/// it: an `Authorization` header that is not `Bearer <token>` is `6003` (chaining `6111`), no
/// credentials at all `9106`, credentials that are not the required ones (or, when none are
/// required, an empty email or key) `10000`.
pub(crate) fn check(headers: &HeaderMap, required: Option<&Credentials>) -> Result<(), ApiError> {
    // Named by constants: a lookup by `&str` parses the name first, on every request.
    const EMAIL: HeaderName = HeaderName::from_static("x-auth-email");
    const KEY: HeaderName = HeaderName::from_static("x-auth-key");
    let text = |name: &HeaderName| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    let token = match headers.get(AUTHORIZATION) {
        None => None,
        Some(value) => match bearer_token(value.as_bytes()) {
            Some(token) => Some(token),
            None => return Err(catalogue_error(Rule::AuthorizationMalformed, &[])),
        },
    };
    // A valid token decides alone unless a global key is required: the key's two headers are
    // not looked up for it.
    let key_needed = token.is_none() || matches!(required, Some(Credentials::Key { .. }));
    let key = match key_needed {
        true => text(&EMAIL).zip(text(&KEY)),
        false => None,
    };
    if token.is_none() && key.is_none() {
        return Err(catalogue_error(Rule::MissingAuth, &[]));
    }
    let authentic = match required {
        None => token.is_some() || key.is_some_and(|(e, k)| !e.is_empty() && !k.is_empty()),
        Some(Credentials::Token(want)) => token.is_some_and(|got| same(got, want)),
        Some(Credentials::Key { email, key: want }) => {
            key.is_some_and(|(e, k)| same(e, email) & same(k, want))
        }
    };
    if authentic {
        Ok(())
    } else {
        Err(catalogue_error(Rule::Authentication, &[]))
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case, spaces
/// around the token allowed); `None` when the header is not of that form: another scheme, no
/// token, a token with spaces in it, bytes that are not visible ASCII.
fn bearer_token(value: &[u8]) -> Option<&str> {
    // Read as bytes: a token of visible ASCII after an ASCII scheme is the whole value, so
    // no UTF-8 check of it is needed before.
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = (&value[..space], &value[space + 1..]);
    let start = rest.iter().position(|&b| b != b' ')?;
    let end = rest.iter().rposition(|&b| b != b' ')? + 1;
    let token = &rest[start..end];
    if !scheme.eq_ignore_ascii_case(b"bearer") || !token.iter().all(u8::is_ascii_graphic) {
        return None;
    }
    std::str::from_utf8(token).ok()
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
        assert_eq!(code(&[("authorization", "Basic dTpw")], None), Some(6003));
        assert_eq!(code(&[("authorization", "Bearer")], None), Some(6003));
        assert_eq!(code(&[("authorization", "Bearer ")], None), Some(6003));
        assert_eq!(code(&[("authorization", "Bearer a b")], None), Some(6003));
        assert_eq!(code(&[("authorization", "t")], None), Some(6003));
        assert_eq!(code(&[("authorization", "")], None), Some(6003));
        assert_eq!(code(&[("authorization", "bEaReR  t ")], None), None);
        assert_eq!(code(&[("authorization", "Bearer t\t")], None), Some(6003));
        let mut not_utf8 = HeaderMap::new();
        not_utf8.insert(
            AUTHORIZATION,
            hyper::header::HeaderValue::from_bytes(b"Bearer t\xff").unwrap(),
        );
        assert_eq!(check(&not_utf8, None).unwrap_err().code, 6003);
        // The header's format is checked before the key pair that would authenticate.
        let both = [
            ("authorization", "Bearer"),
            ("x-auth-email", "a@b"),
            ("x-auth-key", "k"),
        ];
        assert_eq!(code(&both, None), Some(6003));
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
    fn a_malformed_header_chains_6111() {
        let error = check(&headers(&[("authorization", "Bearer")]), None).unwrap_err();
        assert_eq!(
            (error.status, error.message.as_str()),
            (400, "Invalid request headers")
        );
        assert_eq!(error.error_chain.len(), 1);
        assert_eq!(error.error_chain[0].code, 6111);
        assert_eq!(
            error.error_chain[0].message,
            "Invalid format for Authorization header"
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
