//! The API's OpenAPI document, generated from the handlers' annotations and types and
//! served at `GET /api/v1/openapi.json` (no token needed: it describes, it does not
//! reveal). The catalog's paths, one set per kind, are added by `CatalogPaths`.

use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, PathItem, Ref, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::catalog::KINDS;
use super::{billing, devices, sessions, tokens, users};
use crate::catalog::CatalogKind;

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "turnstile operator API",
        description = "Every call needs `Authorization: Bearer TOKEN` (roles: admin, operator, \
readonly, self-service). Every success is the envelope `{\"code\": 0, \"msg\": \"success\", \
\"result\"?, \"warnings\"?, \"data\"}`; the schemas below give `data`. A refusal is \
`{\"code\": E-code number, \"msg\": \"E5993: 用户已存在: alice\"}` with a meaningful HTTP \
status. The device registry (`/api/v1/devices/…`) answers in the device API's own \
envelope and codes (0, 1, 7001–7010)."
    ),
    paths(
        users::list, users::create, users::show, users::update, users::remove,
        users::password, users::enable, users::disable, users::group, users::bind,
        users::unbind, users::import,
        sessions::online, sessions::sessions, sessions::kick, sessions::coa,
        billing::settle, billing::pay, billing::ledger, billing::settlements,
        billing::settlement_log, billing::packages, billing::buy, billing::reserve,
        billing::remove,
        devices::list, devices::query, devices::regist, devices::delete,
        tokens::list, tokens::create, tokens::remove, tokens::audit,
    ),
    components(schemas(
        super::reply::Envelope, super::reply::ErrorReply,
        crate::catalog::Group, crate::catalog::Product, crate::catalog::BillingPolicy,
        crate::catalog::ControlPolicy, crate::catalog::PackagePlan,
        crate::catalog::BlacklistEntry, crate::catalog::IpRange,
        crate::catalog::SystemSwitches,
    )),
    modifiers(&Bearer, &CatalogPaths),
)]
pub struct ApiDoc;

/// The bearer scheme, required everywhere.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        doc.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The schema each catalog kind's body has.
fn schema(kind: CatalogKind) -> &'static str {
    match kind {
        CatalogKind::Group => "Group",
        CatalogKind::Product => "Product",
        CatalogKind::BillingPolicy => "BillingPolicy",
        CatalogKind::ControlPolicy => "ControlPolicy",
        CatalogKind::PackagePlan => "PackagePlan",
        CatalogKind::MacBlacklist | CatalogKind::IpBlacklist => "BlacklistEntry",
        CatalogKind::IpRange => "IpRange",
        CatalogKind::System => "SystemSwitches",
    }
}

/// List, create, read, change and delete for every catalog kind, and the switches.
struct CatalogPaths;

impl Modify for CatalogPaths {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let json = |name: &str| {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(name)))
                .build()
        };
        let body = |name: &str, what: &str| {
            RequestBodyBuilder::new()
                .description(Some(what))
                .content("application/json", json(name))
                .required(Some(Required::True))
                .build()
        };
        let ok = |what: &str| ResponseBuilder::new().description(what).build();
        let refused = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content("application/json", json("ErrorReply"))
                .build()
        };
        let name = || {
            ParameterBuilder::new()
                .name("name")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("The name (ranges percent-encoded: 10.0.0.0%2F8)"))
                .build()
        };
        let op = |summary: String| {
            OperationBuilder::new()
                .tag("catalog")
                .summary(Some(summary))
        };
        for (path, kind) in KINDS {
            let schema = schema(kind);
            let list = op(format!("Every {kind}"))
                .response("200", ok(&format!("{schema} objects, each with its name")))
                .build();
            let create = op(format!("Create a {kind} (admin)"))
                .request_body(Some(body(
                    schema,
                    "`name` and the fields; defaults fill the rest",
                )))
                .response(
                    "200",
                    ok("The object; warnings for references to what does not exist"),
                )
                .response(
                    "400",
                    refused("E5990 a required field missing, E5991 invalid"),
                )
                .response("409", refused("E5991: it exists"))
                .build();
            let show = op(format!("One {kind}"))
                .parameter(name())
                .response("200", ok(schema))
                .response("404", refused("E5991: no such object"))
                .build();
            let change = op(format!("Change fields of a {kind} (admin); null clears"))
                .parameter(name())
                .request_body(Some(body(schema, "The fields to change")))
                .response("200", ok("The object after the change"))
                .response("400", refused("E5991"))
                .response("404", refused("E5991: no such object"))
                .build();
            let delete = op(format!("Delete a {kind} (admin); ?force=true when in use"))
                .parameter(name())
                .response("200", ok("Deleted"))
                .response("404", refused("E5991: no such object"))
                .response("409", refused("E5991: in use, with who uses it"))
                .build();
            let mut items = PathItem::new(HttpMethod::Get, list);
            items.post = Some(create);
            doc.paths.paths.insert(format!("/api/v1/{path}"), items);
            let mut item = PathItem::new(HttpMethod::Get, show);
            item.patch = Some(change);
            item.delete = Some(delete);
            doc.paths
                .paths
                .insert(format!("/api/v1/{path}/{{name}}"), item);
        }
        let mut system = PathItem::new(
            HttpMethod::Get,
            op("The system switches".into())
                .response("200", ok("SystemSwitches"))
                .build(),
        );
        system.patch = Some(
            op("Change the system switches (admin)".into())
                .request_body(Some(body("SystemSwitches", "The switches to change")))
                .response("200", ok("The switches after the change"))
                .build(),
        );
        doc.paths.paths.insert("/api/v1/system".into(), system);
    }
}
