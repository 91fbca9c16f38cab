"""kr8s (its sync API) connects, lists the two sim nodes, and creates, reads and deletes a
ConfigMap and a Pod.

kr8s connects by asking GET /version/ first: a server without the trailing-slash paths makes
it fail before any other request.
Usage: python kr8s_client.py KUBECONFIG
"""

import sys
import time

import kr8s
from kr8s.objects import ConfigMap, Pod

api = kr8s.api(kubeconfig=sys.argv[1])

version = api.version()
assert version["major"] == "1" and version["minor"] == "32", version



def ready(node):
    return any(c.type == "Ready" and c.status == "True" for c in node.status.get("conditions", []))


# The sim nodes register as the server starts; give them a moment.
deadline = time.monotonic() + 30
while True:
    nodes = list(kr8s.get("nodes", api=api))
    if len(nodes) == 2 and all(ready(n) for n in nodes):
        break
    assert time.monotonic() < deadline, [(n.name, n.status) for n in nodes]
    time.sleep(0.2)
assert sorted(n.name for n in nodes) == ["sim-node-0", "sim-node-1"], nodes

cm = ConfigMap(
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kr8s-settings", "namespace": "default"},
        "data": {"mode": "first"},
    },
    api=api,
)
cm.create()
assert cm.metadata.uid, cm.raw
[found] = kr8s.get("configmaps", "kr8s-settings", namespace="default", api=api)
assert found.data["mode"] == "first", found.raw
cm.patch({"data": {"mode": "second"}})
assert cm.data["mode"] == "second", cm.raw
cm.delete()
assert not cm.exists(), cm.raw

pod = Pod(
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kr8s-pod", "namespace": "default"},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    },
    api=api,
)
pod.create()
pod.wait("condition=Ready", timeout=60)
pod.refresh()
assert pod.status.phase == "Running", pod.raw["status"]
assert pod.spec.nodeName in [n.name for n in nodes], pod.raw["spec"]
pod.delete()
pod.wait("delete", timeout=60)
assert not pod.exists()

print("ok")
