"""The official client's discovery calls, which ask the paths with a trailing slash.

VersionApi().get_code() asks GET /version/, CoreApi().get_api_versions() GET /api/ and
ApisApi().get_api_versions() GET /apis/; kube-apiserver serves all three.
Usage: python version.py KUBECONFIG
"""

import re
import sys

from kubernetes import client, config

config.load_kube_config(config_file=sys.argv[1])

info = client.VersionApi().get_code()
assert info.major == "1", info
assert info.minor == "32", info
assert re.fullmatch(r"[0-9a-f]{40}", info.git_commit), info
assert info.git_version.startswith("v1.32."), info

versions = client.CoreApi().get_api_versions()
assert versions.versions == ["v1"], versions

groups = {g.name: g for g in client.ApisApi().get_api_versions().groups}
assert groups["apps"].preferred_version.group_version == "apps/v1", groups["apps"]

print("ok")
