//! `GET /cdn-cgi/imagedelivery/{account_hash}/{image_id}/{variant}`: a delivery URL, in the
//! form the real service serves on a custom domain (RECORDED.md §4.10). Not an operation of the
//! API: public (no credentials), journalled without an operation.
//!
//! The mock answers the stored bytes, with the content type of their format, for every
//! variant: it does not resize (a variant's `fit`, `width`, `height` and `metadata` are not
//! applied). A private image (`requireSignedURLs`), unless the variant has
//! `neverRequireSignedURLs`, needs a signature as the docs describe it (FACTS.md §5): `sig` =
//! lowercase hex HMAC-SHA256 with the UTF-8 bytes of any current signing key over
//! `/{account_hash}/{image_id}/{variant}?exp={exp}` (the path without `/cdn-cgi/imagedelivery`,
//! as sent, and the query without `sig`), or over the path alone when the query has nothing
//! but `sig` (the non-expiring form); `exp` (unix seconds) must be after the mock's
//! [`Clock`](crate::Clock).

use bytes::Bytes;
use hmac::{Hmac, Mac};
use hyper::Method;
use sha2::Sha256;

use super::{plain_text, Outcome, Reply};
use crate::error::ApiError;
use crate::schema::catalogue_error;
use crate::state::Shared;
use crate::Rule;

/// The path prefix of delivery URLs on a custom domain.
pub(crate) const PREFIX: &str = "/cdn-cgi/imagedelivery";

/// A delivery URL's parts, as sent (still percent-encoded).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    /// `/{hash}/{id}/{variant}`: the path without [`PREFIX`], what a signature signs.
    pub(crate) signed_path: &'a str,
    pub(crate) hash: &'a str,
    /// The image id: everything between the hash and the last segment (custom ids hold `/`).
    pub(crate) id: &'a str,
    /// The last segment.
    pub(crate) variant: &'a str,
}

impl<'a> Target<'a> {
    /// The delivery URL a `GET` of `path` asks for; `None` for any other request. A path
    /// under the prefix without the three parts is still a delivery URL (answered `9404`).
    pub(crate) fn of(method: &Method, path: &'a str) -> Option<Target<'a>> {
        let signed_path = path
            .strip_prefix(PREFIX)
            .filter(|rest| rest.starts_with('/'))?;
        if method != Method::GET {
            return None;
        }
        let rest = &signed_path[1..];
        let (hash, rest) = rest.split_once('/').unwrap_or((rest, ""));
        let (id, variant) = rest.rsplit_once('/').unwrap_or(("", rest));
        Some(Target {
            signed_path,
            hash,
            id,
            variant,
        })
    }
}

/// Answers a delivery URL with `query`.
pub(crate) fn serve(shared: &Shared, query: Option<&str>, target: &Target<'_>) -> Outcome {
    let id = super::decode(target.id);
    let mut outcome = match answer(shared, query, target, &id) {
        Ok(reply) => Outcome {
            reply,
            errors: Vec::new(),
            accepted: None,
            image_id: None,
            scripted: None,
        },
        Err(error) => refused(error),
    };
    if !id.is_empty() {
        outcome.image_id = Some(id);
    }
    outcome
}

fn answer(
    shared: &Shared,
    query: Option<&str>,
    target: &Target<'_>,
    id: &str,
) -> Result<Reply, ApiError> {
    let not_found = || catalogue_error(Rule::DeliveryNotFound, &[]);
    if target.hash != &*shared.config.account_hash || target.id.is_empty() {
        return Err(not_found());
    }
    // The name as the envelope's URLs write it: percent-encoded where a path needs it.
    let variant = shared
        .store
        .variants
        .get(&super::decode(target.variant))
        .ok_or_else(not_found)?;
    let (image, bytes) = match shared.store.get_with_bytes(id) {
        // A draft has no bytes yet: not found, as for a missing image.
        Some((image, Some(bytes))) if !image.draft => (image, bytes),
        _ => return Err(not_found()),
    };
    if image.require_signed_urls && !variant.never_require_signed_urls {
        let keys: Vec<String> = shared
            .store
            .keys
            .all()
            .into_iter()
            .map(|k| k.value)
            .collect();
        check_signature(
            target.signed_path,
            query,
            &keys,
            shared.clock.unix_seconds(),
        )?;
    }
    Ok(Reply {
        status: 200,
        content_type: image.content_type(),
        headers: Vec::new(),
        body: bytes,
    })
}

/// The refusal of a delivery URL: plain text (`ERROR 9404: Image not found`) with the header
/// `cf-images: err=<code>`, as the recorded `5404` of the API and the code comment on `9404`.
fn refused(error: ApiError) -> Outcome {
    let reply = Reply {
        status: error.status,
        content_type: "text/plain;charset=utf-8",
        headers: vec![
            ("cache-control", "no-cache".to_owned()),
            ("cf-images", format!("err={}", error.code)),
        ],
        body: Bytes::from(plain_text(&error)),
    };
    Outcome {
        reply,
        errors: vec![error],
        accepted: None,
        image_id: None,
        scripted: None,
    }
}

/// Checks the signature of a private image's delivery URL: `sig` in `query` signs
/// `signed_path` and the rest of the query (or `signed_path` alone when there is no rest) with
/// one of `keys`, and `exp`, if any, is after `now` (unix seconds). `9425` otherwise.
pub(crate) fn check_signature(
    signed_path: &str,
    query: Option<&str>,
    keys: &[String],
    now: u64,
) -> Result<(), ApiError> {
    let denied = |detail: &str| catalogue_error(Rule::DeliveryAccessDenied, &[("detail", detail)]);
    let mut sig = None;
    let mut exp = None;
    let mut rest = Vec::new();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "sig" => sig = Some(value),
            "exp" => {
                exp = Some(value);
                rest.push(pair);
            }
            _ => rest.push(pair),
        }
    }
    let sig = sig.ok_or_else(|| denied("no sig"))?;
    let sig = unhex(sig).ok_or_else(|| denied("sig is not hex"))?;
    if let Some(exp) = exp {
        let exp: u64 = exp.parse().map_err(|_| denied("exp is not unix seconds"))?;
        if exp <= now {
            return Err(denied("expired"));
        }
    }
    let message = if rest.is_empty() {
        signed_path.to_owned()
    } else {
        format!("{signed_path}?{}", rest.join("&"))
    };
    let signed_by_a_key = keys.iter().any(|key| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
        mac.update(message.as_bytes());
        mac.verify_slice(&sig).is_ok()
    });
    if signed_by_a_key {
        Ok(())
    } else {
        Err(denied("no current key made this signature"))
    }
}

