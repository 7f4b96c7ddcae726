//! [`InvalidRule`]: the rules a request can break, named as the mock reports them.

use std::fmt;

use crate::schema::{self, Schema, DIRECT_UPLOAD, IMAGE_UPDATE, LIST_V1, LIST_V2, VARIANT};
use crate::Operation;

/// A rule a request can break, labelling the values of the invalid strategies.
///
/// For an upload ([`InvalidRule::UPLOAD`]): one variant per rule of
/// `schemas/upload.schema.json`, then the transport rules (the body is no readable multipart
/// form, a text part is not UTF-8, a part's headers or the body are too large). For an image update ([`InvalidRule::UPDATE`]): one variant per rule
/// of `schemas/image-update.schema.json`, then a body over the size the mock reads. For the v1
/// and v2 lists ([`InvalidRule::LIST_V1`], [`InvalidRule::LIST_V2`]): one variant per rule of
/// `schemas/list-v1.schema.json` and `schemas/list-v2.schema.json` that a query can break, and
/// for the v2 list a continuation token the mock did not issue. For a variant's creation
/// ([`InvalidRule::CREATE_VARIANT`]): one variant per rule of `schemas/variant.schema.json`.
/// For a direct creator upload ([`InvalidRule::DIRECT_UPLOAD`], [`InvalidRule::DIRECT_UPLOAD_V1`]):
/// one variant per rule of `schemas/upload.schema.json` its shared fields can break, one per
/// way to break `expiry` under `schemas/direct-upload.schema.json`, and for v1 a body that is no
/// JSON object.
/// [`operation`](Self::operation) says which request a rule is of.
///
/// [`name`](Self::name) is the rule's name as the mock reports it in
/// [`ApiError::rule`](crate::ApiError::rule); [`code`](Self::code) and [`status`](Self::status)
/// are looked up by that name in the operation's schema (or in `schemas/errors.json` for the
/// rules no schema states). Several transport variants share a name: they are different ways to
/// break the same rule.
///
/// ```
/// use cloudflare_images_mock::strategies::InvalidRule;
/// use cloudflare_images_mock::Operation;
///
/// assert_eq!(InvalidRule::IdUuid.name(), "id_uuid");
/// assert_eq!((InvalidRule::IdUuid.code(), InvalidRule::IdUuid.status()), (5411, 400));
/// assert_eq!(InvalidRule::TruncatedBody.name(), "malformed_multipart");
/// assert!(!InvalidRule::TruncatedBody.in_schema());
/// assert_eq!(InvalidRule::ListV2TooManyFilters.operation(), Operation::ListV2);
/// assert_eq!(InvalidRule::ListV2TooManyFilters.name(), "list_v2_too_many_filters");
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
    /// `text_part_not_utf8`: a text part (any part but `file`) whose bytes are not UTF-8.
    TextPartNotUtf8,
    /// `part_headers_too_large`: a part whose headers are over the size a part's headers may
    /// have (a long field name, or a long header line).
    PartHeadersTooLarge,
    /// `body_too_large`: a text part over the size a text part may have.
    TextPartTooLarge,
    /// `body_too_large`: a whole body over the size a body may have.
    BodyTooLarge,

    /// `update_body_not_json`: an image update body that is no JSON object (not JSON at all, or
    /// another JSON value).
    UpdateBodyNotJson,
    /// `update_creator_not_string`: a `creator` neither a string nor `null`.
    UpdateCreatorNotString,
    /// `update_creator_too_long`: a `creator` over the schema's maximum length.
    UpdateCreatorTooLong,
    /// `update_metadata_not_object`: `metadata` neither an object nor `null`.
    UpdateMetadataNotObject,
    /// `update_metadata_too_large`: `metadata` over the schema's size limit as JSON.
    UpdateMetadataTooLarge,
    /// `update_require_signed_urls_not_boolean`: `requireSignedURLs` neither a boolean nor
    /// `null` (the strings `"true"` and `"false"` included).
    UpdateRequireSignedUrlsNotBoolean,
    /// `body_too_large`: an image update body over the size the mock reads.
    UpdateBodyTooLarge,

    /// `list_v1_page_invalid`: a `page` below the schema's minimum, or no integer.
    ListV1PageInvalid,
    /// `list_v1_per_page_invalid`: a `per_page` out of the schema's bounds, or no integer.
    ListV1PerPageInvalid,

    /// `list_v2_per_page_invalid`: a `per_page` out of the schema's bounds, or no integer.
    ListV2PerPageInvalid,
    /// `list_v2_sort_order_invalid`: a `sort_order` not in the schema's enum.
    ListV2SortOrderInvalid,
    /// `list_v2_too_many_filters`: more metadata filters than the schema's maximum.
    ListV2TooManyFilters,
    /// `list_v2_filter_operator_unsupported`: a filter operator not in the schema's enum (or a
    /// filter without one).
    ListV2FilterOperatorUnsupported,
    /// `list_v2_filter_too_deep`: a filter field nested deeper than the schema's maximum.
    ListV2FilterTooDeep,
    /// `list_v2_filter_field_empty`: a filter field with an empty segment.
    ListV2FilterFieldEmpty,
    /// `list_v2_filter_too_many_values`: a list operator with more values than the schema's
    /// maximum.
    ListV2FilterTooManyValues,
    /// `list_v2_filter_value_not_number`: a numeric operator with a value that is no number.
    ListV2FilterValueNotNumber,
    /// `list_v2_filter_value_not_boolean`: `eq:boolean` with a value other than the schema's.
    ListV2FilterValueNotBoolean,
    /// `bad_continuation_token`: a `continuation_token` the mock cannot have issued.
    ListV2ContinuationTokenNotIssued,

    /// `variant_body_not_json`: a variant body that is no JSON object (not JSON at all, or
    /// another JSON value).
    VariantBodyNotJson,
    /// `variant_id_missing`: a variant body without an `id`.
    VariantIdMissing,
    /// `variant_options_missing`: a variant body without `options`.
    VariantOptionsMissing,
    /// `variant_id_invalid`: an `id` that is no string, empty, over the schema's maximum
    /// length, or with a `/`.
    VariantIdInvalid,
    /// `variant_never_require_signed_urls_not_boolean`: `neverRequireSignedURLs` neither `true`
    /// nor `false` (`null` and the strings `"true"` and `"false"` included).
    VariantNeverRequireSignedUrlsNotBoolean,
    /// `variant_options_not_object`: `options` that is no JSON object.
    VariantOptionsNotObject,
    /// `variant_fit_missing`: `options` without a `fit`.
    VariantFitMissing,
    /// `variant_metadata_missing`: `options` without a `metadata`.
    VariantMetadataMissing,
    /// `variant_width_missing`: `options` without a `width`.
    VariantWidthMissing,
    /// `variant_height_missing`: `options` without a `height`.
    VariantHeightMissing,
    /// `variant_fit_unsupported`: a `fit` not in the schema's enum.
    VariantFitUnsupported,
    /// `variant_metadata_unsupported`: a `metadata` not in the schema's enum.
    VariantMetadataUnsupported,
    /// `variant_width_invalid`: a `width` below the schema's minimum, or no number.
    VariantWidthInvalid,
    /// `variant_height_invalid`: a `height` below the schema's minimum, or no number.
    VariantHeightInvalid,

    /// `id_with_signed_urls`, of a direct upload: a custom id with `requireSignedURLs=true`.
    DirectUploadIdWithSignedUrls,
    /// `id_empty`, of a direct upload: an empty custom id.
    DirectUploadIdEmpty,
    /// `id_too_long`, of a direct upload: a custom id over the upload schema's maximum length.
    DirectUploadIdTooLong,
    /// `id_leading_or_trailing_slash`, of a direct upload: a custom id starting or ending with
    /// `/`.
    DirectUploadIdLeadingOrTrailingSlash,
    /// `id_uuid`, of a direct upload: a custom id that is a UUID.
    DirectUploadIdUuid,
    /// `id_non_image_extension`, of a direct upload: a custom id ending in a non-image
    /// extension.
    DirectUploadIdNonImageExtension,
    /// `creator_too_long`, of a direct upload: a `creator` over the upload schema's maximum
    /// length.
    DirectUploadCreatorTooLong,
    /// `metadata_not_object`, of a direct upload: `metadata` that is no JSON object.
    DirectUploadMetadataNotObject,
    /// `metadata_too_large`, of a direct upload: `metadata` over the upload schema's size limit.
    DirectUploadMetadataTooLarge,
    /// `require_signed_urls_not_boolean`, of a direct upload: `requireSignedURLs` no boolean.
    DirectUploadRequireSignedUrlsNotBoolean,
    /// `expiry_not_date_time`: an `expiry` that is no RFC 3339 date-time.
    ExpiryNotDateTime,
    /// `expiry_out_of_range`: an `expiry` sooner than the schema's window allows (in the past
    /// included).
    ExpiryTooSoon,
    /// `expiry_out_of_range`: an `expiry` later than the schema's window allows.
    ExpiryTooLate,
    /// `direct_upload_v1_body_not_json`: a v1 direct upload body that is no JSON object.
    DirectUploadV1BodyNotJson,
}

