//! [`InvalidRule`]: the rules an upload can break, named as the mock reports them.

use std::fmt;
use std::sync::LazyLock;

use crate::schema;

/// A rule an upload can break: one variant per rule of `schemas/upload.schema.json`, then the
/// transport rules (the body is no readable multipart form, or is too large).
///
/// [`name`](Self::name) is the rule's name as the mock reports it in
/// [`ApiError::rule`](crate::ApiError::rule); [`code`](Self::code) and [`status`](Self::status)
/// are looked up by that name in the schema (or in `schemas/errors.json` for transport rules).
/// Several transport variants share a name: they are different ways to break the same rule.
///
/// ```
/// use cloudflare_images_mock::strategies::InvalidRule;
///
/// assert_eq!(InvalidRule::IdUuid.name(), "id_uuid");
/// assert_eq!((InvalidRule::IdUuid.code(), InvalidRule::IdUuid.status()), (5411, 400));
/// assert_eq!(InvalidRule::TruncatedBody.name(), "malformed_multipart");
/// assert!(!InvalidRule::TruncatedBody.in_schema());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidRule {
    /// `file_and_url`: both a `file` and a `url`.
    FileAndUrl,
    /// `file_or_url_required`: neither a `file` nor a `url`.
    FileOrUrlRequired,
    /// `id_with_signed_urls`: a custom id with `requireSignedURLs=true`.
    IdWithSignedUrls,
    /// `url_not_http`: a `url` that is no absolute http(s) URL.
    UrlNotHttp,
    /// `id_empty`: an empty custom id.
    IdEmpty,
    /// `id_too_long`: a custom id over the schema's maximum length.
    IdTooLong,
    /// `id_leading_or_trailing_slash`: a custom id starting or ending with `/`.
    IdLeadingOrTrailingSlash,
    /// `id_uuid`: a custom id that is a UUID.
    IdUuid,
    /// `id_non_image_extension`: a custom id ending in a non-image extension (`.txt`).
    IdNonImageExtension,
    /// `creator_too_long`: a `creator` over the schema's maximum length.
    CreatorTooLong,
    /// `metadata_not_object`: `metadata` that is no JSON object.
    MetadataNotObject,
    /// `metadata_too_large`: `metadata` over the schema's size limit as JSON.
    MetadataTooLarge,
    /// `require_signed_urls_not_boolean`: `requireSignedURLs` neither `true` nor `false`.
    RequireSignedUrlsNotBoolean,
    /// `file_too_large`: a file over the schema's size limit.
    FileTooLarge,
    /// `file_unsupported_type`: a file of no accepted format.
    FileUnsupportedType,
    /// `file_undecodable`: a file of an accepted format whose header is cut short.
    FileUndecodable,
    /// `file_dimension_too_large`: a side over the schema's maximum.
    FileDimensionTooLarge,
    /// `file_avif_dimension_too_large`: an AVIF side over the schema's AVIF maximum.
    FileAvifDimensionTooLarge,
    /// `file_area_too_large`: an area over the schema's maximum, each side within its own.
    FileAreaTooLarge,
    /// `filename_too_long`: a file name over the schema's maximum length.
    FilenameTooLong,
    /// `not_multipart`: a body of another type (JSON, raw image bytes, a urlencoded form,
    /// `multipart/mixed`, ...).
    NotMultipart,
    /// `not_multipart`: `multipart/form-data` without a boundary parameter (a Content-Type
    /// header set by hand).
    NoBoundary,
    /// `malformed_multipart`: the body cut off before its closing delimiter.
    TruncatedBody,
    /// `malformed_multipart`: no delimiter of the announced boundary in the body.
    GarbageBody,
    /// `malformed_multipart`: a field that takes one value sent twice.
    RepeatedPart,
    /// `malformed_multipart`: more parts than the mock reads.
    TooManyParts,
    /// `malformed_multipart`: a part whose `Content-Disposition` names no field.
    NamelessPart,
    /// `malformed_multipart`: a `metadata[...]` part name that does not parse.
    MalformedMetadataName,
    /// `body_too_large`: a text part over the size a text part may have.
    TextPartTooLarge,
    /// `body_too_large`: a whole body over the size a body may have.
    BodyTooLarge,
}

