//! [`Rule`]: the name of every rule the mock can report a request breaking.
//!
//! The schemas stay the source of truth: each rule's code, status and message live next to it
//! in `schemas/*.schema.json` (`x-cloudflare-error`) or in `schemas/errors.json`, and the enum
//! only names them (a test proves the two list exactly the same names). Two more name the
//! recorded envelopes of `fixtures/` that only a [`Script`](crate::Script) answers.

use std::fmt;
use std::str::FromStr;

use crate::error::ApiError;
use crate::schema::{self, Schema};

/// Where a rule's error is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Upload,
    DirectUpload,
    ImageUpdate,
    ListV1,
    ListV2,
    SigningKey,
    Variant,
    Catalogue,
    Fixture,
}

macro_rules! rules {
    ($($source:ident $file:literal { $($variant:ident = $name:literal,)* })*) => {
        /// A rule a request can break, as [`ApiError::rule`] names it: every rule of the request
        /// schemas (`schemas/*.schema.json`), every error of `schemas/errors.json`, and the two
        /// recorded envelopes only a [`Script`](crate::Script) answers (`rate_limited`,
        /// `internal_error`).
        ///
        /// Its code, status and message are read from the schemas, never restated here. It
        /// compares with the rule's name, so a test can write either form:
        ///
        /// ```
        /// use cloudflare_images_mock::Rule;
        ///
        /// assert_eq!(Rule::CreatorTooLong.name(), "creator_too_long");
        /// assert_eq!(Rule::CreatorTooLong, "creator_too_long");
        /// assert_eq!((Rule::CreatorTooLong.code(), Rule::CreatorTooLong.status()), (5400, 400));
        /// assert_eq!("missing_auth".parse::<Rule>(), Ok(Rule::MissingAuth));
        /// assert_eq!(
        ///     "no_such_rule".parse::<Rule>().unwrap_err().to_string(),
        ///     "no rule of cloudflare-images-mock is called \"no_such_rule\""
        /// );
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Rule {
            $($(
                #[doc = concat!("`", $name, "`, in `", $file, "`.")]
                $variant,
            )*)*
        }

        impl Rule {
            /// Every rule, in the order of the files that define them.
            pub const ALL: &'static [Rule] = &[$($(Rule::$variant,)*)*];

            /// The rule's name, as the schemas spell it (`"creator_too_long"`).
            pub fn name(self) -> &'static str {
                match self {
                    $($(Rule::$variant => $name,)*)*
                }
            }

            fn source(self) -> Source {
                match self {
                    $($(Rule::$variant => Source::$source,)*)*
                }
            }
        }
    };
}

