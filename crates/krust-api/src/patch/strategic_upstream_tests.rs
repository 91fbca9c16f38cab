//! Strategic merge patch behaviours from Kubernetes' own test suite
//! (k8s.io/apimachinery `pkg/util/strategicpatch/patch_test.go`), on the same test type:
//! `mergeItem` with a merging list keyed by `name`, a non-merging list, merging and
//! non-merging int lists, a `retainKeys` map and a `merge,retainKeys` list.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::strategic_merge_patch_in;
use crate::schema::REF_PREFIX;

static DEFINITIONS: LazyLock<Map<String, Value>> = LazyLock::new(|| {
    let item = format!("{REF_PREFIX}mergeItem");
    let retain = format!("{REF_PREFIX}retainKeysMergeItem");
    let merging_list = json!({ "type": "array", "items": { "$ref": item },
        "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name" });
    let common = json!({
        "name": { "type": "integer" },
        "value": { "type": "string" },
        "other": { "type": "string" },
        "simpleMap": { "type": "object", "additionalProperties": { "type": "string" } },
        "mergingList": merging_list,
        "nonMergingList": { "type": "array", "items": { "$ref": item } },
        "mergingIntList": { "type": "array", "items": { "type": "integer" }, "x-kubernetes-patch-strategy": "merge" },
        "nonMergingIntList": { "type": "array", "items": { "type": "integer" } },
    });
    let mut item_props = common.as_object().unwrap().clone();
    item_props.insert(
        "mergeItemPtr".into(),
        json!({ "allOf": [{ "$ref": item }], "x-kubernetes-patch-strategy": "merge" }),
    );
    item_props.insert(
        "replacingItem".into(),
        json!({ "type": "object", "x-kubernetes-patch-strategy": "replace" }),
    );
    item_props.insert(
        "retainKeysMap".into(),
        json!({ "allOf": [{ "$ref": retain }], "x-kubernetes-patch-strategy": "retainKeys" }),
    );
    let mut retain_list = merging_list.clone();
    retain_list["x-kubernetes-patch-strategy"] = json!("merge,retainKeys");
    item_props.insert("retainKeysMergingList".into(), retain_list);
    let mut definitions = Map::new();
    definitions.insert(
        "mergeItem".into(),
        json!({ "type": "object", "properties": item_props }),
    );
    definitions.insert(
        "retainKeysMergeItem".into(),
        json!({ "type": "object", "properties": common }),
    );
    definitions
});

fn patched(original: Value, patch: Value) -> Result<Value, String> {
    strategic_merge_patch_in(&DEFINITIONS, original.clone(), &patch, "mergeItem")
        .map_err(|e| e.message)
}

/// `(description, original, patch, expected)`.
fn check(cases: Vec<(&str, Value, Value, Value)>) {
    for (description, original, patch, expected) in cases {
        assert_eq!(patched(original, patch), Ok(expected), "{description}");
    }
}

