//! Which operation a request is for, decided once per request from its method and path.
//!
//! Every operation of Cloudflare's official OpenAPI description of Images has a place in
//! [`Operation`], served or not: a request to a real endpoint the mock does not serve yet is told
//! apart from a request to no endpoint at all (the client's mistake). Routes are served under
//! `/client/v4` (the official base URL, `https://api.cloudflare.com/client/v4`) and at the root
//! (the official SDKs' test suites use a root base URL).

use std::fmt;

use hyper::Method;

use crate::error::ApiError;
use crate::schema::{self, catalogue_error};
use crate::Rule;

/// An operation of the Cloudflare Images API, as its official OpenAPI description names it.
///
/// Every request the mock routes carries one in the journal
/// ([`RequestRecord::operation`](crate::RequestRecord::operation)).
///
/// ```
/// use cloudflare_images_mock::Operation;
///
/// assert_eq!(Operation::Get.to_string(), "image details (GET /accounts/{account_id}/images/v1/{image_id})");
/// assert_eq!(Operation::Get.operation_id(), "cloudflare-images-image-details");
/// assert!(Operation::Delete.is_served());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `POST /accounts/{account_id}/images/v1`: upload an image.
    Upload,
    /// `GET /accounts/{account_id}/images/v1`: list images (deprecated v1, pages).
    ListV1,
    /// `GET /accounts/{account_id}/images/v2`: list images (continuation tokens, filters).
    ListV2,
    /// `GET /accounts/{account_id}/images/v1/{image_id}`: image details.
    Get,
    /// `PATCH /accounts/{account_id}/images/v1/{image_id}`: update an image.
    Update,
    /// `DELETE /accounts/{account_id}/images/v1/{image_id}`: delete an image.
    Delete,
    /// `GET /accounts/{account_id}/images/v1/{image_id}/blob`: download the original.
    Blob,
    /// `GET /accounts/{account_id}/images/v1/stats`: usage statistics.
    Stats,
    /// `POST /accounts/{account_id}/images/v1/direct_upload`: one-time upload URL (v1).
    DirectUploadV1,
    /// `POST /accounts/{account_id}/images/v2/direct_upload`: one-time upload URL (v2).
    DirectUploadV2,
    /// `GET /accounts/{account_id}/images/v1/variants`: list variants.
    ListVariants,
    /// `POST /accounts/{account_id}/images/v1/variants`: create a variant.
    CreateVariant,
    /// `GET /accounts/{account_id}/images/v1/variants/{variant_id}`: variant details.
    GetVariant,
    /// `GET /accounts/{account_id}/images/v1/variants/{variant_id}/flat`: variant details, flat.
    GetVariantFlat,
    /// `PATCH /accounts/{account_id}/images/v1/variants/{variant_id}`: update a variant.
    UpdateVariant,
    /// `DELETE /accounts/{account_id}/images/v1/variants/{variant_id}`: delete a variant.
    DeleteVariant,
    /// `GET /accounts/{account_id}/images/v1/keys`: list signing keys.
    ListKeys,
    /// `PUT /accounts/{account_id}/images/v1/keys/{signing_key_name}`: add a signing key.
    AddKey,
    /// `DELETE /accounts/{account_id}/images/v1/keys/{signing_key_name}`: delete a signing key.
    DeleteKey,
}

impl Operation {
    /// Every operation, in the order of the official description's paths.
    pub const ALL: [Operation; 19] = [
        Operation::ListV1,
        Operation::Upload,
        Operation::DirectUploadV1,
        Operation::ListKeys,
        Operation::DeleteKey,
        Operation::AddKey,
        Operation::Stats,
        Operation::ListVariants,
        Operation::CreateVariant,
        Operation::DeleteVariant,
        Operation::GetVariant,
        Operation::UpdateVariant,
        Operation::GetVariantFlat,
        Operation::Delete,
        Operation::Get,
        Operation::Update,
        Operation::Blob,
        Operation::ListV2,
        Operation::DirectUploadV2,
    ];

