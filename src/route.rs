//! Which endpoint a request is for. Routes are served under `/client/v4` (the official base URL,
//! `https://api.cloudflare.com/client/v4`) and at the root (the official SDKs' test suites use a
//! root base URL).

use hyper::Method;

use crate::error::ApiError;
use crate::schema::{self, catalogue_error};

/// Where a request goes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// `POST /accounts/{account_id}/images/v1`.
    Upload { account_id: &'a str },
}

/// The route of `method` + `path`, or the refusal: 7001 for a wrong method on the upload path,
/// 7000 for any other path (including Images endpoints the mock does not serve yet).
pub(crate) fn route<'a>(method: &Method, path: &'a str) -> Result<Route<'a>, ApiError> {
    let path = path.strip_prefix("/client/v4").unwrap_or(path);
    let upload = path
        .strip_prefix("/accounts/")
        .and_then(|rest| rest.strip_suffix("/images/v1"))
        .filter(|account_id| !account_id.contains('/'));
    match upload {
        Some(account_id) if method == Method::POST => Ok(Route::Upload { account_id }),
        Some(_) => Err(catalogue_error(
            "method_not_allowed",
            &[("method", method.as_str())],
        )),
        None => Err(catalogue_error("no_route", &[])),
    }
}

/// Checks the account id of a route: shaped like a real one, and the pinned one if any.
pub(crate) fn check_account(account_id: &str, pinned: Option<&str>) -> Result<(), Vec<ApiError>> {
    if schema::is_account_id(account_id) && pinned.is_none_or(|p| p == account_id) {
        return Ok(());
    }
    // Cloudflare pairs 7003 with 7000 when it cannot route an object identifier.
    Err(vec![
        catalogue_error("account_not_routable", &[("account_id", account_id)]),
        catalogue_error("no_route", &[]),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_prefixes_and_only_post() {
        let id = "023e105f4ecef8ad9ca31a8372d0c353";
        let upload = Route::Upload { account_id: id };
        assert_eq!(
            route(
                &Method::POST,
                &format!("/client/v4/accounts/{id}/images/v1")
            ),
            Ok(upload)
        );
        assert!(route(&Method::POST, &format!("/accounts/{id}/images/v1")).is_ok());
        assert_eq!(
            route(&Method::PUT, &format!("/accounts/{id}/images/v1"))
                .unwrap_err()
                .code,
            7001
        );
        assert_eq!(
            route(&Method::POST, "/accounts/a/b/images/v1")
                .unwrap_err()
                .code,
            7000
        );
        assert_eq!(route(&Method::POST, "/").unwrap_err().code, 7000);
    }

    #[test]
    fn accounts() {
        let id = "023e105f4ecef8ad9ca31a8372d0c353";
        assert!(check_account(id, None).is_ok());
        assert!(check_account(id, Some(id)).is_ok());
        let other = "123e105f4ecef8ad9ca31a8372d0c353";
        let errors = check_account(other, Some(id)).unwrap_err();
        assert_eq!(
            errors.iter().map(|e| e.code).collect::<Vec<_>>(),
            [7003, 7000]
        );
        assert!(errors[0].message.contains(other));
        assert!(check_account("..%2f..", None).is_err());
    }
}
