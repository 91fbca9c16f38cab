//! Starting the API server: store, PKI, bootstrap objects, routes and the HTTPS listener.

use crate::api::Api;
use crate::handlers;
use crate::metrics::Metrics;
use crate::pki::Pki;
use crate::registry::Registry;
use crate::{auth, bootstrap, discovery, openapi, resource_metrics, respond, tls, tokens};
use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use krust_store::Store;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// How to run the API server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the store, the PKI and the kubeconfig live.
    pub data_dir: PathBuf,
    /// Where to listen (`127.0.0.1:6443`; port 0 picks a free one).
    pub listen: SocketAddr,
    /// The service CIDR (`10.43.0.0/16`).
    pub service_cidr: String,
    /// The node ports Services get (`30000..=32767`).
    pub node_ports: std::ops::RangeInclusive<u32>,
    /// Whether pods must run as an existing service account and get its token volume (the
    /// ServiceAccount admission plugin); off when no controller makes the accounts.
    pub service_account_admission: bool,
}

/// A running API server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// `https://<addr>`.
    pub url: String,
    /// The admin kubeconfig written for kubectl.
    pub kubeconfig: PathBuf,
    /// Ends with the server.
    pub task: tokio::task::JoinHandle<Result<()>>,
    /// The cluster's CA and certificates (to sign a local node's kubelet certificate).
    pub pki: Pki,
    /// The node join token (`K10<CA hash>::<id>.<secret>`), also in `<data dir>/token`.
    pub join_token: String,
    routes: Router,
}

impl Running {
    /// A client transport for a component in this process, acting as `user` (with the
    /// rights of `system:masters`): requests reach the routes without a socket or TLS.
    pub fn local(&self, user: &str) -> crate::Local {
        crate::Local::new(self.routes.clone(), user)
    }
}

/// Opens the store under `data_dir` and serves the API.
pub async fn start(config: Config) -> Result<Running> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let store: Arc<dyn Store> = krust_store::SqliteStore::open(&config.data_dir.join("state.db"))?;
    start_with_store(config, store).await
}

/// Serves the API over an already opened store.
pub async fn start_with_store(config: Config, store: Arc<dyn Store>) -> Result<Running> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let mut registry = Registry::new(store, &config.service_cidr)?;
    registry.service_account_admission = config.service_account_admission;
    registry.node_ports = config.node_ports.clone();
    let service_ip = IpAddr::V4(registry.kubernetes_service_ip());
    let mut ips: Vec<IpAddr> = vec!["127.0.0.1".parse()?, "::1".parse()?, service_ip];
    // Listening on every address, the server is reached at the host's: its primary one is
    // named too (as k3s names the node's IP), so that other hosts can join.
    let reached = if addr.ip().is_unspecified() {
        primary_ip()
    } else {
        Some(addr.ip())
    };
    if let Some(ip) = reached.filter(|ip| !ips.contains(ip)) {
        ips.push(ip);
    }
    let names: Vec<String> = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let pki = Pki::load_or_create(&config.data_dir.join("pki"), &ips, &names)?;
    let advertise = if addr.ip().is_unspecified() {
        SocketAddr::new("127.0.0.1".parse()?, addr.port())
    } else {
        addr
    };
    let url = format!("https://{advertise}");
    let kubeconfig = config.data_dir.join("kubeconfig");
    std::fs::write(&kubeconfig, pki.kubeconfig(&url))?;

    // The `kubernetes` Service leads to the address others reach the server at (the host's,
    // when it listens on every address, as kube-apiserver's `--advertise-address`).
    let endpoint = SocketAddr::new(reached.unwrap_or(advertise.ip()), addr.port());
    bootstrap::ensure_all(&registry, endpoint)
        .await
        .map_err(|e| anyhow::anyhow!("bootstrap: {e}"))?;
    tokio::spawn(bootstrap::keep(registry.clone(), endpoint));
    registry
        .reload_custom()
        .await
        .map_err(|e| anyhow::anyhow!("custom resource definitions: {e}"))?;
    tokio::spawn(crate::custom::keep(registry.clone()));
    let join_token =
        crate::bootstrap_token::ensure(&registry, &config.data_dir.join("token"), &pki.ca_cert)
            .await?;
    let api = Arc::new(Api {
        registry,
        metrics: Metrics::default(),
        watch_cache: Default::default(),
        kubelets: crate::kubelet_client::KubeletClient::new(&pki)?,
        tokens: crate::tokens::Tokens::load_or_create(&config.data_dir.join("pki"))?,
        ca_cert: pki.ca_cert.clone(),
    });
    let app = router(api, advertise.to_string());
    let tls = tls::server_config(&pki)?;
    let task = tokio::spawn(tls::serve(listener, tls, app.clone()));
    tracing::info!(%url, kubeconfig = %kubeconfig.display(), "API server ready");
    Ok(Running {
        addr,
        url,
        kubeconfig,
        task,
        pki,
        join_token,
        routes: app,
    })
}

/// The address this host sends from by default (no packet is sent: a UDP socket is only
/// connected to a documentation address).
fn primary_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    Some(socket.local_addr().ok()?.ip())
}