    /// The operation a request of `method` to `path` is routed to, as the mock routes it (under
    /// `/client/v4` or at the root); `None` for no operation of the API.
    ///
    /// ```
    /// use cloudflare_images_mock::Operation;
    ///
    /// let path = "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1/cat.png/blob";
    /// assert_eq!(Operation::of("GET", path), Some(Operation::Blob));
    /// assert_eq!(Operation::of("PUT", path), None);
    /// ```
    pub fn of(method: &str, path: &str) -> Option<Operation> {
        let method = Method::from_bytes(method.as_bytes()).ok()?;
        route(&method, path, None).operation()
    }

    /// The `operationId` of the operation in Cloudflare's official OpenAPI description.
    pub fn operation_id(self) -> &'static str {
        self.facts().0
    }

    /// The method and the path template, as the official description writes them.
    pub fn endpoint(self) -> (&'static str, &'static str) {
        let (_, method, path, _) = self.facts();
        (method, path)
    }

    /// A short name, as the official description's summary says it (`"image details"`).
    pub fn summary(self) -> &'static str {
        self.facts().3
    }

    /// Whether the mock serves the operation; the others are answered `501` and reported at
    /// drop as "the mock does not serve ... yet".
    pub fn is_served(self) -> bool {
        matches!(
            self,
            Operation::Upload
                | Operation::ListV1
                | Operation::ListV2
                | Operation::Get
                | Operation::Update
                | Operation::Delete
                | Operation::Blob
                | Operation::Stats
                | Operation::DirectUploadV1
                | Operation::DirectUploadV2
                | Operation::ListVariants
                | Operation::CreateVariant
                | Operation::GetVariant
                | Operation::GetVariantFlat
                | Operation::UpdateVariant
                | Operation::DeleteVariant
                | Operation::ListKeys
                | Operation::AddKey
                | Operation::DeleteKey
        )
    }

    /// The refusal of a request for an operation the mock does not serve (`501`), `None` for
    /// one it serves.
    pub(crate) fn not_served(self) -> Option<ApiError> {
        (!self.is_served())
            .then(|| catalogue_error(Rule::NotMocked, &[("operation", &self.to_string())]))
    }

    fn facts(self) -> (&'static str, &'static str, &'static str, &'static str) {
        const V1: &str = "/accounts/{account_id}/images/v1";
        match self {
            Operation::Upload => (
                "cloudflare-images-upload-an-image-via-url",
                "POST",
                V1,
                "upload an image",
            ),
            Operation::ListV1 => ("cloudflare-images-list-images", "GET", V1, "list images"),
            Operation::ListV2 => (
                "cloudflare-images-list-images-v2",
                "GET",
                "/accounts/{account_id}/images/v2",
                "list images v2",
            ),
            Operation::Get => (
                "cloudflare-images-image-details",
                "GET",
                "/accounts/{account_id}/images/v1/{image_id}",
                "image details",
            ),
            Operation::Update => (
                "cloudflare-images-update-image",
                "PATCH",
                "/accounts/{account_id}/images/v1/{image_id}",
                "update image",
            ),
            Operation::Delete => (
                "cloudflare-images-delete-image",
                "DELETE",
                "/accounts/{account_id}/images/v1/{image_id}",
                "delete image",
            ),
            Operation::Blob => (
                "cloudflare-images-base-image",
                "GET",
                "/accounts/{account_id}/images/v1/{image_id}/blob",
                "download image",
            ),
            Operation::Stats => (
                "cloudflare-images-images-usage-statistics",
                "GET",
                "/accounts/{account_id}/images/v1/stats",
                "images usage statistics",
            ),
            Operation::DirectUploadV1 => (
                "cloudflare-images-create-authenticated-direct-upload-url-v-1",
                "POST",
                "/accounts/{account_id}/images/v1/direct_upload",
                "create authenticated direct upload URL v1",
            ),
            Operation::DirectUploadV2 => (
                "cloudflare-images-create-authenticated-direct-upload-url-v-2",
                "POST",
                "/accounts/{account_id}/images/v2/direct_upload",
                "create authenticated direct upload URL v2",
            ),
            Operation::ListVariants => (
                "cloudflare-images-variants-list-variants",
                "GET",
                "/accounts/{account_id}/images/v1/variants",
                "list variants",
            ),
            Operation::CreateVariant => (
                "cloudflare-images-variants-create-a-variant",
                "POST",
                "/accounts/{account_id}/images/v1/variants",
                "create a variant",
            ),
            Operation::GetVariant => (
                "cloudflare-images-variants-variant-details",
                "GET",
                "/accounts/{account_id}/images/v1/variants/{variant_id}",
                "variant details",
            ),
            Operation::GetVariantFlat => (
                "cloudflare-images-variants-variant-details-flat",
                "GET",
                "/accounts/{account_id}/images/v1/variants/{variant_id}/flat",
                "variant details (flat)",
            ),
            Operation::UpdateVariant => (
                "cloudflare-images-variants-update-a-variant",
                "PATCH",
                "/accounts/{account_id}/images/v1/variants/{variant_id}",
                "update a variant",
            ),
            Operation::DeleteVariant => (
                "cloudflare-images-variants-delete-a-variant",
                "DELETE",
                "/accounts/{account_id}/images/v1/variants/{variant_id}",
                "delete a variant",
            ),
            Operation::ListKeys => (
                "cloudflare-images-keys-list-signing-keys",
                "GET",
                "/accounts/{account_id}/images/v1/keys",
                "list signing keys",
            ),
            Operation::AddKey => (
                "cloudflare-images-keys-add-signing-key",
                "PUT",
                "/accounts/{account_id}/images/v1/keys/{signing_key_name}",
                "create a new signing key",
            ),
            Operation::DeleteKey => (
                "cloudflare-images-keys-delete-signing-key",
                "DELETE",
                "/accounts/{account_id}/images/v1/keys/{signing_key_name}",
                "delete signing key",
            ),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (method, path) = self.endpoint();
        write!(f, "{} ({method} {path})", self.summary())
    }
}