/// `sig` for `message` with `key`: lowercase hex of HMAC-SHA256 with the key's UTF-8 bytes.
pub(crate) fn sign(key: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(message.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(digest.len() * 2);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 15)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const PATH: &str = "/ZWd9g1K7eljCn_KDTu_MWA/cat.png/public";
    const NOW: u64 = 1_700_000_000;

    fn keys() -> Vec<String> {
        vec![
            "first=".to_owned(),
            "Oix0bbNaT8Rge9PuyxUBrjI6zrgnsyJ5=".to_owned(),
        ]
    }

    fn check(query: &str) -> Result<(), String> {
        check_signature(PATH, Some(query), &keys(), NOW).map_err(|e| {
            assert_eq!((e.code, e.status), (9425, 403));
            e.message
                .strip_prefix("Image access denied: ")
                .unwrap()
                .to_owned()
        })
    }

    #[test]
    fn a_known_hmac() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signatures_with_exp_by_any_key_until_exp() {
        let exp = NOW + 60;
        let message = format!("{PATH}?exp={exp}");
        for key in keys() {
            let sig = sign(&key, &message);
            assert_eq!(check(&format!("exp={exp}&sig={sig}")), Ok(()));
            assert_eq!(
                check(&format!("exp={exp}&sig={}", sig.to_uppercase())),
                Ok(())
            );
        }
        let sig = sign("first=", &message);
        assert!(
            check(&format!("exp={}&sig={sig}", exp + 1)).is_err(),
            "exp is signed"
        );
        let past = NOW - 1;
        let sig = sign("first=", &format!("{PATH}?exp={past}"));
        assert_eq!(
            check(&format!("exp={past}&sig={sig}")).unwrap_err(),
            "expired"
        );
        let sig = sign("first=", &format!("{PATH}?exp={NOW}"));
        assert!(check(&format!("exp={NOW}&sig={sig}")).is_err(), "exp now");
    }

    #[test]
    fn the_non_expiring_form_signs_the_path_alone() {
        let sig = sign("first=", PATH);
        assert_eq!(check(&format!("sig={sig}")), Ok(()));
        let other_path = sign("first=", "/ZWd9g1K7eljCn_KDTu_MWA/dog.png/public");
        assert!(check(&format!("sig={other_path}")).is_err());
    }

    #[test]
    fn refusals() {
        assert_eq!(check("").unwrap_err(), "no sig");
        assert_eq!(check("exp=1").unwrap_err(), "no sig");
        assert_eq!(check("sig=zz").unwrap_err(), "sig is not hex");
        assert_eq!(check("sig=abc").unwrap_err(), "sig is not hex");
        let sig = sign("first=", &format!("{PATH}?exp=soon"));
        assert_eq!(
            check(&format!("exp=soon&sig={sig}")).unwrap_err(),
            "exp is not unix seconds"
        );
        let sig = sign("not a key", PATH);
        assert_eq!(
            check(&format!("sig={sig}")).unwrap_err(),
            "no current key made this signature"
        );
        assert!(check_signature(PATH, None, &keys(), NOW).is_err());
    }

    fn shared() -> Shared {
        use crate::state::Config;
        use std::sync::Mutex;
        use std::time::Duration;
        Shared {
            config: Config {
                credentials: None,
                pinned_account: None,
                account_hash: "hash".into(),
                delivery_host: "https://imagedelivery.net".into(),
                upload_base: "http://127.0.0.1:1".into(),
                limits: crate::ingest::multipart::Limits::standard(),
                header_timeout: Duration::from_secs(1),
                body_timeout: Duration::from_secs(1),
                images_allowed: 10,
                fixtures: Default::default(),
            },
            journal: crate::journal::Journal::new(),
            store: crate::store::Store::new(
                1 << 20,
                &["public".to_owned()],
                crate::Clock::system(),
                crate::ids::Ids::random(),
            ),
            fetcher: crate::ingest::fetch::Fetcher::new(false, Duration::from_secs(1)),
            failure: Mutex::new(None),
            crash: tokio::sync::Notify::new(),
            scripts: crate::script::Queue::default(),
            expectations: Mutex::new(crate::expect::Expectations {
                uploads: None,
                operations: Vec::new(),
                unserved_routes: true,
                refusals: false,
            }),
            clock: crate::Clock::system(),
            ids: crate::ids::Ids::random(),
        }
    }

    fn insert(shared: &Shared, id: &str, draft: bool, private: bool) {
        let image = crate::store::StoredImage {
            id: id.to_owned(),
            filename: None,
            creator: None,
            meta: None,
            meta_sent: None,
            require_signed_urls: private,
            uploaded: UNIX_EPOCH,
            draft,
            format: Some("png".to_owned()),
            dimensions: None,
            file_size: None,
        };
        let bytes = (!draft).then(|| Bytes::from_static(b"\x89PNG"));
        shared
            .store
            .insert(std::sync::Arc::new(image), bytes)
            .unwrap();
    }

    fn status(shared: &Shared, path: &str, query: Option<&str>) -> (u16, Option<String>) {
        let target = Target::of(&Method::GET, path).unwrap();
        let outcome = serve(shared, query, &target);
        (outcome.reply.status, outcome.image_id)
    }

    #[test]
    fn drafts_are_not_found_and_private_images_need_a_signature() {
        let shared = shared();
        insert(&shared, "draft", true, false);
        insert(&shared, "open", false, false);
        insert(&shared, "private", false, true);
        let at = |id: &str| format!("{PREFIX}/hash/{id}/public");
        assert_eq!(
            status(&shared, &at("draft"), None),
            (404, Some("draft".into()))
        );
        assert_eq!(status(&shared, &at("open"), None).0, 200);
        assert_eq!(status(&shared, &at("private"), None).0, 403);
        let key = shared.store.keys.all()[0].value.clone();
        let sig = sign(&key, "/hash/private/public");
        let query = format!("sig={sig}");
        assert_eq!(status(&shared, &at("private"), Some(&query)).0, 200);
        assert_eq!(
            status(&shared, &format!("{PREFIX}/other/open/public"), None).0,
            404
        );
        assert_eq!(
            status(&shared, &format!("{PREFIX}/hash/open/nope"), None).0,
            404
        );
    }

    #[test]
    fn targets() {
        let of = |path| Target::of(&Method::GET, path);
        let target = of("/cdn-cgi/imagedelivery/h/a/b.png/thumb").unwrap();
        assert_eq!(
            (target.signed_path, target.hash, target.id, target.variant),
            ("/h/a/b.png/thumb", "h", "a/b.png", "thumb")
        );
        let short = of("/cdn-cgi/imagedelivery/h/x").unwrap();
        assert_eq!((short.hash, short.id, short.variant), ("h", "", "x"));
        assert!(of("/cdn-cgi/imagedeliveryx/h/i/v").is_none());
        assert!(of("/accounts/x/images/v1").is_none());
        assert!(Target::of(&Method::POST, "/cdn-cgi/imagedelivery/h/i/v").is_none());
    }
}