/// The routes: fixed documents, then every resource path.
pub fn router(api: Arc<Api>, server_address: String) -> Router {
    let ok = || async { respond::with_type(200, "text/plain; charset=utf-8", b"ok".to_vec()) };
    let api_doc = move |State(api): State<Arc<Api>>, req: Request| async move {
        discovery::api(&served(&api), req.headers(), &server_address)
    };
    let apis_doc = |State(api): State<Arc<Api>>, req: Request| async move {
        discovery::apis(&served(&api), req.headers())
    };
    // kube-apiserver serves these three with a trailing slash too (the Python client asks
    // for `/version/`).
    Router::new()
        .route("/version", get(version))
        .route("/version/", get(version))
        .route("/healthz", get(ok))
        .route("/livez", get(ok))
        .route("/readyz", get(ok))
        .route("/metrics", get(metrics))
        .route("/cacerts", get(cacerts))
        .route("/api", get(api_doc.clone()))
        .route("/api/", get(api_doc))
        .route("/apis", get(apis_doc))
        .route("/apis/", get(apis_doc))
        .route("/openapi/v2", get(openapi_v2))
        .route(
            "/openapi/v3",
            get(|State(api): State<Arc<Api>>| async move {
                respond::json(200, &openapi::v3_index(&served(&api)))
            }),
        )
        .route("/openapi/v3/{*path}", get(openapi_v3))
        .route(tokens::oidc::CONFIGURATION, get(oidc_configuration))
        .route(tokens::oidc::JWKS, get(jwks))
        .fallback(resources)
        .layer(axum::middleware::from_fn_with_state(
            api.clone(),
            auth::layer,
        ))
        .with_state(api)
}

async fn version() -> Response {
    respond::json(
        200,
        &json!({
            "major": "1", "minor": "32", "gitVersion": "v1.32.4-krust", "gitCommit": env!("KRUST_GIT_COMMIT"),
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "rustc",
            "compiler": "rustc", "platform": "linux/amd64",
        }),
    )
}

async fn oidc_configuration(State(api): State<Arc<Api>>) -> Response {
    respond::json(200, &tokens::oidc::configuration(&api.tokens))
}

async fn jwks(State(api): State<Arc<Api>>) -> Response {
    respond::with_type(
        200,
        "application/jwk-set+json",
        api.tokens.jwks().to_string(),
    )
}

/// The cluster CA bundle (PEM), for nodes joining with a token that names its hash.
async fn cacerts(State(api): State<Arc<Api>>) -> Response {
    respond::with_type(
        200,
        "text/plain; charset=utf-8",
        api.ca_cert.clone().into_bytes(),
    )
}

async fn metrics(State(api): State<Arc<Api>>) -> Response {
    let text = api.metrics.render(api.registry.revision());
    respond::with_type(
        200,
        "text/plain; version=0.0.4; charset=utf-8",
        text.into_bytes(),
    )
}

/// Swagger 2.0, as JSON or as gnostic's protobuf (what kubectl asks for) by `Accept`, 406
/// otherwise; with an ETag (a matching `If-None-Match` gets 304) and `Last-Modified`.
async fn openapi_v2(req: Request) -> Response {
    let headers = req.headers();
    let accept = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .filter(|a| !a.trim().is_empty())
        .unwrap_or("*/*");
    let Some((content_type, body)) = openapi::v2_form(accept) else {
        let msg = format!(
            "only application/json and {} are supported for /openapi/v2",
            openapi::V2_PROTOBUF
        );
        return respond::error(&krust_api::status::ApiError::new(406, "NotAcceptable", msg));
    };
    let doc = &*openapi::V2;
    let unchanged = headers
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|t| t.trim() == doc.etag || t.trim() == "*")
        });
    let mut r = if unchanged {
        respond::with_type(304, content_type, axum::body::Body::empty())
    } else {
        respond::with_type(200, content_type, body)
    };
    let h = r.headers_mut();
    let last_modified = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&doc.built)
        .unwrap_or_default();
    for (name, value) in [
        (http::header::ETAG, doc.etag.clone()),
        (http::header::VARY, "Accept".to_string()),
        (http::header::LAST_MODIFIED, last_modified),
    ] {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    r
}

async fn openapi_v3(
    State(api): State<Arc<Api>>,
    axum::extract::Path(path): axum::extract::Path<String>,
) -> Response {
    if let Some((_, doc)) = openapi::V3.iter().find(|(p, _)| *p == path) {
        return respond::with_type(200, "application/json", doc.body.clone());
    }
    match openapi::custom_document(&served(&api), &path) {
        Some(doc) => respond::with_type(200, "application/json", doc.body),
        None => respond::error(&crate::path::not_found()),
    }
}

/// Every served resource: the static table's and the custom ones.
fn served(api: &Api) -> Vec<&'static krust_api::resources::Resource> {
    crate::custom::all_resources(&api.registry.custom)
}

/// Discovery documents under `/api/v1` and `/apis/…`, and every resource path.
async fn resources(state: State<Arc<Api>>, req: Request) -> Response {
    let segs: Vec<&str> = req.uri().path().trim_matches('/').split('/').collect();
    if let ["apis", group, rest @ ..] = segs.as_slice()
        && *group == resource_metrics::discovery::GROUP
    {
        let mut all = vec![*group];
        all.extend_from_slice(rest);
        let query = req.uri().query().unwrap_or("");
        return resource_metrics::serve(state.0.clone(), req.method(), &all, query).await;
    }
    if let ["api", "v1", "nodes", node, "proxy", rest @ ..] = segs.as_slice() {
        let path = rest.join("/");
        let query = req.uri().query();
        return handlers::kubelet_proxy::serve(state.0.clone(), req.method(), node, &path, query)
            .await;
    }
    let all = served(&state.0);
    let doc = match (req.method() == http::Method::GET, segs.as_slice()) {
        (true, ["api", v]) => Some(discovery::resource_list(&all, "", v)),
        (true, ["apis", g]) => Some(discovery::group(&all, g)),
        (true, ["apis", g, v]) => Some(discovery::resource_list(&all, g, v)),
        _ => None,
    };
    match doc {
        Some(Some(r)) => r,
        Some(None) => respond::error(&crate::path::not_found()),
        None => handlers::handle(state, req).await.into_response(),
    }
}
