use serde_json::{Map, Value, json};

use super::*;

fn labels(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn parse_err(s: &str) -> String {
    LabelSelector::parse(s).unwrap_err().message().to_string()
}

const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

#[test]
fn label_parse_and_string_round_trip() {
    let s = LabelSelector::parse("x in (foo,,baz),y,z notin ()").unwrap();
    assert_eq!(s.to_string(), "x in (,baz,foo),y,z notin ()");
    let s = LabelSelector::parse("tier=web,app==nginx,env!=prod,!old,ver>3,gen<5").unwrap();
    // Sorted by key, as Kubernetes sorts requirements.
    assert_eq!(
        s.to_string(),
        "app==nginx,env!=prod,gen<5,!old,tier=web,ver>3"
    );
    assert!(LabelSelector::parse("").unwrap().is_empty());
    assert!(LabelSelector::parse("  ").unwrap().is_empty());
    assert_eq!(LabelSelector::parse("a=").unwrap().to_string(), "a=");
    assert_eq!(
        LabelSelector::parse(" a = b , c ").unwrap().to_string(),
        "a=b,c"
    );
    // `in`/`notin` are plain identifiers in value position.
    assert_eq!(
        LabelSelector::parse("in in (in,notin)")
            .unwrap()
            .to_string(),
        "in in (in,notin)"
    );
    assert_eq!(
        LabelSelector::parse("example.com/app=x")
            .unwrap()
            .to_string(),
        "example.com/app=x"
    );
}

#[test]
fn label_matching() {
    let l = labels(json!({"app": "nginx", "tier": "web", "ver": "4"}));
    let m = |s: &str| LabelSelector::parse(s).unwrap().matches(Some(&l));
    assert!(m("app=nginx"));
    assert!(m("app==nginx,tier"));
    assert!(!m("app=apache"));
    assert!(m("app!=apache"));
    assert!(m("missing!=x"));
    assert!(m("app in (nginx,apache)"));
    assert!(!m("app notin (nginx)"));
    assert!(m("missing notin (nginx)"));
    assert!(m("!missing"));
    assert!(!m("!app"));
    assert!(!m("missing"));
    assert!(m("ver>3"));
    assert!(!m("ver>4"));
    assert!(m("ver<5"));
    assert!(!m("app>1"));
    assert!(!m("missing<1"));
    assert!(m(""));
    let sel = LabelSelector::parse("app").unwrap();
    assert!(!sel.matches(None));
    assert!(LabelSelector::parse("!app").unwrap().matches(None));
}

#[test]
fn label_parse_errors_are_worded_as_kubernetes() {
    assert_eq!(
        parse_err("app:monolith"),
        format!(
            "unable to parse requirement: <nil>: Invalid value: \"app:monolith\": {NAME_PART_MSG}"
        )
    );
    assert_eq!(
        parse_err("a/b/c ?=? def"),
        "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    );
    assert_eq!(
        parse_err("app.kubernetes_io/name=x"),
        "unable to parse requirement: <nil>: Invalid value: \"app.kubernetes_io/name\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    );
    assert_eq!(
        parse_err(&format!("good-key={}", "z".repeat(64))),
        format!(
            "unable to parse requirement: values[0][good-key]: Invalid value: \"{}\": must be no more than 63 characters",
            "z".repeat(64)
        )
    );
    assert_eq!(
        parse_err("a b"),
        "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
    );
    assert_eq!(
        parse_err("a=b,"),
        "found '', expected: identifier after ','"
    );
    assert_eq!(
        parse_err("a=b c"),
        "found 'c', expected: ',' or 'end of string'"
    );
    assert_eq!(
        parse_err("=a"),
        "found '=', expected: !, identifier, or 'end of string'"
    );
    assert_eq!(
        parse_err("!"),
        "unable to parse requirement: found '', expected: identifier"
    );
    assert_eq!(
        parse_err("a in"),
        "unable to parse requirement: found '' expected: '('"
    );
    assert_eq!(
        parse_err("a in (b"),
        "unable to parse requirement: found '', expected: ',' or ')'"
    );
    assert_eq!(
        parse_err("a in (="),
        "unable to parse requirement: found '=', expected: ',', ')' or identifier"
    );
    assert_eq!(
        parse_err("a=(b"),
        "unable to parse requirement: found '(', expected: identifier"
    );
    assert_eq!(
        parse_err("a>b"),
        "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"
    );
    assert_eq!(
        parse_err("a=b@"),
        "unable to parse requirement: values[0][a]: Invalid value: \"b@\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    );
}

#[test]
fn label_selector_from_object() {
    let v = json!({"matchLabels": {"app": "nginx"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["web", "api"]},
        {"key": "old", "operator": "DoesNotExist"}]});
    let s = LabelSelector::from_object(&v).unwrap();
    assert_eq!(s.to_string(), "app=nginx,!old,tier in (api,web)");
    assert!(s.matches(Some(&labels(json!({"app": "nginx", "tier": "api"})))));
    assert!(!s.matches(Some(&labels(
        json!({"app": "nginx", "tier": "api", "old": "1"})
    ))));
    let empty = LabelSelector::from_object(&json!({})).unwrap();
    assert!(empty.is_empty() && empty.matches(None));
    let nothing = LabelSelector::from_object(&Value::Null).unwrap();
    assert!(!nothing.is_empty() && !nothing.matches(Some(&labels(json!({"a": "b"})))));
    assert_eq!(
        LabelSelector::from_object(&json!({"matchExpressions": [{"key": "a", "operator": "Foo"}]}))
            .unwrap_err()
            .message(),
        "\"Foo\" is not a valid label selector operator"
    );
    assert_eq!(
        LabelSelector::from_object(&json!({"matchExpressions": [{"key": "a", "operator": "In"}]}))
            .unwrap_err()
            .message(),
        "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
    );
    assert_eq!(
        LabelSelector::from_object(
            &json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})
        )
        .unwrap_err()
        .message(),
        "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
    );
    assert_eq!(
        LabelSelector::from_object(&json!({"matchLabels": {"a b": "c"}}))
            .unwrap_err()
            .message(),
        format!("key: Invalid value: \"a b\": {NAME_PART_MSG}")
    );
}

#[test]
fn selector_rendering_helpers() {
    assert_eq!(
        label_selector_string(&json!({"matchLabels": {"app": "nginx"}})),
        "app=nginx"
    );
    assert_eq!(label_selector_string(&json!({})), "");
    assert_eq!(label_selector_string(&Value::Null), "");
    assert_eq!(format_label_selector(&Value::Null), "<none>");
    assert_eq!(
        format_label_selector(&json!({"matchLabels": {"b": "2", "a": "1"}})),
        "a=1,b=2"
    );
    assert_eq!(
        format_label_selector(&json!({"matchExpressions": [{"key": "a", "operator": "Bad"}]})),
        "<error>"
    );
    assert_eq!(format_labels(None), "<none>");
    assert_eq!(
        format_labels(Some(&labels(json!({"run": "nginx", "app": "x"})))),
        "app=x,run=nginx"
    );
}

#[test]
fn field_parse_and_match() {
    let pod = json!({"metadata": {"name": "nginx", "namespace": "default"},
        "spec": {"nodeName": "node-1", "restartPolicy": "Always"},
        "status": {"phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}]}});
    let m = |s: &str| FieldSelector::parse(s).unwrap().matches(&pod);
    assert!(m("metadata.name=nginx"));
    assert!(m("metadata.name==nginx,status.phase!=Pending"));
    assert!(!m("status.phase!=Running"));
    assert!(m("spec.hostNetwork=false"));
    assert!(m("spec.host=node-1"));
    assert!(m("status.podIP=10.0.0.1"));
    assert!(m("status.nominatedNodeName="));
    assert!(m(""));
    let node = json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}});
    assert!(
        FieldSelector::parse("spec.unschedulable=true")
            .unwrap()
            .matches(&node)
    );
    let ev = json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "nginx"},
        "reportingComponent": "kubelet", "source": {}});
    assert!(
        FieldSelector::parse("involvedObject.kind=Pod,source=kubelet")
            .unwrap()
            .matches(&ev)
    );
    let ev2 = json!({"metadata": {"name": "e"}, "regarding": {"kind": "Pod"}, "reportingController": "k"});
    assert!(
        FieldSelector::parse("regarding.kind=Pod,reportingController=k")
            .unwrap()
            .matches(&ev2)
    );
    let s = FieldSelector::parse("b=2,a!=x\\,y").unwrap();
    assert_eq!(s.to_string(), "a!=x\\,y,b=2");
    assert_eq!(s.terms()[0].value, "x,y");
    assert_eq!(
        FieldSelector::parse("metadata.name=a")
            .unwrap()
            .requires_exact_match("metadata.name"),
        Some("a")
    );
}

