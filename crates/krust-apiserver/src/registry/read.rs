//! Get and list.

use super::{Registry, decode, store_error};
use base64::Engine;
use krust_api::resources::Resource;
use krust_api::selectors::{FieldSelector, LabelSelector};
use krust_api::status::ApiError;
use krust_store::{ListOptions, Revision};
use serde_json::{Value, json};

/// A list request.
#[derive(Default)]
pub struct ListQuery {
    pub namespace: Option<String>,
    pub labels: Option<LabelSelector>,
    pub fields: Option<FieldSelector>,
    /// Page size; 0 for everything.
    pub limit: usize,
    pub continue_token: Option<String>,
    /// `resourceVersion` with `resourceVersionMatch=Exact`: read at that revision.
    pub exact_revision: Option<Revision>,
}

/// One page of a list.
pub struct ListPage {
    pub items: Vec<Value>,
    pub revision: Revision,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

impl ListQuery {
    /// Whether the query has selectors (otherwise every object matches).
    pub fn selects(&self) -> bool {
        self.labels.is_some() || self.fields.is_some()
    }

    /// Whether `obj` passes the selectors.
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels
            .as_ref()
            .is_none_or(|s| s.matches(krust_api::meta::labels(obj)))
            && self.fields.as_ref().is_none_or(|s| s.matches(obj))
    }
}

fn encode_continue(rev: Revision, start: &str) -> String {
    let raw = json!({"v": "meta.k8s.io/v1", "rv": rev, "start": start}).to_string();
    base64::engine::general_purpose::URL_SAFE.encode(raw)
}

fn decode_continue(token: &str) -> Result<(Revision, String), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    Ok((
        v["rv"].as_i64().ok_or_else(bad)?,
        v["start"].as_str().ok_or_else(bad)?.to_string(),
    ))
}

impl Registry {
    /// Reads one object.
    pub async fn get(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        decode(&self.get_stored(resource, namespace, name).await?)
    }

    /// The stored form of one object (its JSON without `resourceVersion`, and its revisions).
    pub async fn get_stored(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<krust_store::KeyValue, ApiError> {
        self.store
            .get(&resource.key(namespace, name))
            .await
            .map_err(|e| store_error(resource, name, e))?
            .ok_or_else(|| ApiError::not_found(resource.group, resource.plural, name))
    }

    /// Lists objects, a page at a time when `limit` is set.
    pub async fn list(&self, resource: &Resource, q: &ListQuery) -> Result<ListPage, ApiError> {
        let prefix = resource.key_prefix(q.namespace.as_deref());
        let (mut revision, mut start) = match &q.continue_token {
            Some(t) => {
                let (rev, key) = decode_continue(t)?;
                (Some(rev), Some(format!("{prefix}{key}")))
            }
            None => (q.exact_revision, None),
        };
        let mut items = Vec::new();
        let filtered = q.labels.is_some() || q.fields.is_some();
        loop {
            let want = if q.limit == 0 {
                0
            } else {
                q.limit - items.len()
            };
            let opts = ListOptions {
                revision,
                start_after: start.clone(),
                limit: want,
            };
            let page = self.store.list(&prefix, opts).await.map_err(|e| match e {
                krust_store::Error::Compacted { .. } if q.continue_token.is_some() => ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ),
                e => store_error(resource, "", e),
            })?;
            revision = Some(page.revision);
            let last = page.items.last().map(|kv| kv.key.clone());
            for kv in &page.items {
                let obj = decode(kv)?;
                if q.matches(&obj) {
                    items.push(obj);
                }
            }
            let rev = page.revision;
            match last {
                Some(last) if page.remaining > 0 => {
                    if q.limit > 0 && items.len() >= q.limit {
                        let token =
                            encode_continue(rev, last.strip_prefix(&prefix).unwrap_or(&last));
                        let remaining = (!filtered).then_some(page.remaining);
                        return Ok(ListPage {
                            items,
                            revision: rev,
                            continue_token: Some(token),
                            remaining,
                        });
                    }
                    start = Some(last);
                }
                _ => {
                    return Ok(ListPage {
                        items,
                        revision: rev,
                        continue_token: None,
                        remaining: None,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let t = encode_continue(42, "default/web");
        assert_eq!(
            decode_continue(&t).unwrap(),
            (42, "default/web".to_string())
        );
        assert_eq!(decode_continue("!!").unwrap_err().code, 400);
    }
}