/// How many rules [`InvalidRule::ALL`] holds.
const ALL_RULES: usize = InvalidRule::UPLOAD.len()
    + InvalidRule::UPDATE.len()
    + InvalidRule::LIST_V1.len()
    + InvalidRule::LIST_V2.len()
    + InvalidRule::CREATE_VARIANT.len()
    + InvalidRule::DIRECT_UPLOAD_V1.len();

/// The rules of each operation one after the other, so that every list of rules is written once.
const fn concat<const N: usize>(parts: [&[InvalidRule]; 6]) -> [InvalidRule; N] {
    let mut all = [InvalidRule::FileAndUrl; N];
    let (mut at, mut part) = (0, 0);
    while part < parts.len() {
        let mut i = 0;
        while i < parts[part].len() {
            all[at] = parts[part][i];
            at += 1;
            i += 1;
        }
        part += 1;
    }
    assert!(at == N, "ALL_RULES counts every rule");
    all
}

/// The rules both direct uploads share, then `$extra` (a const slice cannot be concatenated).
macro_rules! direct_upload_rules {
    ($($extra:expr),*) => {
        [
            InvalidRule::DirectUploadIdWithSignedUrls,
            InvalidRule::DirectUploadIdEmpty,
            InvalidRule::DirectUploadIdTooLong,
            InvalidRule::DirectUploadIdLeadingOrTrailingSlash,
            InvalidRule::DirectUploadIdUuid,
            InvalidRule::DirectUploadIdNonImageExtension,
            InvalidRule::DirectUploadCreatorTooLong,
            InvalidRule::DirectUploadMetadataNotObject,
            InvalidRule::DirectUploadMetadataTooLarge,
            InvalidRule::DirectUploadRequireSignedUrlsNotBoolean,
            InvalidRule::ExpiryNotDateTime,
            InvalidRule::ExpiryTooSoon,
            InvalidRule::ExpiryTooLate,
            $($extra),*
        ]
    };
}

