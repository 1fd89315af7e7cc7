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
use crate::codes::ECode;

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "turnstile operator API",
        description = "Every call needs `Authorization: Bearer TOKEN` (roles: admin, operator, \
readonly, self-service). Every success is the envelope `{\"code\": 0, \"msg\": \"success\", \
\"result\"?, \"warnings\"?, \"data\"}`; the schemas below give `data`. A refusal is \
`{\"code\": the E-code's number, \"msg\": \"the code, its text and the detail\"}` with a \
meaningful HTTP status. Each operation lists the codes it answers with. The device registry (`/api/v1/devices/…`) answers in the device API's own \
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
    modifiers(&Bearer, &CatalogPaths, &Codes),
)]
pub struct ApiDoc;

/// The codes each operation answers with (results and refusals), written into its
/// description from the catalog.
const CODES: &[(&str, &str, &[ECode])] = {
    use ECode::*;
    &[
        ("/api/v1/users", "get", &[InvalidParameter]),
        (
            "/api/v1/users",
            "post",
            &[
                UserCreated,
                IncompleteData,
                InvalidParameter,
                UserExists,
                UserCreateFailed,
            ],
        ),
        ("/api/v1/users/{name}", "get", &[UserNotFound]),
        (
            "/api/v1/users/{name}",
            "patch",
            &[
                UserModified,
                InvalidParameter,
                UserNotFound,
                UserModifyFailed,
            ],
        ),
        ("/api/v1/users/{name}", "delete", &[UserNotFound]),
        (
            "/api/v1/users/{name}/password",
            "post",
            &[
                UserUpdated,
                IncompleteData,
                InvalidParameter,
                UserNotFound,
                UserUpdateFailed,
            ],
        ),
        (
            "/api/v1/users/{name}/enable",
            "post",
            &[UserModified, UserNotFound],
        ),
        (
            "/api/v1/users/{name}/disable",
            "post",
            &[UserModified, UserNotFound, UserDisabled],
        ),
        (
            "/api/v1/users/{name}/group",
            "post",
            &[GroupChanged, GroupChangeFailed, UserNotFound],
        ),
        (
            "/api/v1/users/{name}/bind",
            "post",
            &[
                MacBound,
                NasPortBound,
                VlanBound,
                IpBound,
                UserModified,
                InvalidParameter,
                UserNotFound,
            ],
        ),
        (
            "/api/v1/users/{name}/unbind",
            "post",
            &[
                MacUnbound,
                NasPortUnbound,
                VlanUnbound,
                IpUnbound,
                UserModified,
                UserModifyFailed,
                UserNotFound,
            ],
        ),
        (
            "/api/v1/users/import",
            "post",
            &[UserCreated, IncompleteData, InvalidParameter, UserExists],
        ),
        (
            "/api/v1/kick",
            "post",
            &[DmFromAdminConsole, DmFromSelfService, NotOnline],
        ),
        ("/api/v1/coa", "post", &[CoaBandwidthChange]),
        (
            "/api/v1/settle",
            "post",
            &[
                Settled,
                SettleUserNotFound,
                SettleNoProductInstance,
                SettlePendingQueueFailed,
                SettledQueueFailed,
                SettleDeductFailed,
            ],
        ),
        ("/api/v1/pay", "post", &[PaymentSucceeded, PaymentFailed]),
        ("/api/v1/packages", "get", &[UserNotFound]),
        (
            "/api/v1/packages/buy",
            "post",
            &[
                PackagePurchased,
                PackagePurchaseFailed,
                PackageNotFound,
                UserNotFound,
            ],
        ),
        (
            "/api/v1/packages/reserve",
            "post",
            &[UserModified, UserModifyFailed, PackageNotFound],
        ),
        (
            "/api/v1/packages/remove",
            "post",
            &[UserModified, UserModifyFailed],
        ),
    ]
};

/// Appends each operation's codes, with their texts, to its description.
struct Codes;

impl Modify for Codes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, method, codes) in CODES {
            let Some(item) = doc.paths.paths.get_mut(*path) else {
                continue;
            };
            let operation = match *method {
                "get" => item.get.as_mut(),
                "post" => item.post.as_mut(),
                "patch" => item.patch.as_mut(),
                _ => item.delete.as_mut(),
            };
            if let Some(op) = operation {
                op.description = Some(codes_text(codes));
            }
        }
    }
}

/// `Codes: E5001 (用户创建成功 / User created), …`.
fn codes_text(codes: &[ECode]) -> String {
    let listed: Vec<String> = codes
        .iter()
        .map(|c| format!("{c} ({} / {})", c.zh(), c.en()))
        .collect();
    format!("Codes: {}.", listed.join(", "))
}

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
                    refused(&codes_text(&[
                        ECode::IncompleteData,
                        ECode::InvalidParameter,
                    ])),
                )
                .response(
                    "409",
                    refused(&format!("{}: it exists", ECode::InvalidParameter)),
                )
                .build();
            let show = op(format!("One {kind}"))
                .parameter(name())
                .response("200", ok(schema))
                .response(
                    "404",
                    refused(&format!("{}: no such object", ECode::InvalidParameter)),
                )
                .build();
            let change = op(format!("Change fields of a {kind} (admin); null clears"))
                .parameter(name())
                .request_body(Some(body(schema, "The fields to change")))
                .response("200", ok("The object after the change"))
                .response("400", refused(&codes_text(&[ECode::InvalidParameter])))
                .response(
                    "404",
                    refused(&format!("{}: no such object", ECode::InvalidParameter)),
                )
                .build();
            let delete = op(format!("Delete a {kind} (admin); ?force=true when in use"))
                .parameter(name())
                .response("200", ok("Deleted"))
                .response(
                    "404",
                    refused(&format!("{}: no such object", ECode::InvalidParameter)),
                )
                .response(
                    "409",
                    refused(&format!(
                        "{}: in use, with who uses it",
                        ECode::InvalidParameter
                    )),
                )
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
