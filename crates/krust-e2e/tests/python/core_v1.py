"""CoreV1Api on a namespace and a ConfigMap: create, read, replace without a resourceVersion,
patch, delete; a missing object is a 404 whose body is kube-apiserver's text, byte for byte.
Usage: python core_v1.py KUBECONFIG
"""

import sys

from kubernetes import client, config
from kubernetes.client.rest import ApiException

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()
ns = "py-core"

core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))

created = core.create_namespaced_config_map(
    ns,
    client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings", labels={"app": "py"}),
        data={"mode": "first"},
    ),
)
assert created.metadata.uid, created
assert created.data == {"mode": "first"}, created

read = core.read_namespaced_config_map("settings", ns)
assert read.metadata.uid == created.metadata.uid, read
assert read.metadata.resource_version == created.metadata.resource_version, read

# PUT without metadata.resourceVersion: an unconditional update, no 409.
replacement = client.V1ConfigMap(
    metadata=client.V1ObjectMeta(name="settings", labels={"app": "py"}),
    data={"mode": "second"},
)
replaced = core.replace_namespaced_config_map("settings", ns, replacement)
assert replaced.data == {"mode": "second"}, replaced
assert replaced.metadata.resource_version != created.metadata.resource_version, replaced
# Twice in a row, still unconditional.
replaced = core.replace_namespaced_config_map("settings", ns, replacement)
assert replaced.data == {"mode": "second"}, replaced

# A dict body goes out as a strategic merge patch.
patched = core.patch_namespaced_config_map(
    "settings", ns, {"data": {"extra": "yes"}, "metadata": {"labels": {"tier": "web"}}}
)
assert patched.data == {"mode": "second", "extra": "yes"}, patched
assert patched.metadata.labels == {"app": "py", "tier": "web"}, patched

# A ConfigMap's DELETE answers a success Status (its storage does not return the object).
done = core.delete_namespaced_config_map("settings", ns)
assert done.status == "Success", done
assert done.details.name == "settings" and done.details.kind == "configmaps", done

for name in ("settings", "nope"):
    try:
        core.read_namespaced_config_map(name, ns)
    except ApiException as e:
        assert e.status == 404, (e.status, e.body)
        want = (
            '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
            '"message":"configmaps \\"%s\\" not found","reason":"NotFound",'
            '"details":{"name":"%s","kind":"configmaps"},"code":404}\n' % (name, name)
        )
        assert e.body == want, "body %r, kube-apiserver answers %r" % (e.body, want)
    else:
        raise AssertionError("reading configmap %s did not raise" % name)

# Deleting a missing object is a 404 too, not a 409.
try:
    core.delete_namespaced_config_map("settings", ns)
except ApiException as e:
    assert e.status == 404, (e.status, e.body)
else:
    raise AssertionError("deleting a deleted configmap did not raise")

core.delete_namespace(ns)
print("ok")
