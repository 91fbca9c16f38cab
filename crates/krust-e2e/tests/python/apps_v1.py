"""AppsV1Api on a Deployment: create it, wait until the sim nodes run its pods, scale it
through the scale subresource, delete it.
Usage: python apps_v1.py KUBECONFIG
"""

import sys
import time

from kubernetes import client, config

config.load_kube_config(config_file=sys.argv[1])
apps = client.AppsV1Api()
ns = "default"
TIMEOUT = 60


def deployment(name, replicas):
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="web", image="nginx")]
                ),
            ),
        ),
    )


def wait_ready(name, want):
    deadline = time.monotonic() + TIMEOUT
    while True:
        d = apps.read_namespaced_deployment(name, ns)
        if d.status.ready_replicas == want and d.status.replicas == want:
            return d
        if time.monotonic() > deadline:
            raise AssertionError("%s never had %d ready replicas: %s" % (name, want, d.status))
        time.sleep(0.2)


created = apps.create_namespaced_deployment(ns, deployment("web", 2))
assert created.spec.replicas == 2, created
assert created.spec.strategy.type == "RollingUpdate", created.spec.strategy
wait_ready("web", 2)

scale = apps.read_namespaced_deployment_scale("web", ns)
assert scale.spec.replicas == 2, scale
assert scale.status.selector == "app=web", scale
scale = apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 3}})
assert scale.spec.replicas == 3, scale
wait_ready("web", 3)

# Down again through PUT of the Scale without a resourceVersion: unconditional, so the
# deployment controller's status writes since the last read cause no 409.
scale.spec.replicas = 1
scale.metadata.resource_version = None
scale = apps.replace_namespaced_deployment_scale("web", ns, scale)
assert scale.spec.replicas == 1, scale
wait_ready("web", 1)

apps.delete_namespaced_deployment("web", ns)
deadline = time.monotonic() + TIMEOUT
while [d for d in apps.list_namespaced_deployment(ns).items if d.metadata.name == "web"]:
    assert time.monotonic() < deadline, "the deployment was never deleted"
    time.sleep(0.2)

print("ok")
