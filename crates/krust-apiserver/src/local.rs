//! In-process clients: the components that run inside the server's own process (scheduler,
//! controller manager, sim nodes) send their requests straight to the routes, as a `tower`
//! service, instead of through a loopback socket. Every request goes through the same
//! authorization, handlers, admission and watch code as one from the network; what it skips
//! is the TCP connection, TLS and HTTP framing on both sides. The identity is the one the
//! component was given, as a client certificate would give it.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::HttpBody;
use axum::routing::future::RouteFuture;
use bytes::Bytes;
use http::{HeaderValue, Request, header};
use tower::{BoxError, Service};

use crate::auth::Identity;

/// A `tower` service answering requests with the server's routes, as `user` in the groups
/// `system:masters` and `system:authenticated`. Requests without a `User-Agent` get
/// `<user without "system:">/<krust version>`, so writes without a `fieldManager` are
/// recorded under that name (`kube-scheduler` for `system:kube-scheduler`).
#[derive(Clone)]
pub struct Local {
    routes: Router,
    identity: Identity,
    agent: HeaderValue,
}

impl Local {
    pub(crate) fn new(routes: Router, user: &str) -> Self {
        let product = user.strip_prefix("system:").unwrap_or(user);
        let agent = format!("{product}/v{}", env!("CARGO_PKG_VERSION"));
        Local {
            routes,
            identity: Identity {
                user: user.to_string(),
                groups: vec!["system:masters".into(), "system:authenticated".into()],
                ..Identity::default()
            },
            agent: HeaderValue::from_str(&agent)
                .unwrap_or_else(|_| HeaderValue::from_static("krust")),
        }
    }
}

impl<B> Service<Request<B>> for Local
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = RouteFuture<Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        req.extensions_mut().insert(self.identity.clone());
        req.headers_mut()
            .entry(header::USER_AGENT)
            .or_insert_with(|| self.agent.clone());
        self.routes.call(req)
    }
}