/// A request routed to an operation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Route<'a> {
    pub(crate) operation: Operation,
    pub(crate) account_id: &'a str,
    /// The image id, variant id or key name in the path, as sent (still percent-encoded).
    pub(crate) resource: Option<&'a str>,
}

/// Where a request goes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Routed<'a> {
    /// An operation of the API.
    Api(Route<'a>),
    /// A path of the API with a method it does not have (`7001`).
    MethodNotAllowed,
    /// No path of the API (`7000`): most likely a wrong base URL.
    Unknown,
    /// A delivery URL, `GET /cdn-cgi/imagedelivery/{hash}/{id}/{variant}`: no operation of the
    /// API, public (no credentials), served by `api::delivery`.
    Delivery(super::delivery::Target<'a>),
    /// The one-time upload URL of a direct creator upload, `POST /{account_hash}/{id}` with the
    /// mock's account hash: no operation of the API, no credentials, served by `api::direct`.
    DirectUploadUrl {
        /// The draft's id, as sent (still percent-encoded).
        id: &'a str,
    },
}

impl Routed<'_> {
    /// The image id in the path, percent-decoded, for the operations about one image.
    pub(crate) fn image_id(&self) -> Option<String> {
        match self {
            Routed::Api(route)
                if matches!(
                    route.operation,
                    Operation::Get | Operation::Update | Operation::Delete | Operation::Blob
                ) =>
            {
                let raw = route.resource?;
                Some(
                    percent_encoding::percent_decode_str(raw)
                        .decode_utf8_lossy()
                        .into_owned(),
                )
            }
            _ => None,
        }
    }

    /// The operation, when the request has one.
    pub(crate) fn operation(&self) -> Option<Operation> {
        match self {
            Routed::Api(route) => Some(route.operation),
            _ => None,
        }
    }

    /// The refusal of a request that has no operation, or of one the mock does not serve.
    pub(crate) fn refusal(&self, method: &Method) -> Option<ApiError> {
        match self {
            Routed::Api(route) => route.operation.not_served(),
            Routed::MethodNotAllowed => Some(catalogue_error(
                Rule::MethodNotAllowed,
                &[("method", method.as_str())],
            )),
            Routed::Unknown => Some(catalogue_error(Rule::NoRoute, &[])),
            Routed::Delivery(_) | Routed::DirectUploadUrl { .. } => None,
        }
    }
}