impl InvalidRule {
    /// Every rule of every operation: [`UPLOAD`](Self::UPLOAD), [`UPDATE`](Self::UPDATE),
    /// [`LIST_V1`](Self::LIST_V1), [`LIST_V2`](Self::LIST_V2),
    /// [`CREATE_VARIANT`](Self::CREATE_VARIANT), then
    /// [`DIRECT_UPLOAD_V1`](Self::DIRECT_UPLOAD_V1) (which holds those of
    /// [`DIRECT_UPLOAD`](Self::DIRECT_UPLOAD)).
    ///
    /// ```
    /// use cloudflare_images_mock::strategies::InvalidRule;
    ///
    /// let parts = [
    ///     InvalidRule::UPLOAD,
    ///     InvalidRule::UPDATE,
    ///     InvalidRule::LIST_V1,
    ///     InvalidRule::LIST_V2,
    ///     InvalidRule::CREATE_VARIANT,
    ///     InvalidRule::DIRECT_UPLOAD_V1,
    /// ];
    /// assert_eq!(InvalidRule::ALL, parts.concat());
    /// ```
    pub const ALL: &'static [InvalidRule] = &concat::<ALL_RULES>([
        InvalidRule::UPLOAD,
        InvalidRule::UPDATE,
        InvalidRule::LIST_V1,
        InvalidRule::LIST_V2,
        InvalidRule::CREATE_VARIANT,
        InvalidRule::DIRECT_UPLOAD_V1,
    ]);

    /// The rules of a direct creator upload's v2 form ([`Operation::DirectUploadV2`]): the
    /// rules of `schemas/upload.schema.json` the fields it shares with an upload can break (the
    /// fields of the direct-upload schema's `x-upload-fields`), in that schema's order, then
    /// those of `schemas/direct-upload.schema.json` (its `expiry`). The shared ones have names
    /// of their own here, since [`operation`](Self::operation) is that of a direct upload, but
    /// report the upload's rule [`name`](Self::name), code and status.
    ///
    /// ```
    /// use cloudflare_images_mock::strategies::InvalidRule;
    /// use cloudflare_images_mock::Operation;
    ///
    /// assert_eq!(InvalidRule::DirectUploadIdUuid.name(), InvalidRule::IdUuid.name());
    /// assert_eq!(InvalidRule::ExpiryTooSoon.name(), "expiry_out_of_range");
    /// assert!(InvalidRule::DIRECT_UPLOAD
    ///     .iter()
    ///     .all(|rule| rule.operation() == Operation::DirectUploadV2));
    /// ```
    pub const DIRECT_UPLOAD: &'static [InvalidRule] = &direct_upload_rules!();

    /// The rules of the deprecated v1 direct upload's JSON body ([`Operation::DirectUploadV1`]):
    /// those of [`DIRECT_UPLOAD`](Self::DIRECT_UPLOAD), then a body that is no JSON object.
    ///
    /// ```
    /// use cloudflare_images_mock::strategies::InvalidRule;
    ///
    /// assert_eq!(InvalidRule::DIRECT_UPLOAD_V1[..InvalidRule::DIRECT_UPLOAD.len()], *InvalidRule::DIRECT_UPLOAD);
    /// assert_eq!(InvalidRule::DIRECT_UPLOAD_V1.last(), Some(&InvalidRule::DirectUploadV1BodyNotJson));
    /// ```
    pub const DIRECT_UPLOAD_V1: &'static [InvalidRule] =
        &direct_upload_rules!(InvalidRule::DirectUploadV1BodyNotJson);

    /// The upload rule a rule of a direct upload shares (the same field, the same check), if
    /// it is one of those.
    pub(crate) fn shared_upload_rule(self) -> Option<InvalidRule> {
        Some(match self {
            InvalidRule::DirectUploadIdWithSignedUrls => InvalidRule::IdWithSignedUrls,
            InvalidRule::DirectUploadIdEmpty => InvalidRule::IdEmpty,
            InvalidRule::DirectUploadIdTooLong => InvalidRule::IdTooLong,
            InvalidRule::DirectUploadIdLeadingOrTrailingSlash => {
                InvalidRule::IdLeadingOrTrailingSlash
            }
            InvalidRule::DirectUploadIdUuid => InvalidRule::IdUuid,
            InvalidRule::DirectUploadIdNonImageExtension => InvalidRule::IdNonImageExtension,
            InvalidRule::DirectUploadCreatorTooLong => InvalidRule::CreatorTooLong,
            InvalidRule::DirectUploadMetadataNotObject => InvalidRule::MetadataNotObject,
            InvalidRule::DirectUploadMetadataTooLarge => InvalidRule::MetadataTooLarge,
            InvalidRule::DirectUploadRequireSignedUrlsNotBoolean => {
                InvalidRule::RequireSignedUrlsNotBoolean
            }
            _ => return None,
        })
    }

    /// The rules of an image update ([`Operation::Update`]), schema rules first, in the
    /// schema's order.
    ///
    /// ```
    /// use cloudflare_images_mock::strategies::InvalidRule;
    /// use cloudflare_images_mock::Operation;
    ///
    /// assert!(InvalidRule::UPDATE.iter().all(|rule| rule.operation() == Operation::Update));
    /// ```
    pub const UPDATE: &'static [InvalidRule] = &[
        InvalidRule::UpdateBodyNotJson,
        InvalidRule::UpdateCreatorNotString,
        InvalidRule::UpdateCreatorTooLong,
        InvalidRule::UpdateMetadataNotObject,
        InvalidRule::UpdateMetadataTooLarge,
        InvalidRule::UpdateRequireSignedUrlsNotBoolean,
        InvalidRule::UpdateBodyTooLarge,
    ];

    /// The rules of the v1 list's query ([`Operation::ListV1`]), in the schema's order.
    ///
    /// ```
    /// use cloudflare_images_mock::strategies::InvalidRule;
    ///
    /// assert_eq!(InvalidRule::LIST_V1[0].name(), "list_v1_page_invalid");
    /// ```
    pub const LIST_V1: &'static [InvalidRule] = &[
        InvalidRule::ListV1PageInvalid,
        InvalidRule::ListV1PerPageInvalid,
    ];

    /// The rules of the v2 list's query ([`Operation::ListV2`]) a query can break, schema rules
    /// first, in the schema's order. The schema's `list_v2_continuation_token_invalid` (the
    /// token is a string) has no variant: every parameter of a query is a string.
    ///
    /// ```
    /// use cloudflare_images_mock::strategies::InvalidRule;
    ///
    /// assert!(InvalidRule::LIST_V2.iter().all(|rule| rule.name() != "list_v2_continuation_token_invalid"));
    /// ```
    pub const LIST_V2: &'static [InvalidRule] = &[
        InvalidRule::ListV2PerPageInvalid,
        InvalidRule::ListV2SortOrderInvalid,
        InvalidRule::ListV2TooManyFilters,
        InvalidRule::ListV2FilterOperatorUnsupported,
        InvalidRule::ListV2FilterTooDeep,
        InvalidRule::ListV2FilterFieldEmpty,
        InvalidRule::ListV2FilterTooManyValues,
        InvalidRule::ListV2FilterValueNotNumber,
        InvalidRule::ListV2FilterValueNotBoolean,
        InvalidRule::ListV2ContinuationTokenNotIssued,
    ];

    /// The rules of a variant's creation ([`Operation::CreateVariant`]), in the schema's order.
    /// A variant's update ([`Operation::UpdateVariant`]) names the variant in its path, so its
    /// body breaks the same rules but the `id` ones.
    ///
    /// ```
    /// use cloudflare_images_mock::strategies::InvalidRule;
    /// use cloudflare_images_mock::Operation;
    ///
    /// assert_eq!(InvalidRule::CREATE_VARIANT[0].name(), "variant_body_not_json");
    /// assert!(InvalidRule::CREATE_VARIANT
    ///     .iter()
    ///     .all(|rule| rule.operation() == Operation::CreateVariant));
    /// ```
    pub const CREATE_VARIANT: &'static [InvalidRule] = &[
        InvalidRule::VariantBodyNotJson,
        InvalidRule::VariantIdMissing,
        InvalidRule::VariantOptionsMissing,
        InvalidRule::VariantIdInvalid,
        InvalidRule::VariantNeverRequireSignedUrlsNotBoolean,
        InvalidRule::VariantOptionsNotObject,
        InvalidRule::VariantFitMissing,
        InvalidRule::VariantMetadataMissing,
        InvalidRule::VariantWidthMissing,
        InvalidRule::VariantHeightMissing,
        InvalidRule::VariantFitUnsupported,
        InvalidRule::VariantMetadataUnsupported,
        InvalidRule::VariantWidthInvalid,
        InvalidRule::VariantHeightInvalid,
    ];

    /// The rules of an upload ([`Operation::Upload`]), schema rules first, in the schema's
    /// order.
    ///
    /// ```
    /// use cloudflare_images_mock::strategies::InvalidRule;
    ///
    /// assert_eq!(InvalidRule::UPLOAD[0].name(), "file_and_url");
    /// ```
    pub const UPLOAD: &'static [InvalidRule] = &[
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
        InvalidRule::TextPartNotUtf8,
        InvalidRule::PartHeadersTooLarge,
        InvalidRule::TextPartTooLarge,
        InvalidRule::BodyTooLarge,
    ];

    /// The name of the rule, as [`ApiError::rule`](crate::ApiError::rule) reports it.
    pub fn name(self) -> &'static str {
        if let Some(shared) = self.shared_upload_rule() {
            return shared.name();
        }
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
            InvalidRule::TextPartNotUtf8 => "text_part_not_utf8",
            InvalidRule::PartHeadersTooLarge => "part_headers_too_large",
            InvalidRule::TextPartTooLarge
            | InvalidRule::BodyTooLarge
            | InvalidRule::UpdateBodyTooLarge => "body_too_large",
            InvalidRule::UpdateBodyNotJson => "update_body_not_json",
            InvalidRule::UpdateCreatorNotString => "update_creator_not_string",
            InvalidRule::UpdateCreatorTooLong => "update_creator_too_long",
            InvalidRule::UpdateMetadataNotObject => "update_metadata_not_object",
            InvalidRule::UpdateMetadataTooLarge => "update_metadata_too_large",
            InvalidRule::UpdateRequireSignedUrlsNotBoolean => {
                "update_require_signed_urls_not_boolean"
            }
            InvalidRule::ListV1PageInvalid => "list_v1_page_invalid",
            InvalidRule::ListV1PerPageInvalid => "list_v1_per_page_invalid",
            InvalidRule::ListV2PerPageInvalid => "list_v2_per_page_invalid",
            InvalidRule::ListV2SortOrderInvalid => "list_v2_sort_order_invalid",
            InvalidRule::ListV2TooManyFilters => "list_v2_too_many_filters",
            InvalidRule::ListV2FilterOperatorUnsupported => "list_v2_filter_operator_unsupported",
            InvalidRule::ListV2FilterTooDeep => "list_v2_filter_too_deep",
            InvalidRule::ListV2FilterFieldEmpty => "list_v2_filter_field_empty",
            InvalidRule::ListV2FilterTooManyValues => "list_v2_filter_too_many_values",
            InvalidRule::ListV2FilterValueNotNumber => "list_v2_filter_value_not_number",
            InvalidRule::ListV2FilterValueNotBoolean => "list_v2_filter_value_not_boolean",
            InvalidRule::ListV2ContinuationTokenNotIssued => "bad_continuation_token",
            InvalidRule::VariantBodyNotJson => "variant_body_not_json",
            InvalidRule::VariantIdMissing => "variant_id_missing",
            InvalidRule::VariantOptionsMissing => "variant_options_missing",
            InvalidRule::VariantIdInvalid => "variant_id_invalid",
            InvalidRule::VariantNeverRequireSignedUrlsNotBoolean => {
                "variant_never_require_signed_urls_not_boolean"
            }
            InvalidRule::VariantOptionsNotObject => "variant_options_not_object",
            InvalidRule::VariantFitMissing => "variant_fit_missing",
            InvalidRule::VariantMetadataMissing => "variant_metadata_missing",
            InvalidRule::VariantWidthMissing => "variant_width_missing",
            InvalidRule::VariantHeightMissing => "variant_height_missing",
            InvalidRule::VariantFitUnsupported => "variant_fit_unsupported",
            InvalidRule::VariantMetadataUnsupported => "variant_metadata_unsupported",
            InvalidRule::VariantWidthInvalid => "variant_width_invalid",
            InvalidRule::VariantHeightInvalid => "variant_height_invalid",
            InvalidRule::ExpiryNotDateTime => "expiry_not_date_time",
            InvalidRule::ExpiryTooSoon | InvalidRule::ExpiryTooLate => "expiry_out_of_range",
            InvalidRule::DirectUploadV1BodyNotJson => "direct_upload_v1_body_not_json",
            shared => unreachable!("{shared:?} is named by the upload rule it shares"),
        }
    }

    /// The operation whose request the rule is of.
    ///
    /// ```
    /// use cloudflare_images_mock::strategies::InvalidRule;
    /// use cloudflare_images_mock::Operation;
    ///
    /// assert_eq!(InvalidRule::IdUuid.operation(), Operation::Upload);
    /// assert_eq!(InvalidRule::UpdateCreatorTooLong.operation(), Operation::Update);
    /// assert_eq!(InvalidRule::VariantFitUnsupported.operation(), Operation::CreateVariant);
    /// ```
    pub fn operation(self) -> Operation {
        if InvalidRule::UPDATE.contains(&self) {
            Operation::Update
        } else if InvalidRule::LIST_V1.contains(&self) {
            Operation::ListV1
        } else if InvalidRule::LIST_V2.contains(&self) {
            Operation::ListV2
        } else if InvalidRule::CREATE_VARIANT.contains(&self) {
            Operation::CreateVariant
        } else if InvalidRule::DIRECT_UPLOAD.contains(&self) {
            Operation::DirectUploadV2
        } else if self == InvalidRule::DirectUploadV1BodyNotJson {
            Operation::DirectUploadV1
        } else {
            Operation::Upload
        }
    }

    /// The rules of `operation`'s request: [`UPLOAD`](Self::UPLOAD), [`UPDATE`](Self::UPDATE),
    /// [`LIST_V1`](Self::LIST_V1), [`LIST_V2`](Self::LIST_V2),
    /// [`CREATE_VARIANT`](Self::CREATE_VARIANT), [`DIRECT_UPLOAD`](Self::DIRECT_UPLOAD),
    /// [`DIRECT_UPLOAD_V1`](Self::DIRECT_UPLOAD_V1), or none for an operation whose request has
    /// nothing to break (or whose rules have no generator yet, such as a variant's update).
    ///
    /// ```
    /// use cloudflare_images_mock::strategies::InvalidRule;
    /// use cloudflare_images_mock::Operation;
    ///
    /// assert_eq!(InvalidRule::of(Operation::ListV1), InvalidRule::LIST_V1);
    /// assert_eq!(InvalidRule::of(Operation::CreateVariant), InvalidRule::CREATE_VARIANT);
    /// assert!(InvalidRule::of(Operation::Get).is_empty());
    /// ```
    pub fn of(operation: Operation) -> &'static [InvalidRule] {
        match operation {
            Operation::Upload => InvalidRule::UPLOAD,
            Operation::Update => InvalidRule::UPDATE,
            Operation::ListV1 => InvalidRule::LIST_V1,
            Operation::ListV2 => InvalidRule::LIST_V2,
            Operation::CreateVariant => InvalidRule::CREATE_VARIANT,
            Operation::DirectUploadV2 => InvalidRule::DIRECT_UPLOAD,
            Operation::DirectUploadV1 => InvalidRule::DIRECT_UPLOAD_V1,
            _ => &[],
        }
    }

    /// The [`Rule`](crate::Rule) this value breaks, as [`ApiError::rule`](crate::ApiError::rule)
    /// reports it.
    ///
    /// ```
    /// use cloudflare_images_mock::{strategies::InvalidRule, Rule};
    ///
    /// assert_eq!(InvalidRule::IdUuid.rule(), Rule::IdUuid);
    /// ```
    pub fn rule(self) -> crate::Rule {
        crate::Rule::from_name(self.name())
            .unwrap_or_else(|| panic!("InvalidRule {self} names no `Rule`"))
    }

    /// The schema of the rule's operation.
    fn schema(self) -> &'static Schema {
        if self.shared_upload_rule().is_some() {
            return &schema::UPLOAD;
        }
        match self.operation() {
            Operation::DirectUploadV1 | Operation::DirectUploadV2 => &DIRECT_UPLOAD,
            Operation::Update => &IMAGE_UPDATE,
            Operation::ListV1 => &LIST_V1,
            Operation::ListV2 => &LIST_V2,
            Operation::CreateVariant => &VARIANT,
            _ => &schema::UPLOAD,
        }
    }

    /// Whether this is a rule of its operation's schema (`schemas/upload.schema.json`, ...),
    /// else one of `schemas/errors.json` (the transport rules, a continuation token the mock did
    /// not issue).
    pub fn in_schema(self) -> bool {
        !matches!(
            self,
            InvalidRule::UpdateBodyTooLarge | InvalidRule::ListV2ContinuationTokenNotIssued
        ) && !matches!(
            self,
            InvalidRule::NotMultipart
                | InvalidRule::NoBoundary
                | InvalidRule::TruncatedBody
                | InvalidRule::GarbageBody
                | InvalidRule::RepeatedPart
                | InvalidRule::TooManyParts
                | InvalidRule::NamelessPart
                | InvalidRule::MalformedMetadataName
                | InvalidRule::TextPartNotUtf8
                | InvalidRule::PartHeadersTooLarge
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
            let rule = self.schema().rule(self.name());
            (rule.code, rule.status)
        } else {
            let error = schema::catalogue_error(self.rule(), &[]);
            (error.code, error.status)
        }
    }
}

impl fmt::Display for InvalidRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