rules! {
    Upload "schemas/upload.schema.json" {
        FileAndUrl = "file_and_url",
        FileOrUrlRequired = "file_or_url_required",
        IdWithSignedUrls = "id_with_signed_urls",
        UrlNotHttp = "url_not_http",
        IdEmpty = "id_empty",
        IdTooLong = "id_too_long",
        IdLeadingOrTrailingSlash = "id_leading_or_trailing_slash",
        IdUuid = "id_uuid",
        IdNonImageExtension = "id_non_image_extension",
        CreatorTooLong = "creator_too_long",
        MetadataNotObject = "metadata_not_object",
        MetadataTooLarge = "metadata_too_large",
        RequireSignedUrlsNotBoolean = "require_signed_urls_not_boolean",
        FileTooLarge = "file_too_large",
        FileUnsupportedType = "file_unsupported_type",
        FileUndecodable = "file_undecodable",
        FileDimensionTooLarge = "file_dimension_too_large",
        FileAvifDimensionTooLarge = "file_avif_dimension_too_large",
        FileAreaTooLarge = "file_area_too_large",
        FilenameTooLong = "filename_too_long",
    }
    DirectUpload "schemas/direct-upload.schema.json" {
        ExpiryNotDateTime = "expiry_not_date_time",
        ExpiryOutOfRange = "expiry_out_of_range",
        DirectUploadV1BodyNotJson = "direct_upload_v1_body_not_json",
    }
    ImageUpdate "schemas/image-update.schema.json" {
        UpdateBodyNotJson = "update_body_not_json",
        UpdateCreatorNotString = "update_creator_not_string",
        UpdateCreatorTooLong = "update_creator_too_long",
        UpdateMetadataNotObject = "update_metadata_not_object",
        UpdateMetadataTooLarge = "update_metadata_too_large",
        UpdateRequireSignedUrlsNotBoolean = "update_require_signed_urls_not_boolean",
    }
    ListV1 "schemas/list-v1.schema.json" {
        ListV1PageInvalid = "list_v1_page_invalid",
        ListV1PerPageInvalid = "list_v1_per_page_invalid",
    }
    ListV2 "schemas/list-v2.schema.json" {
        ListV2ContinuationTokenInvalid = "list_v2_continuation_token_invalid",
        ListV2PerPageInvalid = "list_v2_per_page_invalid",
        ListV2SortOrderInvalid = "list_v2_sort_order_invalid",
        ListV2TooManyFilters = "list_v2_too_many_filters",
        ListV2FilterOperatorUnsupported = "list_v2_filter_operator_unsupported",
        ListV2FilterTooDeep = "list_v2_filter_too_deep",
        ListV2FilterFieldEmpty = "list_v2_filter_field_empty",
        ListV2FilterTooManyValues = "list_v2_filter_too_many_values",
        ListV2FilterValueNotNumber = "list_v2_filter_value_not_number",
        ListV2FilterValueNotBoolean = "list_v2_filter_value_not_boolean",
    }
    SigningKey "schemas/signing-key.schema.json" {
        SigningKeyNameTooLong = "signing_key_name_too_long",
    }
    Variant "schemas/variant.schema.json" {
        VariantBodyNotJson = "variant_body_not_json",
        VariantIdMissing = "variant_id_missing",
        VariantOptionsMissing = "variant_options_missing",
        VariantIdInvalid = "variant_id_invalid",
        VariantNeverRequireSignedUrlsNotBoolean = "variant_never_require_signed_urls_not_boolean",
        VariantOptionsNotObject = "variant_options_not_object",
        VariantFitMissing = "variant_fit_missing",
        VariantMetadataMissing = "variant_metadata_missing",
        VariantWidthMissing = "variant_width_missing",
        VariantHeightMissing = "variant_height_missing",
        VariantFitUnsupported = "variant_fit_unsupported",
        VariantMetadataUnsupported = "variant_metadata_unsupported",
        VariantWidthInvalid = "variant_width_invalid",
        VariantHeightInvalid = "variant_height_invalid",
    }
    Catalogue "schemas/errors.json" {
        MissingAuth = "missing_auth",
        AuthorizationMalformed = "authorization_malformed",
        Authentication = "authentication",
        AccountNotRoutable = "account_not_routable",
        NoRoute = "no_route",
        MethodNotAllowed = "method_not_allowed",
        HeadersTooLarge = "headers_too_large",
        NotMultipart = "not_multipart",
        MalformedMultipart = "malformed_multipart",
        BodyTooLarge = "body_too_large",
        BodyStalled = "body_stalled",
        DuplicateId = "duplicate_id",
        UploadUrlUsed = "upload_url_used",
        UploadUrlExpired = "upload_url_expired",
        FetchFailed = "fetch_failed",
        ImageNotFound = "image_not_found",
        DeliveryNotFound = "delivery_not_found",
        DeliveryAccessDenied = "delivery_access_denied",
        NotMocked = "not_mocked",
        BadContinuationToken = "bad_continuation_token",
        BodyUnreadable = "body_unreadable",
        MockBug = "mock_bug",
        SigningKeyNotFound = "signing_key_not_found",
        VariantNotFound = "variant_not_found",
        VariantExists = "variant_exists",
        VariantLimit = "variant_limit",
        TextPartNotUtf8 = "text_part_not_utf8",
        PartHeadersTooLarge = "part_headers_too_large",
    }
    Fixture "fixtures/" {
        RateLimited = "rate_limited",
        InternalError = "internal_error",
    }
}

