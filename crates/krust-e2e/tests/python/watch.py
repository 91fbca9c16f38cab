"""The official client's watch.Watch().stream, which sends `watch=True` (Python's spelling of
a boolean; kube-apiserver reads any value but "false" and "0" as true): a watch without a
resourceVersion starts with an ADDED event per existing object; one from a list's
resourceVersion replays what happened since.
Usage: python watch.py KUBECONFIG
"""

import sys

from kubernetes import client, config, watch

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()
ns = "default"


def config_map(name, mode):
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"mode": mode})


def events(**kwargs):
    """Every event until the server ends the watch (timeout_seconds)."""
    stream = watch.Watch().stream(
        core.list_namespaced_config_map, ns, timeout_seconds=2, **kwargs
    )
    return [
        (e["type"], e["object"].metadata.name, (e["object"].data or {}).get("mode"))
        for e in stream
        if e["object"].metadata.name.startswith("watched-")
    ]


core.create_namespaced_config_map(ns, config_map("watched-a", "first"))
seen = events()
assert seen == [("ADDED", "watched-a", "first")], seen

rv = core.list_namespaced_config_map(ns).metadata.resource_version
core.create_namespaced_config_map(ns, config_map("watched-b", "first"))
core.patch_namespaced_config_map("watched-a", ns, {"data": {"mode": "second"}})
core.delete_namespaced_config_map("watched-b", ns)
seen = events(resource_version=rv)
assert seen == [
    ("ADDED", "watched-b", "first"),
    ("MODIFIED", "watched-a", "second"),
    ("DELETED", "watched-b", "first"),
], seen

print("ok")
