"""A status patch with a field manager: the managedFields entry of that manager names the
status subresource, as kube-apiserver records it.
Usage: python status.py KUBECONFIG
"""

import sys

from kubernetes import client, config

config.load_kube_config(config_file=sys.argv[1])
apps = client.AppsV1Api()
ns = "default"

labels = {"app": "tracked"}
apps.create_namespaced_deployment(
    ns,
    client.V1Deployment(
        metadata=client.V1ObjectMeta(name="tracked"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="web", image="nginx")]
                ),
            ),
        ),
    ),
    field_manager="py-create",
)

condition = {
    "type": "Reviewed",
    "status": "True",
    "reason": "PythonClient",
    "message": "patched through /status",
}
patched = apps.patch_namespaced_deployment_status(
    "tracked", ns, {"status": {"conditions": [condition]}}, field_manager="py-status"
)
types = [c.type for c in patched.status.conditions or []]
assert "Reviewed" in types, patched.status


def entries(d):
    return {m.manager: m for m in d.metadata.managed_fields or []}


for d in (patched, apps.read_namespaced_deployment("tracked", ns)):
    managers = entries(d)
    status = managers.get("py-status")
    assert status is not None, d.metadata.managed_fields
    assert status.operation == "Update", status
    assert status.subresource == "status", status
    assert "f:status" in status.fields_v1, status
    assert "f:spec" not in status.fields_v1, status
    create = managers.get("py-create")
    assert create is not None, d.metadata.managed_fields
    assert create.subresource is None, create
    assert "f:spec" in create.fields_v1, create

apps.delete_namespaced_deployment("tracked", ns)
print("ok")
