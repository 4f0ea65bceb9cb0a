//! The OpenAPI 3 document, generated from the handlers' annotations and the wire types.

use std::sync::LazyLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;
use crate::types;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "RingVault vault",
        description = "Stores encrypted records and computes statistics on them without any secret key. JSON under /v1; keys, uploads and results are binary bodies (application/octet-stream). Every error is {\"error\": \"<message>\"}. Authenticate with Authorization: Bearer <token> (operator, dataset owner or device token); only /v1/health is anonymous."
    ),
    paths(
        api::health,
        api::openapi,
        api::create_dataset,
        api::list_datasets,
        api::get_dataset,
        api::delete_dataset,
        api::put_keys,
        api::public_key,
        api::schema,
        api::create_device,
        api::list_devices,
        api::revoke_device,
        api::upload,
        api::list_uploads,
        api::get_upload,
        api::query,
        api::get_job,
        api::job_result,
        api::delete_job,
    ),
    components(schemas(
        types::Health,
        types::CreateDataset,
        types::CreatedDataset,
        types::DatasetInfo,
        types::DatasetDetail,
        types::CreateDevice,
        types::DeviceToken,
        types::DeviceInfo,
        types::Revoked,
        types::Deleted,
        types::DeletedJob,
        types::UploadReceipt,
        types::UploadInfo,
        types::JobState,
        types::JobStatus,
        types::ErrorBody,
        types::SchemaDoc,
        types::ColumnSpecDoc,
        types::KeyInfoDoc,
        types::QueryRequestDoc,
        types::LogisticModelDoc,
    )),
    modifiers(&Bearer),
    tags(
        (name = "service", description = "Health and this document"),
        (name = "datasets", description = "Datasets and their keys (operator, owner)"),
        (name = "devices", description = "Device tokens (owner)"),
        (name = "uploads", description = "Encrypted rows (device, owner)"),
        (name = "queries", description = "Statistics and scores over encrypted rows (owner)"),
    )
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("rv_ followed by 64 hex digits").build()));
    }
}

static DOCUMENT: LazyLock<String> = LazyLock::new(|| ApiDoc::openapi().to_json().unwrap_or_else(|e| format!("{{\"error\": \"could not render the OpenAPI document: {e}\"}}")));

/// The document as JSON text.
pub(crate) fn document() -> String {
    DOCUMENT.clone()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn document_lists_every_route() {
        let doc: serde_json::Value = serde_json::from_str(&super::document()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        for p in ["/v1/health", "/v1/openapi.json", "/v1/datasets", "/v1/datasets/{id}", "/v1/datasets/{id}/keys", "/v1/datasets/{id}/public-key", "/v1/datasets/{id}/schema", "/v1/datasets/{id}/devices", "/v1/datasets/{id}/devices/{device}", "/v1/datasets/{id}/uploads", "/v1/datasets/{id}/queries", "/v1/jobs/{job}", "/v1/jobs/{job}/result"] {
            assert!(paths.contains_key(p), "{p} missing");
        }
        for s in ["Schema", "KeyInfo", "QueryRequest", "UploadReceipt", "ErrorBody"] {
            assert!(doc["components"]["schemas"].get(s).is_some(), "{s} missing");
        }
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
