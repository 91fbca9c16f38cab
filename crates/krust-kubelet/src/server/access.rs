//! Who may use the kubelet API, decided as the kubelet's webhook authentication and
//! authorization decide it (`pkg/kubelet/server/auth.go`, `InstallAuthFilter` of
//! `server.go`): a client certificate of the cluster CA, else a bearer token the API server
//! vouches for (a TokenReview); then the request as attributes on the node
//! (`nodes/proxy`, `nodes/log`, `nodes/stats`, `nodes/metrics`, `nodes/checkpoint`, the verb
//! from the HTTP method), which the API server allows or not (a SubjectAccessReview).
//! Answers are kept as the kubelet's defaults keep them: tokens 2 minutes, allowed requests
//! 5 minutes, refused ones 30 seconds.

use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::PostParams;

use super::answer_cache::AnswerCache;
use super::tls::Caller;

const TOKEN_TTL: Duration = Duration::from_secs(120);
const ALLOWED_TTL: Duration = Duration::from_secs(300);
const DENIED_TTL: Duration = Duration::from_secs(30);

/// What a request to the kubelet asks of its node (the kubelet's `GetRequestAttributes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRequest {
    /// `get`, `create`, `update`, `patch`, `delete` (empty for other methods).
    pub verb: &'static str,
    /// The subresource of `nodes` the path is authorized as.
    pub subresource: &'static str,
}

/// Whether `path` is `prefix` or below it (the kubelet's `isSubpath`).
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

impl NodeRequest {
    /// The attributes of a request with `method` to `path`.
    pub fn of(method: &hyper::Method, path: &str) -> NodeRequest {
        let verb = match method.as_str() {
            "GET" => "get",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => "",
        };
        let subresource = if under(path, "/stats") {
            "stats"
        } else if under(path, "/metrics") {
            "metrics"
        } else if under(path, "/logs") {
            "log"
        } else if under(path, "/checkpoint") {
            "checkpoint"
        } else {
            "proxy"
        };
        NodeRequest { verb, subresource }
    }

    /// The kubelet's 403 body.
    pub fn forbidden(&self, user: &str) -> String {
        format!(
            "Forbidden (user={user}, verb={}, resource=nodes, subresource(s)=[{}])\n",
            self.verb, self.subresource
        )
    }

    /// The kubelet's 500 body when the API server could not be asked.
    pub fn error(&self, user: &str) -> String {
        format!(
            "Authorization error (user={user}, verb={}, resource=nodes, subresource={})",
            self.verb, self.subresource
        )
    }
}

/// The kubelet's authenticator and authorizer: reviews asked of the API server, answers kept.
pub struct Access {
    client: kube::Client,
    node: String,
    tokens: AnswerCache<Option<Caller>>,
    decisions: AnswerCache<bool>,
}

impl Access {
    /// Reviews asked through `client` (the node's own credentials) for node `node`.
    pub fn new(client: kube::Client, node: String) -> Self {
        Access {
            client,
            node,
            tokens: AnswerCache::default(),
            decisions: AnswerCache::default(),
        }
    }

    /// Who a bearer token is, if the API server knows it (a TokenReview for the API server's
    /// own audiences); `None` for an invalid token, an error when it could not be asked.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Caller>, kube::Error> {
        let now = Instant::now();
        if let Some(known) = self.tokens.get(token, now) {
            return Ok(known);
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_string()),
                audiences: None,
            },
            ..Default::default()
        };
        let answer = kube::Api::<TokenReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await?;
        let status = answer.status.unwrap_or_default();
        let caller = match (status.authenticated, status.user) {
            (Some(true), Some(user)) => Some(Caller {
                user: user.username.unwrap_or_default(),
                uid: user.uid.unwrap_or_default(),
                groups: user.groups.unwrap_or_default(),
                extra: user.extra.unwrap_or_default(),
            }),
            _ => None,
        };
        self.tokens
            .put(token.to_string(), caller.clone(), now, TOKEN_TTL);
        Ok(caller)
    }

    /// Whether the API server allows `caller` to make `request` of this node.
    pub async fn authorize(
        &self,
        caller: &Caller,
        request: &NodeRequest,
    ) -> Result<bool, kube::Error> {
        let spec = SubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(request.verb.to_string()),
                group: Some(String::new()),
                version: Some("v1".into()),
                resource: Some("nodes".into()),
                subresource: Some(request.subresource.to_string()),
                name: Some(self.node.clone()),
                ..Default::default()
            }),
            user: Some(caller.user.clone()),
            uid: (!caller.uid.is_empty()).then(|| caller.uid.clone()),
            groups: Some(caller.groups.clone()),
            extra: (!caller.extra.is_empty()).then(|| caller.extra.clone()),
            ..Default::default()
        };
        // As the webhook authorizer, keyed by the whole question.
        let key = serde_json::to_string(&spec).unwrap_or_default();
        let now = Instant::now();
        if let Some(known) = self.decisions.get(&key, now) {
            return Ok(known);
        }
        let review = SubjectAccessReview {
            spec,
            ..Default::default()
        };
        let answer = kube::Api::<SubjectAccessReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await?;
        let allowed = answer.status.is_some_and(|s| s.allowed);
        let ttl = if allowed { ALLOWED_TTL } else { DENIED_TTL };
        self.decisions.put(key, allowed, now, ttl);
        Ok(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    #[test]
    fn paths_are_authorized_as_the_kubelet_names_them() {
        let of = |m: Method, p: &str| {
            let r = NodeRequest::of(&m, p);
            (r.verb, r.subresource)
        };
        assert_eq!(of(Method::GET, "/containerLogs/ns/p/c"), ("get", "proxy"));
        assert_eq!(of(Method::POST, "/exec/ns/p/c"), ("create", "proxy"));
        assert_eq!(of(Method::GET, "/portForward/ns/p"), ("get", "proxy"));
        assert_eq!(of(Method::GET, "/stats/summary"), ("get", "stats"));
        assert_eq!(of(Method::GET, "/stats"), ("get", "stats"));
        assert_eq!(of(Method::GET, "/statsfoo"), ("get", "proxy"));
        assert_eq!(of(Method::GET, "/metrics/resource"), ("get", "metrics"));
        assert_eq!(of(Method::GET, "/logs/syslog"), ("get", "log"));
        assert_eq!(
            of(Method::POST, "/checkpoint/ns/p/c"),
            ("create", "checkpoint")
        );
        assert_eq!(of(Method::DELETE, "/pods"), ("delete", "proxy"));
        assert_eq!(of(Method::OPTIONS, "/healthz"), ("", "proxy"));
    }

    #[test]
    fn refusals_read_as_the_kubelet_writes_them() {
        let r = NodeRequest::of(&Method::GET, "/containerLogs/ns/p/c");
        assert_eq!(
            r.forbidden("system:serviceaccount:default:default"),
            "Forbidden (user=system:serviceaccount:default:default, verb=get, resource=nodes, subresource(s)=[proxy])\n"
        );
        assert_eq!(
            r.error("alice"),
            "Authorization error (user=alice, verb=get, resource=nodes, subresource=proxy)"
        );
    }
}