/// The route of `method` + `path`, on a mock whose one-time upload URLs are under
/// `/{account_hash}/` (`None`: none are, as for [`Operation::of`]).
pub(crate) fn route<'a>(method: &Method, path: &'a str, account_hash: Option<&str>) -> Routed<'a> {
    if let Some(target) = super::delivery::Target::of(method, path) {
        return Routed::Delivery(target);
    }
    match api_route(method, path) {
        // A path of the API is never an upload URL, even under an account hash such as
        // `accounts`.
        Routed::Unknown => account_hash
            .and_then(|hash| upload_url_id(method, path, hash))
            .map_or(Routed::Unknown, |id| Routed::DirectUploadUrl { id }),
        routed => routed,
    }
}

/// The route of `method` + `path` among the paths of the API.
fn api_route<'a>(method: &Method, path: &'a str) -> Routed<'a> {
    let path = path.strip_prefix("/client/v4").unwrap_or(path);
    // The account id is the segment after `/accounts/`: up to the first `/`, which must start
    // `/images/` (a search for `/images/` itself cost about as much as the rest of routing).
    let Some((account_id, rest)) = path
        .strip_prefix("/accounts/")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(account_id, rest)| Some((account_id, rest.strip_prefix("images/")?)))
    else {
        return Routed::Unknown;
    };
    if account_id.is_empty() {
        return Routed::Unknown;
    }
    let m = method.as_str();
    let api = |operation, resource| {
        Routed::Api(Route {
            operation,
            account_id,
            resource,
        })
    };
    let pick = |choices: &[(&str, Operation)], resource| {
        choices
            .iter()
            .find(|(name, _)| *name == m)
            .map_or(Routed::MethodNotAllowed, |(_, operation)| {
                api(*operation, resource)
            })
    };
    use Operation as O;
    match rest {
        "v1" => pick(&[("GET", O::ListV1), ("POST", O::Upload)], None),
        "v2" => pick(&[("GET", O::ListV2)], None),
        "v1/direct_upload" => pick(&[("POST", O::DirectUploadV1)], None),
        "v2/direct_upload" => pick(&[("POST", O::DirectUploadV2)], None),
        "v1/stats" => pick(&[("GET", O::Stats)], None),
        "v1/keys" => pick(&[("GET", O::ListKeys)], None),
        "v1/variants" => pick(
            &[("GET", O::ListVariants), ("POST", O::CreateVariant)],
            None,
        ),
        _ => {
            if let Some(name) = rest.strip_prefix("v1/keys/").filter(|n| !n.contains('/')) {
                return pick(&[("PUT", O::AddKey), ("DELETE", O::DeleteKey)], Some(name));
            }
            if let Some(variant) = rest.strip_prefix("v1/variants/") {
                if let Some(variant) = variant.strip_suffix("/flat").filter(|v| !v.contains('/')) {
                    return pick(&[("GET", O::GetVariantFlat)], Some(variant));
                }
                if !variant.contains('/') && !variant.is_empty() {
                    return pick(
                        &[
                            ("GET", O::GetVariant),
                            ("PATCH", O::UpdateVariant),
                            ("DELETE", O::DeleteVariant),
                        ],
                        Some(variant),
                    );
                }
                return Routed::Unknown;
            }
            // Any other path below v1/ names an image: custom ids may have subpaths (sent
            // percent-encoded as the docs ask, or not), so `/blob` at the end of a GET is the
            // only suffix that is not part of the id.
            let Some(image) = rest.strip_prefix("v1/").filter(|id| !id.is_empty()) else {
                return Routed::Unknown;
            };
            if m == "GET" {
                if let Some(id) = image.strip_suffix("/blob").filter(|id| !id.is_empty()) {
                    return api(O::Blob, Some(id));
                }
            }
            pick(
                &[("GET", O::Get), ("PATCH", O::Update), ("DELETE", O::Delete)],
                Some(image),
            )
        }
    }
}