#[test]
fn field_parse_errors() {
    let err = |s: &str| FieldSelector::parse(s).unwrap_err().message().to_string();
    assert_eq!(
        err("foo"),
        "invalid selector: 'foo'; can't understand 'foo'"
    );
    assert_eq!(
        err("a=b=c"),
        "invalid field selector: unescaped character in value: 61"
    );
    assert_eq!(
        err("a=b\\x"),
        "invalid field selector: invalid escape sequence: \\x"
    );
    assert_eq!(
        err("a=b\\"),
        "invalid field selector: invalid escape sequence: \\"
    );
}

#[test]
fn field_validation_per_resource() {
    let v = |s: &str, g: &str, r: &str| FieldSelector::parse(s).unwrap().validate(g, r);
    assert!(v("spec.nodeName=n,status.phase=Running", "", "pods").is_ok());
    assert_eq!(
        v("foo=bar", "", "pods").unwrap_err().message(),
        "field label not supported: foo"
    );
    assert!(v("spec.unschedulable=true", "", "nodes").is_ok());
    assert_eq!(
        v("metadata.namespace=x", "", "nodes")
            .unwrap_err()
            .message(),
        "field label not supported: metadata.namespace"
    );
    assert!(v("involvedObject.name=x,type=Normal", "", "events").is_ok());
    assert!(v("regarding.name=x", "events.k8s.io", "events").is_ok());
    assert!(v("type=Opaque", "", "secrets").is_ok());
    assert!(v("status.phase=Active", "", "namespaces").is_ok());
    assert!(v("spec.type=ClusterIP", "", "services").is_ok());
    assert!(
        v(
            "metadata.name=a,metadata.namespace=b",
            "apps",
            "deployments"
        )
        .is_ok()
    );
    assert_eq!(
        v("status.replicas=1", "apps", "replicasets")
            .unwrap_err()
            .message(),
        "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
    );
    // The first unsupported field in sorted order is reported.
    assert_eq!(
        v("zzz=1,aaa=2", "", "pods").unwrap_err().message(),
        "field label not supported: aaa"
    );
}
