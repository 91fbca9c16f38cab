"""The official Python client's streaming calls (WebSocket v4.channel.k8s.io) through the
API server to a kubelet: exec with its output and exit code, and port-forward with the
`ports` query (two channels per port, each opened with the port number).

Usage: stream_v4.py KUBECONFIG POD ECHO_PORT; prints `ok` at the end."""

import sys

from kubernetes import client, config
from kubernetes.stream import portforward, stream

kubeconfig, pod, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
config.load_kube_config(config_file=kubeconfig)
api = client.CoreV1Api()

out = stream(api.connect_get_namespaced_pod_exec, pod, "default",
             command=["sh", "-c", "echo from python"],
             stderr=True, stdin=False, stdout=True, tty=False)
assert out == "from python\n", repr(out)

resp = stream(api.connect_get_namespaced_pod_exec, pod, "default",
              command=["sh", "-c", "echo x; exit 5"],
              stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
resp.run_forever(timeout=20)
assert resp.returncode == 5, resp.returncode

pf = portforward(api.connect_get_namespaced_pod_portforward, pod, "default", ports=str(port))
sock = pf.socket(port)
sock.setblocking(True)
sock.sendall(b"through the v4 channels")
got = b""
while len(got) < len(b"through the v4 channels"):
    chunk = sock.recv(1024)
    assert chunk, "the forwarded connection closed early"
    got += chunk
assert got == b"through the v4 channels", got
assert pf.error(port) is None, pf.error(port)
sock.close()
pf.close()
print("ok")