/// The id of the draft a one-time upload URL is for: `POST /{account_hash}/{id}`, with the
/// mock's (non-empty) account hash and a non-empty id. No path of the API starts with an account
/// hash (they start with `/accounts/`, `/client/v4/` or `/cdn-cgi/`); [`route`] tries the
/// paths of the API first all the same.
fn upload_url_id<'a>(method: &Method, path: &'a str, account_hash: &str) -> Option<&'a str> {
    if method != Method::POST || account_hash.is_empty() {
        return None;
    }
    let (hash, id) = path.strip_prefix('/')?.split_once('/')?;
    (hash == account_hash && !id.is_empty()).then_some(id)
}

/// Checks the account id of a route: shaped like a real one, and the pinned one if any.
pub(crate) fn check_account(
    account_id: &str,
    pinned: Option<&str>,
    path: &str,
) -> Result<(), Vec<ApiError>> {
    if schema::is_account_id(account_id) && pinned.is_none_or(|p| p == account_id) {
        return Ok(());
    }
    // Cloudflare pairs 7003 with 7000 when it cannot route an object identifier.
    Err(vec![
        catalogue_error(Rule::AccountNotRoutable, &[("path", path)]),
        catalogue_error(Rule::NoRoute, &[]),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "023e105f4ecef8ad9ca31a8372d0c353";

    fn op(method: Method, path: &str) -> Option<(Operation, Option<&str>)> {
        match route(&method, path, None) {
            Routed::Api(route) => Some((route.operation, route.resource)),
            _ => None,
        }
    }

    #[test]
    fn every_operation_of_the_official_description_is_routed() {
        // The paths and methods come from the official OpenAPI file, not from this module.
        let spec: serde_json::Value =
            serde_json::from_str(include_str!("../../schemas/cloudflare-images-openapi.json"))
                .unwrap();
        let mut seen = Vec::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let concrete = path
                    .replace("{account_id}", ID)
                    .replace("{image_id}", "some-image")
                    .replace("{variant_id}", "thumb")
                    .replace("{signing_key_name}", "k1");
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let (found, _) = op(method, &format!("/client/v4{concrete}"))
                    .unwrap_or_else(|| panic!("{path} is not routed"));
                assert_eq!(found.operation_id(), operation["operationId"], "{path}");
                assert_eq!(found.endpoint().1, path);
                seen.push(found);
            }
        }
        assert_eq!(seen.len(), Operation::ALL.len());
        for operation in Operation::ALL {
            assert!(seen.contains(&operation), "{operation:?}");
        }
    }

    #[test]
    fn the_readme_lists_exactly_the_operations_served() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## The API it serves")
            .nth(1)
            .expect("README has a section on the API it serves");
        let rows: Vec<String> = section
            .lines()
            .skip_while(|line| !line.starts_with("|---"))
            .skip(1)
            .take_while(|line| line.starts_with('|'))
            .map(str::to_owned)
            .collect();
        let served: Vec<String> = Operation::ALL
            .into_iter()
            .filter(|operation| operation.is_served())
            .map(|operation| {
                let (method, path) = operation.endpoint();
                format!("| {} | `{method} {path}` |", operation.summary())
            })
            .collect();
        let mut rows_sorted = rows.clone();
        rows_sorted.sort();
        let mut served_sorted = served;
        served_sorted.sort();
        assert_eq!(rows_sorted, served_sorted);
    }

    #[test]
    fn both_prefixes_and_methods() {
        let v1 = format!("/accounts/{ID}/images/v1");
        assert_eq!(
            op(Method::POST, &format!("/client/v4{v1}")),
            Some((Operation::Upload, None))
        );
        assert_eq!(op(Method::GET, &v1), Some((Operation::ListV1, None)));
        assert_eq!(route(&Method::PUT, &v1, None), Routed::MethodNotAllowed);
        assert_eq!(
            route(&Method::POST, "/accounts/a/b/images/v1", None),
            Routed::Unknown
        );
        assert_eq!(route(&Method::POST, "/", None), Routed::Unknown);
        assert_eq!(
            route(&Method::GET, &format!("/accounts/{ID}/images/v3"), None),
            Routed::Unknown
        );
    }

    #[test]
    fn image_ids_keep_their_subpaths_and_blob_is_a_suffix() {
        let base = format!("/accounts/{ID}/images/v1");
        assert_eq!(
            op(Method::GET, &format!("{base}/a%2Fb.png")),
            Some((Operation::Get, Some("a%2Fb.png")))
        );
        assert_eq!(
            op(Method::DELETE, &format!("{base}/a/b.png")),
            Some((Operation::Delete, Some("a/b.png")))
        );
        assert_eq!(
            op(Method::GET, &format!("{base}/a/b.png/blob")),
            Some((Operation::Blob, Some("a/b.png")))
        );
        assert_eq!(
            op(Method::PATCH, &format!("{base}/x/blob")),
            Some((Operation::Update, Some("x/blob")))
        );
        assert_eq!(
            route(&Method::POST, &format!("{base}/x"), None),
            Routed::MethodNotAllowed
        );
        assert_eq!(
            route(&Method::GET, &format!("{base}/"), None),
            Routed::Unknown
        );
    }

    #[test]
    fn refusals_tell_not_served_from_unknown() {
        let path = format!("/accounts/{ID}/images/v2/direct_upload");
        // Every operation is served now: none is refused as not served.
        assert_eq!(
            route(&Method::POST, &path, None).refusal(&Method::POST),
            None
        );
        assert!(Operation::ALL.iter().all(|o| o.not_served().is_none()));
        let unknown = route(&Method::GET, "/v4/x", None)
            .refusal(&Method::GET)
            .unwrap();
        assert_eq!(unknown.code, 7000);
    }

    #[test]
    fn one_time_upload_urls_are_routed_on_the_mocks_account_hash() {
        let hash = Some("h4sh");
        assert_eq!(
            route(&Method::POST, "/h4sh/a%2Fb", hash),
            Routed::DirectUploadUrl { id: "a%2Fb" }
        );
        assert_eq!(
            route(&Method::POST, "/h4sh/a/b", hash),
            Routed::DirectUploadUrl { id: "a/b" }
        );
        assert_eq!(route(&Method::POST, "/h4sh/", hash), Routed::Unknown);
        assert_eq!(route(&Method::POST, "/other/x", hash), Routed::Unknown);
        assert_eq!(route(&Method::GET, "/h4sh/x", hash), Routed::Unknown);
        assert_eq!(route(&Method::POST, "/h4sh/x", None), Routed::Unknown);
        assert_eq!(route(&Method::POST, "//x", Some("")), Routed::Unknown);
        let upload_url = route(&Method::POST, "/h4sh/x", hash);
        assert_eq!(upload_url.operation(), None);
        assert_eq!(upload_url.refusal(&Method::POST), None);
        // A path of the API is never an upload URL, whatever the hash.
        let api = format!("/accounts/{ID}/images/v1");
        assert_eq!(op(Method::POST, &api), Some((Operation::Upload, None)));
        assert!(matches!(
            route(&Method::POST, &api, Some("accounts")),
            Routed::Api(_)
        ));
    }

    #[test]
    fn accounts() {
        let path = |id: &str| format!("/client/v4/accounts/{id}/images/v1/stats");
        assert!(check_account(ID, None, &path(ID)).is_ok());
        assert!(check_account(ID, Some(ID), &path(ID)).is_ok());
        let other = "123e105f4ecef8ad9ca31a8372d0c353";
        let errors = check_account(other, Some(ID), &path(other)).unwrap_err();
        assert_eq!(
            errors.iter().map(|e| e.code).collect::<Vec<_>>(),
            [7003, 7000]
        );
        assert_eq!(
            errors[0].message,
            format!(
                "Could not route to {}, perhaps your object identifier is invalid?",
                path(other)
            )
        );
        assert!(check_account("..%2f..", None, "/").is_err());
    }
}