#[test]
fn directives_and_merging() {
    check(vec![
        (
            "unique scalars when merging lists",
            json!({"mergingIntList": [1, 2]}),
            json!({"mergingIntList": [2, 3]}),
            json!({"mergingIntList": [1, 2, 3]}),
        ),
        (
            "delete map from nested map",
            json!({"simpleMap": {"key1": "1", "key2": "1"}}),
            json!({"simpleMap": {"$patch": "delete"}}),
            json!({"simpleMap": {}}),
        ),
        (
            "delete all items from merging list",
            json!({"mergingList": [{"name": 1}, {"name": 2}]}),
            json!({"mergingList": [{"$patch": "replace"}]}),
            json!({"mergingList": []}),
        ),
        (
            "merge empty merging lists",
            json!({"mergingList": []}),
            json!({"mergingList": []}),
            json!({"mergingList": []}),
        ),
        (
            "delete all keys from map",
            json!({"name": 1, "value": "1"}),
            json!({"$patch": "replace"}),
            json!({}),
        ),
        (
            "add key and delete all keys from map",
            json!({"name": 1, "value": "1"}),
            json!({"other": "a", "$patch": "replace"}),
            json!({"other": "a"}),
        ),
        (
            "delete all duplicate entries in a merging list",
            json!({"mergingList": [{"name": 1}, {"name": 1}, {"name": 2, "value": "a"}, {"name": 3}, {"name": 3}]}),
            json!({"mergingList": [{"name": 1, "$patch": "delete"}, {"name": 3, "$patch": "delete"}]}),
            json!({"mergingList": [{"name": 2, "value": "a"}]}),
        ),
        (
            "replace strategy replaces a map",
            json!({"replacingItem": {"a": 1, "b": 2}}),
            json!({"replacingItem": {"c": 3}}),
            json!({"replacingItem": {"c": 3}}),
        ),
        (
            "non-merging list is replaced",
            json!({"nonMergingList": [{"name": 1}, {"name": 2}]}),
            json!({"nonMergingList": [{"name": 3}]}),
            json!({"nonMergingList": [{"name": 3}]}),
        ),
        (
            "non-merging int list is replaced",
            json!({"nonMergingIntList": [1, 2]}),
            json!({"nonMergingIntList": [2, 3]}),
            json!({"nonMergingIntList": [2, 3]}),
        ),
        (
            "replace non merging list nested in merging list",
            json!({"mergingList": [{"name": 1, "other": "a", "nonMergingList": [{"name": 1}, {"name": 2, "value": "2"}]}, {"name": 2}]}),
            json!({"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}], "mergingList": [{"name": 1, "nonMergingList": [{"name": 1, "value": "1"}]}]}),
            json!({"mergingList": [{"name": 1, "other": "a", "nonMergingList": [{"name": 1, "value": "1"}]}, {"name": 2}]}),
        ),
        (
            "delete field from map in merging list",
            json!({"mergingList": [{"name": 1, "value": "1", "other": "a"}, {"name": 2, "value": "2"}]}),
            json!({"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}], "mergingList": [{"name": 1, "value": null}]}),
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": "2"}]}),
        ),
    ]);
}

#[test]
fn list_order() {
    let list = |items: &[(i64, &str)]| -> Value {
        items
            .iter()
            .map(|(n, v)| {
                if v.is_empty() {
                    json!({"name": n})
                } else {
                    json!({"name": n, "value": v})
                }
            })
            .collect()
    };
    check(vec![
        (
            "preserve the order from the patch in a merging list",
            json!({"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "other": "x"}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "value": "b", "other": "x"}]}),
        ),
        (
            "preserve the order from the patch in a merging list 2",
            json!({"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
            json!({"mergingList": [{"name": 2, "value": "b"}, {"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
        ),
        (
            "preserve the order from the patch in a merging int list",
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"mergingIntList": [3, 1, 2]}),
            json!({"mergingIntList": [3, 1, 2]}),
        ),
        (
            "preserve the order from the patch in a merging int list 2",
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"mergingIntList": [3, 1]}),
            json!({"mergingIntList": [2, 3, 1]}),
        ),
        (
            "$setElementOrder contains item that is not present in the list to be merged",
            json!({"mergingList": list(&[(1, ""), (3, "")])}),
            json!({"$setElementOrder/mergingList": list(&[(3, ""), (2, ""), (1, "")]), "mergingList": list(&[(3, "3"), (1, "1")])}),
            json!({"mergingList": list(&[(3, "3"), (1, "1")])}),
        ),
        (
            "$setElementOrder contains item that is not present in the int list",
            json!({"mergingIntList": [1, 3]}),
            json!({"$setElementOrder/mergingIntList": [3, 2, 1]}),
            json!({"mergingIntList": [3, 1]}),
        ),
        (
            "merge lists of maps",
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": "2", "other": "b"}]}),
            json!({"$setElementOrder/mergingList": list(&[(4, ""), (1, ""), (2, ""), (3, "")]), "mergingList": list(&[(4, "4"), (3, "3")])}),
            json!({"mergingList": [{"name": 4, "value": "4"}, {"name": 1, "other": "a"}, {"name": 2, "value": "2", "other": "b"}, {"name": 3, "value": "3"}]}),
        ),
        (
            "add field to map in merging list with conflict",
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 3, "value": "2", "other": "b"}]}),
            json!({"$setElementOrder/mergingList": list(&[(1, ""), (2, "")]), "mergingList": list(&[(1, "1"), (2, "2")])}),
            json!({"mergingList": [{"name": 1, "other": "a", "value": "1"}, {"name": 2, "value": "2"}, {"name": 3, "value": "2", "other": "b"}]}),
        ),
        (
            "delete missing map from merging list with conflict",
            json!({"mergingList": [{"name": 3, "other": "a"}]}),
            json!({"$setElementOrder/mergingList": list(&[(2, "")]), "mergingList": [{"name": 2}, {"name": 1, "$patch": "delete"}]}),
            json!({"mergingList": [{"name": 2}, {"name": 3, "other": "a"}]}),
        ),
        (
            "add map and delete map from merging list",
            json!({"mergingList": [{"name": 1}, {"name": 2, "other": "b"}, {"name": 4, "other": "c"}]}),
            json!({"$setElementOrder/mergingList": list(&[(2, ""), (3, "")]), "mergingList": [{"name": 3}, {"name": 1, "$patch": "delete"}]}),
            json!({"mergingList": [{"name": 2, "other": "b"}, {"name": 4, "other": "c"}, {"name": 3}]}),
        ),
        (
            "add map and delete map from merging list with conflict",
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 4, "other": "c"}]}),
            json!({"$setElementOrder/mergingList": list(&[(2, ""), (3, "")]), "mergingList": [{"name": 2}, {"name": 3}, {"name": 1, "$patch": "delete"}]}),
            json!({"mergingList": [{"name": 4, "other": "c"}, {"name": 2}, {"name": 3}]}),
        ),
        (
            "set elements order in a list with server-only items",
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2}, {"name": 7}, {"name": 9}, {"name": 8}, {"name": 3}, {"name": 4}]}),
            json!({"$setElementOrder/mergingList": list(&[(2, ""), (1, ""), (4, ""), (3, "")])}),
            json!({"mergingList": [{"name": 2}, {"name": 1, "other": "a"}, {"name": 7}, {"name": 9}, {"name": 8}, {"name": 4}, {"name": 3}]}),
        ),
        (
            "set elements order in an int list with server-only items",
            json!({"mergingIntList": [1, 2, 7, 9, 8, 3, 4]}),
            json!({"$setElementOrder/mergingIntList": [2, 1, 4, 3]}),
            json!({"mergingIntList": [2, 1, 7, 9, 8, 4, 3]}),
        ),
        (
            "add multiple items in an int list and preserve order",
            json!({"mergingIntList": [1, 2]}),
            json!({"$setElementOrder/mergingIntList": [1, 4, 2, 3], "mergingIntList": [4, 3]}),
            json!({"mergingIntList": [1, 4, 2, 3]}),
        ),
        (
            "add and delete an item in an int list and preserve order",
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"$setElementOrder/mergingIntList": [4, 2, 1], "mergingIntList": [4], "$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"mergingIntList": [4, 2, 1]}),
        ),
        (
            "set element order for a merging list with duplicates",
            json!({"mergingList": [{"name": 1}, {"name": 2, "value": "dup1"}, {"name": 3}, {"name": 2, "value": "dup2"}, {"name": 4}]}),
            json!({"$setElementOrder/mergingList": list(&[(2, ""), (1, ""), (4, ""), (3, ""), (2, "")])}),
            json!({"mergingList": [{"name": 2, "value": "dup1"}, {"name": 2, "value": "dup2"}, {"name": 1}, {"name": 4}, {"name": 3}]}),
        ),
        (
            "set element order for an int list with duplicates",
            json!({"mergingIntList": [1, 2, 3, 2, 4]}),
            json!({"$setElementOrder/mergingIntList": [2, 1, 4, 3, 2]}),
            json!({"mergingIntList": [2, 2, 1, 4, 3]}),
        ),
        (
            "nested patch merge with empty list",
            json!({"name": 1, "mergingList": [{"name": 12}]}),
            json!({"$setElementOrder/mergingList": list(&[(11, ""), (13, "")]), "mergingList": [{"name": 11}, {"$patch": "delete", "name": 13}]}),
            json!({"name": 1, "mergingList": [{"name": 11}, {"name": 12}]}),
        ),
        (
            "nested patch merge into no list",
            json!({"name": 1}),
            json!({"mergingList": [{"name": 11}, {"$patch": "delete", "name": 13}]}),
            json!({"name": 1, "mergingList": [{"name": 11}]}),
        ),
    ]);
}