impl Rule {
    /// The rule called `name`, if the mock has one.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|rule| rule.name() == name)
    }

    /// The same as [`name`](Self::name), for code written when the rule was a `String`.
    pub fn as_str(self) -> &'static str {
        self.name()
    }

    /// The Cloudflare error code the mock answers for this rule, e.g. `5400`.
    pub fn code(self) -> u32 {
        self.error().code
    }

    /// The HTTP status the mock answers for this rule, e.g. `400`.
    pub fn status(self) -> u16 {
        self.error().status
    }

    /// Whether the code and status are confirmed from the real API (`false`: assumed; see the
    /// README's table of what is assumed).
    pub fn confirmed(self) -> bool {
        self.error().confirmed
    }

    /// The rule's error as its schema writes it: run-time placeholders (`{detail}`, `{$value}`)
    /// left as they are, no field pointer unless the schema gives one.
    pub(crate) fn error(self) -> ApiError {
        let schema: &Schema = match self.source() {
            Source::Upload => &schema::UPLOAD,
            Source::DirectUpload => &schema::DIRECT_UPLOAD,
            Source::ImageUpdate => &schema::IMAGE_UPDATE,
            Source::ListV1 => &schema::LIST_V1,
            Source::ListV2 => &schema::LIST_V2,
            Source::SigningKey => &schema::SIGNING_KEY,
            Source::Variant => &schema::VARIANT,
            Source::Catalogue => return schema::catalogue_error(self, &[]),
            Source::Fixture => {
                return self
                    .recorded()
                    .expect("every rule of fixtures/ has its recording")
                    .error
                    .clone()
            }
        };
        schema.error(self.name(), &[])
    }

    /// The recorded answer (status, headers, body) of a rule of `fixtures/`.
    pub(crate) fn recorded(self) -> Option<&'static crate::envelope::Recorded> {
        match self {
            Rule::RateLimited => Some(&crate::envelope::RATE_LIMITED),
            Rule::InternalError => Some(&crate::envelope::INTERNAL_ERROR),
            Rule::Authentication => Some(&crate::envelope::AUTHENTICATION_ERROR),
            _ => None,
        }
    }

    /// The rule's error as a script answers it: each run-time placeholder (`{detail}`,
    /// `{$value}`) reads `scripted`; the field at fault is the property the rule is written
    /// under, as for a real refusal.
    pub(crate) fn scripted_error(self) -> ApiError {
        let mut error = self.error();
        if error.pointer.is_none() {
            error.pointer = error
                .schema_path
                .as_deref()
                .and_then(|path| path.strip_prefix("/properties/"))
                .map(|rest| format!("/{}", rest.split('/').next().unwrap_or(rest)));
        }
        let mut message = String::with_capacity(error.message.len());
        let mut rest = error.message.as_str();
        while let (Some(open), Some(close)) = (rest.find('{'), rest.find('}')) {
            if close < open {
                break;
            }
            message.push_str(&rest[..open]);
            message.push_str("scripted");
            rest = &rest[close + 1..];
        }
        message.push_str(rest);
        error.message = message;
        error
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq<str> for Rule {
    fn eq(&self, other: &str) -> bool {
        self.name() == other
    }
}

impl PartialEq<&str> for Rule {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

impl PartialEq<String> for Rule {
    fn eq(&self, other: &String) -> bool {
        self.name() == other
    }
}

impl PartialEq<Rule> for &str {
    fn eq(&self, other: &Rule) -> bool {
        *self == other.name()
    }
}

impl PartialEq<Rule> for str {
    fn eq(&self, other: &Rule) -> bool {
        self == other.name()
    }
}

impl FromStr for Rule {
    type Err = UnknownRule;

    fn from_str(name: &str) -> Result<Rule, UnknownRule> {
        Rule::from_name(name).ok_or_else(|| UnknownRule(name.to_owned()))
    }
}

/// A name that is no [`Rule`] of the mock (from [`str::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRule(pub String);

impl fmt::Display for UnknownRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no rule of cloudflare-images-mock is called {:?}",
            self.0
        )
    }
}

impl std::error::Error for UnknownRule {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enum_names_exactly_the_rules_of_the_schemas_the_catalogue_and_the_fixtures() {
        let mut named: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
        let mut written: Vec<String> = schema::all_rule_names();
        written.extend(["rate_limited", "internal_error"].map(str::to_owned));
        named.sort_unstable();
        written.sort_unstable();
        assert_eq!(named, written);
        named.dedup();
        assert_eq!(named.len(), Rule::ALL.len(), "names are unique");
    }

    #[cfg(feature = "proptest")]
    #[test]
    fn every_invalid_rule_of_the_strategies_is_a_rule_with_its_code_and_status() {
        for &invalid in crate::strategies::InvalidRule::ALL {
            let rule = invalid.rule();
            assert_eq!(rule, invalid.name());
            assert_eq!(
                (rule.code(), rule.status()),
                (invalid.code(), invalid.status())
            );
        }
    }

    #[test]
    fn every_rule_has_its_code_and_status_from_where_it_is_written() {
        for &rule in Rule::ALL {
            let error = rule.error();
            assert_eq!(error.rule, rule);
            assert!(
                error.code > 0 && (400..600).contains(&error.status),
                "{rule}"
            );
        }
        assert_eq!(
            (Rule::RateLimited.code(), Rule::RateLimited.status()),
            (971, 429)
        );
        assert_eq!(
            (Rule::MissingAuth.code(), Rule::MissingAuth.status()),
            (9106, 400)
        );
        assert_eq!(Rule::IdUuid.code(), 5411);
    }
}