impl InvalidRule {
    /// Every rule, schema rules first, in the schema's order.
    pub const ALL: &'static [InvalidRule] = &[
        InvalidRule::FileAndUrl,
        InvalidRule::FileOrUrlRequired,
        InvalidRule::IdWithSignedUrls,
        InvalidRule::UrlNotHttp,
        InvalidRule::IdEmpty,
        InvalidRule::IdTooLong,
        InvalidRule::IdLeadingOrTrailingSlash,
        InvalidRule::IdUuid,
        InvalidRule::IdNonImageExtension,
        InvalidRule::CreatorTooLong,
        InvalidRule::MetadataNotObject,
        InvalidRule::MetadataTooLarge,
        InvalidRule::RequireSignedUrlsNotBoolean,
        InvalidRule::FileTooLarge,
        InvalidRule::FileUnsupportedType,
        InvalidRule::FileUndecodable,
        InvalidRule::FileDimensionTooLarge,
        InvalidRule::FileAvifDimensionTooLarge,
        InvalidRule::FileAreaTooLarge,
        InvalidRule::FilenameTooLong,
        InvalidRule::NotMultipart,
        InvalidRule::NoBoundary,
        InvalidRule::TruncatedBody,
        InvalidRule::GarbageBody,
        InvalidRule::RepeatedPart,
        InvalidRule::TooManyParts,
        InvalidRule::NamelessPart,
        InvalidRule::MalformedMetadataName,
        InvalidRule::TextPartTooLarge,
        InvalidRule::BodyTooLarge,
    ];

    /// The name of the rule, as [`ApiError::rule`](crate::ApiError::rule) reports it.
    pub fn name(self) -> &'static str {
        match self {
            InvalidRule::FileAndUrl => "file_and_url",
            InvalidRule::FileOrUrlRequired => "file_or_url_required",
            InvalidRule::IdWithSignedUrls => "id_with_signed_urls",
            InvalidRule::UrlNotHttp => "url_not_http",
            InvalidRule::IdEmpty => "id_empty",
            InvalidRule::IdTooLong => "id_too_long",
            InvalidRule::IdLeadingOrTrailingSlash => "id_leading_or_trailing_slash",
            InvalidRule::IdUuid => "id_uuid",
            InvalidRule::IdNonImageExtension => "id_non_image_extension",
            InvalidRule::CreatorTooLong => "creator_too_long",
            InvalidRule::MetadataNotObject => "metadata_not_object",
            InvalidRule::MetadataTooLarge => "metadata_too_large",
            InvalidRule::RequireSignedUrlsNotBoolean => "require_signed_urls_not_boolean",
            InvalidRule::FileTooLarge => "file_too_large",
            InvalidRule::FileUnsupportedType => "file_unsupported_type",
            InvalidRule::FileUndecodable => "file_undecodable",
            InvalidRule::FileDimensionTooLarge => "file_dimension_too_large",
            InvalidRule::FileAvifDimensionTooLarge => "file_avif_dimension_too_large",
            InvalidRule::FileAreaTooLarge => "file_area_too_large",
            InvalidRule::FilenameTooLong => "filename_too_long",
            InvalidRule::NotMultipart | InvalidRule::NoBoundary => "not_multipart",
            InvalidRule::TruncatedBody
            | InvalidRule::GarbageBody
            | InvalidRule::RepeatedPart
            | InvalidRule::TooManyParts
            | InvalidRule::NamelessPart
            | InvalidRule::MalformedMetadataName => "malformed_multipart",
            InvalidRule::TextPartTooLarge | InvalidRule::BodyTooLarge => "body_too_large",
        }
    }

    /// Whether this is a rule of `schemas/upload.schema.json` (else a transport rule of
    /// `schemas/errors.json`).
    pub fn in_schema(self) -> bool {
        !matches!(
            self,
            InvalidRule::NotMultipart
                | InvalidRule::NoBoundary
                | InvalidRule::TruncatedBody
                | InvalidRule::GarbageBody
                | InvalidRule::RepeatedPart
                | InvalidRule::TooManyParts
                | InvalidRule::NamelessPart
                | InvalidRule::MalformedMetadataName
                | InvalidRule::TextPartTooLarge
                | InvalidRule::BodyTooLarge
        )
    }

    /// The Cloudflare error code the API answers, e.g. `5411`.
    pub fn code(self) -> u32 {
        self.error().0
    }

    /// The HTTP status the API answers, e.g. `400`.
    pub fn status(self) -> u16 {
        self.error().1
    }

    fn error(self) -> (u32, u16) {
        if self.in_schema() {
            static RULES: LazyLock<Vec<schema::Rule>> = LazyLock::new(schema::rules);
            let rule = RULES
                .iter()
                .find(|rule| rule.name == self.name())
                .unwrap_or_else(|| {
                    panic!("schemas/upload.schema.json has no rule {:?}", self.name())
                });
            (rule.code, rule.status)
        } else {
            let error = schema::catalogue_error(self.name(), &[]);
            (error.code, error.status)
        }
    }
}

impl fmt::Display for InvalidRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