#[test]
fn primitive_list_deletions() {
    check(vec![
        (
            "delete items in lists of scalars",
            json!({"mergingIntList": [1, 2, 3, 4]}),
            json!({"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"mergingIntList": [1, 2, 4]}),
        ),
        (
            "delete all duplicate items in lists of scalars",
            json!({"mergingIntList": [1, 2, 3, 3, 4]}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"mergingIntList": [1, 2, 4]}),
        ),
        (
            "$deleteFromPrimitiveList of nonexistent item",
            json!({"mergingIntList": [1, 2]}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"mergingIntList": [1, 2]}),
        ),
        (
            "$deleteFromPrimitiveList on nonexistent list",
            json!({"other": "bar"}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"other": "bar"}),
        ),
        (
            "$deleteFromPrimitiveList from a merging list",
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [2]}),
            json!({"mergingIntList": [1, 3]}),
        ),
        (
            "$deleteFromPrimitiveList from a non-merging list",
            json!({"nonMergingIntList": [1, 2, 3]}),
            json!({"$deleteFromPrimitiveList/nonMergingIntList": [2]}),
            json!({"nonMergingIntList": [1, 3]}),
        ),
    ]);
}

#[test]
fn retain_keys() {
    check(vec![
        (
            "retainKeys map can add a field when no retainKeys directive present",
            json!({"retainKeysMap": {"name": 1}}),
            json!({"retainKeysMap": {"value": "bar"}}),
            json!({"retainKeysMap": {"name": 1, "value": "bar"}}),
        ),
        (
            "retainKeys map can delete a field when no retainKeys directive present",
            json!({"retainKeysMap": {"name": 1, "value": "a"}}),
            json!({"retainKeysMap": {"value": null}}),
            json!({"retainKeysMap": {"name": 1}}),
        ),
        (
            "retainKeys map merge an empty map",
            json!({"retainKeysMap": {"name": 1, "value": "a"}}),
            json!({"retainKeysMap": {}}),
            json!({"retainKeysMap": {"name": 1, "value": "a"}}),
        ),
        (
            "retainKeys map should clear defaulted field",
            json!({"retainKeysMap": {"value": "foo"}}),
            json!({"retainKeysMap": {"$retainKeys": ["other"], "other": "bar"}}),
            json!({"retainKeysMap": {"other": "bar"}}),
        ),
        (
            "retainKeys map adds a field and clears a field",
            json!({"retainKeysMap": {"name": 1, "other": "a"}}),
            json!({"retainKeysMap": {"$retainKeys": ["name", "value"], "value": "bar"}}),
            json!({"retainKeysMap": {"name": 1, "value": "bar"}}),
        ),
        (
            "retainKeys map deletes a field and clears a field",
            json!({"retainKeysMap": {"name": 1, "value": "bar", "other": "a"}}),
            json!({"retainKeysMap": {"$retainKeys": ["name"], "value": null}}),
            json!({"retainKeysMap": {"name": 1}}),
        ),
        (
            "retainKeys map adds a field in a nested map",
            json!({"retainKeysMap": {"name": 1, "value": "bar", "simpleMap": {"key1": "a", "key3": "c"}}}),
            json!({"retainKeysMap": {"$retainKeys": ["name", "simpleMap", "value"], "simpleMap": {"key2": "b"}}}),
            json!({"retainKeysMap": {"name": 1, "value": "bar", "simpleMap": {"key1": "a", "key2": "b", "key3": "c"}}}),
        ),
        (
            "retainKeys list can add a field when no retainKeys directive present",
            json!({"retainKeysMergingList": [{"name": 2}, {"name": 1}]}),
            json!({"retainKeysMergingList": [{"name": 1, "value": "a"}]}),
            json!({"retainKeysMergingList": [{"name": 2}, {"name": 1, "value": "a"}]}),
        ),
        (
            "retainKeys in a list item clears fields",
            json!({"retainKeysMergingList": [{"name": 1, "value": "a", "other": "b"}]}),
            json!({"retainKeysMergingList": [{"name": 1, "$retainKeys": ["name", "value"], "value": "c"}]}),
            json!({"retainKeysMergingList": [{"name": 1, "value": "c"}]}),
        ),
    ]);
}

#[test]
fn errors() {
    let order_mismatch = patched(
        json!({"mergingList": [{"name": 1}, {"name": 3}, {"name": 2}]}),
        json!({"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}], "mergingList": [{"name": 3, "value": "3"}, {"name": 1, "value": "1"}]}),
    );
    assert!(order_mismatch.unwrap_err().contains("doesn't match"));
    let int_mismatch = patched(
        json!({"mergingIntList": [1, 3, 2]}),
        json!({"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]}),
    );
    assert!(int_mismatch.unwrap_err().contains("doesn't match"));
    let no_key = patched(
        json!({"mergingList": [{"name": 1, "value": "a"}]}),
        json!({"mergingList": [{"value": "b"}]}),
    );
    assert!(
        no_key
            .unwrap_err()
            .contains("does not contain declared merge key")
    );
    let bad_retain = patched(
        json!({"retainKeysMap": {"name": 1}}),
        json!({"retainKeysMap": {"$retainKeys": ["name"], "value": "x"}}),
    );
    assert_eq!(
        bad_retain,
        Err("invalid patch format of retainKeys".to_owned())
    );
}
