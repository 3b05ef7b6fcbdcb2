//! The OpenAPI 3.1 document, generated from the handlers themselves (utoipa). The routes are
//! registered through `utoipa-axum`, which adds a handler's path to the router and to the
//! document in one step, so the document cannot list a route the server lacks, or miss one
//! it has.

use axum::Router;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{Ingress, conversions, emails, health};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pdfmill",
        description = "Images in, one PDF out, an email when it is ready. Uploads are answered at once with a job id; follow the job at its status URL, live at `/events`, and download the PDF once it is `converted`.",
    ),
    tags(
        (name = "conversions", description = "Submit images, follow the job, download the PDF"),
        (name = "emails", description = "Send a templated email"),
        (name = "health", description = "Liveness and readiness"),
    ),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "Required only when the server is configured with API keys",
                    ))
                    .build(),
            ),
        );
    }
}

/// The routes behind the API-key check, the open ones, and the document of both.
pub(crate) fn routers() -> (Router<Ingress>, Router<Ingress>, utoipa::openapi::OpenApi) {
    let (api, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(conversions::create))
        .routes(routes!(conversions::status))
        .routes(routes!(conversions::events))
        .routes(routes!(conversions::pdf))
        .routes(routes!(emails::send))
        .split_for_parts();
    let (open, health) = OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .split_for_parts();
    document.merge(health);
    (api, open, document)
}

/// The OpenAPI 3.1 document the server publishes at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routers().2
}
