//! Tests of the default table (`Name`, `Created At`) for resources without a printer.

use serde_json::json;

use super::testing::{meta, row};
use super::*;

#[test]
fn other_resources_get_the_default_name_and_created_at_table() {
    let cols = columns("rbac.authorization.k8s.io", "roles");
    assert_eq!(
        cols.iter()
            .map(|c| (c.name, c.kind, c.format))
            .collect::<Vec<_>>(),
        [("Name", "string", "name"), ("Created At", "date", "")]
    );
    assert_eq!(
        row(
            "rbac.authorization.k8s.io",
            "roles",
            json!({"metadata": meta("r")})
        ),
        ["r", "2024-01-01T11:59:55Z"]
    );
    let frac =
        json!({"metadata": {"name": "f", "creationTimestamp": "2024-01-01T10:00:00.75+02:00"}});
    assert_eq!(
        row("example.com", "widgets", frac),
        ["f", "2024-01-01T08:00:00Z"]
    );
    assert_eq!(
        row("example.com", "widgets", json!({"metadata": {"name": "z"}})),
        ["z", "0001-01-01T00:00:00Z"]
    );
    // Core resources need the core group.
    assert_eq!(columns("apps", "pods").len(), 2);
}
