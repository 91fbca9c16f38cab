//! JSON patch (RFC 6902) and JSON merge patch (RFC 7386).

use serde_json::json;

use super::strategic_tests::deployment;
use super::{json_patch, merge_patch};

#[test]
fn json_patch_applies_rfc6902() {
    let patch = br#"[{"op":"replace","path":"/spec/replicas","value":3},{"op":"add","path":"/metadata/labels/tier","value":"web"},
        {"op":"remove","path":"/spec/template/spec/tolerations/0"},{"op":"test","path":"/kind","value":"Deployment"}]"#;
    let got = json_patch(deployment(), patch).unwrap();
    assert_eq!(got["spec"]["replicas"], json!(3));
    assert_eq!(
        got["metadata"]["labels"],
        json!({ "app": "nginx", "tier": "web" })
    );
    assert_eq!(
        got["spec"]["template"]["spec"]["tolerations"],
        json!([{ "key": "b", "operator": "Exists" }])
    );
    let failed = json_patch(
        deployment(),
        br#"[{"op":"test","path":"/kind","value":"Pod"}]"#,
    )
    .unwrap_err();
    assert_eq!((failed.code, failed.reason()), (422, "Invalid"));
    let missing =
        json_patch(deployment(), br#"[{"op":"remove","path":"/spec/nope"}]"#).unwrap_err();
    assert_eq!(missing.code, 422);
    assert_eq!(
        json_patch(deployment(), b"{\"op\":1}").unwrap_err().code,
        400
    );
    assert_eq!(json_patch(deployment(), b"[]").unwrap(), deployment());
}

#[test]
fn merge_patch_applies_rfc7386() {
    let patch = json!({ "spec": { "replicas": 5, "template": { "spec": { "containers": [{ "name": "x" }], "dnsPolicy": null } } } });
    let got = merge_patch(deployment(), &patch);
    assert_eq!(got["spec"]["replicas"], json!(5));
    assert_eq!(
        got["spec"]["template"]["spec"]["containers"],
        json!([{ "name": "x" }])
    );
    assert_eq!(got["spec"]["template"]["spec"].get("dnsPolicy"), None);
    assert_eq!(got["spec"]["selector"], deployment()["spec"]["selector"]);
}
