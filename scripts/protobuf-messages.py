#!/usr/bin/env python3
"""Writes crates/krust-api/src/protobuf/messages.txt from Kubernetes' Go types.

The table that drives krust's protobuf decoding and encoding lists, for every message
reachable from the kinds krust serves, each field's protobuf number, JSON name and type.
Those facts live in the struct tags of Kubernetes' `types.go` files:

    Replicas *int32 `json:"replicas,omitempty" protobuf:"varint,1,opt,name=replicas"`

This script reads them from checkouts of k8s.io/api and k8s.io/apimachinery (work trees,
or git directories read at a ref) and prints the table on stdout:

    scripts/protobuf-messages.py --api ../api --apimachinery ../apimachinery \\
        --ref v0.33.13 > crates/krust-api/src/protobuf/messages.txt

Use the release matching the k8s-openapi feature the workspace builds with (v1_33 →
v0.33.x), so that the table holds no field k8s-openapi does not know (a unit test checks
this). Go's encoding rules become table markers:

- a pointer scalar, or a scalar without `omitempty`, keeps its zero value in JSON: `*`;
- an embedded struct with `json:",inline"` and a protobuf tag merges into its parent: `-`;
- fields without a protobuf tag (TypeMeta) or with `json:"-"` are not on the wire: skipped;
- well-known apimachinery types map to table bases: metav1.Time → Time, MicroTime,
  resource.Quantity → Quantity, intstr.IntOrString, FieldsV1 and
  runtime.RawExtension → Json (raw JSON bytes);
- a named []string as a map's value (ExtraValue) → Strings.

Messages named alike in two packages (core/v1 and events/v1 Event) are qualified
(`core.v1.Event`). The roots (which kinds, which apiVersions) are listed in ROOTS below.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

API = "k8s.io/api/"
MACHINERY = "k8s.io/apimachinery/"

# (Go package, struct, apiVersion the envelope names, kind). apiVersion "*" accepts any:
# client-go names the options kinds after whichever group version it registered them in.
ROOTS = [
    ("core/v1", "Pod", "v1", "Pod"),
    ("core/v1", "PodList", "v1", "PodList"),
    ("core/v1", "Service", "v1", "Service"),
    ("core/v1", "ServiceList", "v1", "ServiceList"),
    ("core/v1", "Binding", "v1", "Binding"),
    ("core/v1", "ConfigMap", "v1", "ConfigMap"),
    ("core/v1", "ConfigMapList", "v1", "ConfigMapList"),
    ("core/v1", "Endpoints", "v1", "Endpoints"),
    ("core/v1", "EndpointsList", "v1", "EndpointsList"),
    ("core/v1", "Event", "v1", "Event"),
    ("core/v1", "EventList", "v1", "EventList"),
    ("core/v1", "Namespace", "v1", "Namespace"),
    ("core/v1", "NamespaceList", "v1", "NamespaceList"),
    ("core/v1", "Node", "v1", "Node"),
    ("core/v1", "NodeList", "v1", "NodeList"),
    ("core/v1", "Secret", "v1", "Secret"),
    ("core/v1", "SecretList", "v1", "SecretList"),
    ("core/v1", "ServiceAccount", "v1", "ServiceAccount"),
    ("core/v1", "ServiceAccountList", "v1", "ServiceAccountList"),
    ("apps/v1", "Deployment", "apps/v1", "Deployment"),
    ("apps/v1", "DeploymentList", "apps/v1", "DeploymentList"),
    ("apps/v1", "ReplicaSet", "apps/v1", "ReplicaSet"),
    ("apps/v1", "ReplicaSetList", "apps/v1", "ReplicaSetList"),
    ("autoscaling/v1", "Scale", "autoscaling/v1", "Scale"),
    ("authentication/v1", "TokenRequest", "authentication.k8s.io/v1", "TokenRequest"),
    ("authentication/v1", "TokenReview", "authentication.k8s.io/v1", "TokenReview"),
    ("authentication/v1", "SelfSubjectReview", "authentication.k8s.io/v1", "SelfSubjectReview"),
    ("authorization/v1", "SubjectAccessReview", "authorization.k8s.io/v1", "SubjectAccessReview"),
    ("authorization/v1", "SelfSubjectAccessReview", "authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    ("authorization/v1", "LocalSubjectAccessReview", "authorization.k8s.io/v1", "LocalSubjectAccessReview"),
    ("authorization/v1", "SelfSubjectRulesReview", "authorization.k8s.io/v1", "SelfSubjectRulesReview"),
    ("certificates/v1", "CertificateSigningRequest", "certificates.k8s.io/v1", "CertificateSigningRequest"),
    ("certificates/v1", "CertificateSigningRequestList", "certificates.k8s.io/v1", "CertificateSigningRequestList"),
    ("coordination/v1", "Lease", "coordination.k8s.io/v1", "Lease"),
    ("coordination/v1", "LeaseList", "coordination.k8s.io/v1", "LeaseList"),
    ("discovery/v1", "EndpointSlice", "discovery.k8s.io/v1", "EndpointSlice"),
    ("discovery/v1", "EndpointSliceList", "discovery.k8s.io/v1", "EndpointSliceList"),
    ("events/v1", "Event", "events.k8s.io/v1", "Event"),
    ("events/v1", "EventList", "events.k8s.io/v1", "EventList"),
    ("networking/v1", "NetworkPolicy", "networking.k8s.io/v1", "NetworkPolicy"),
    ("networking/v1", "NetworkPolicyList", "networking.k8s.io/v1", "NetworkPolicyList"),
    ("meta/v1", "DeleteOptions", "*", "DeleteOptions"),
    ("meta/v1", "CreateOptions", "*", "CreateOptions"),
    ("meta/v1", "UpdateOptions", "*", "UpdateOptions"),
    ("meta/v1", "PatchOptions", "*", "PatchOptions"),
    ("meta/v1", "Status", "v1", "Status"),
    ("meta/v1", "PartialObjectMetadata", "meta.k8s.io/v1", "PartialObjectMetadata"),
    ("meta/v1", "PartialObjectMetadataList", "meta.k8s.io/v1", "PartialObjectMetadataList"),
]

# Go import path → our package key.
def package_key(import_path: str) -> str | None:
    if import_path.startswith(API):
        return import_path[len(API):]
    if import_path == MACHINERY + "pkg/apis/meta/v1":
        return "meta/v1"
    return {
        MACHINERY + "pkg/api/resource": "resource",
        MACHINERY + "pkg/util/intstr": "intstr",
        MACHINERY + "pkg/runtime": "runtime",
        MACHINERY + "pkg/types": "types",
    }.get(import_path)

# Types that are not plain structs of a loaded package: (package, name) → table base.
WELL_KNOWN = {
    ("meta/v1", "Time"): "Time",
    ("meta/v1", "MicroTime"): "MicroTime",
    ("meta/v1", "FieldsV1"): "Json",
    ("runtime", "RawExtension"): "Json",
    ("resource", "Quantity"): "Quantity",
    ("intstr", "IntOrString"): "IntOrString",
    ("types", "UID"): "string",
    ("types", "NodeName"): "string",
}
SCALARS = {"string": "string", "int32": "int32", "int64": "int64", "bool": "bool"}
# Go scalars the table's bases do not name (float64, uint…) are reported as errors.


@dataclass
class GoField:
    name: str
    type: str
    tag: str


@dataclass
class Package:
    key: str
    imports: dict[str, str] = field(default_factory=dict)  # alias → package key
    structs: dict[str, list[GoField]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # named non-struct types


class Source:
    """Reads files from a work tree, or from a git directory at a ref."""

    def __init__(self, root: str, ref: str | None):
        self.root, self.ref = root, ref

    def files(self, directory: str) -> list[str]:
        if self.ref:
            out = git(self.root, "ls-tree", "--name-only", f"{self.ref}:{directory}")
            names = out.split()
        else:
            names = [p.name for p in (Path(self.root) / directory).iterdir()]
        return sorted(
            f"{directory}/{n}"
            for n in names
            if n.endswith(".go")
            and not n.endswith("_test.go")
            and not n.startswith(("zz_", "generated"))
        )

    def read(self, path: str) -> str:
        if self.ref:
            return git(self.root, "show", f"{self.ref}:{path}")
        return (Path(self.root) / path).read_text()


def git(root: str, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", root, *args], check=True, capture_output=True, text=True
    ).stdout


IMPORT = re.compile(r'^\s*(?:(\w+)\s+)?"([^"]+)"\s*$')
STRUCT = re.compile(r"^type (\w+) struct\s*{\s*$")
ALIAS = re.compile(r"^type (\w+) (\S+)\s*(?://.*)?$")
FIELD = re.compile(r"^\s*([^`]*?)\s*`([^`]*)`\s*(?://.*)?$")


def parse_package(key: str, text_of_files: list[str]) -> Package:
    pkg = Package(key)
    for text in text_of_files:
        lines = text.splitlines()
        in_imports = False
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("import ("):
                in_imports = True
            elif in_imports and line.startswith(")"):
                in_imports = False
            elif in_imports or line.startswith("import "):
                m = IMPORT.match(line.removeprefix("import "))
                if m:
                    path = m.group(2)
                    alias = m.group(1) or path.rsplit("/", 1)[-1]
                    target = package_key(path)
                    if target:
                        pkg.imports[alias] = target
            elif m := STRUCT.match(line):
                fields = []
                i += 1
                while not lines[i].startswith("}"):
                    f = FIELD.match(lines[i])
                    if f and not lines[i].lstrip().startswith("//"):
                        parts = f.group(1).split()
                        name, ty = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
                        fields.append(GoField(name or ty.split(".")[-1].lstrip("*"), ty, f.group(2)))
                    i += 1
                pkg.structs[m.group(1)] = fields
            elif (m := ALIAS.match(line)) and m.group(2) not in ("struct", "interface"):
                pkg.aliases[m.group(1)] = m.group(2)
            i += 1
    return pkg


def tag(tags: str, key: str) -> str | None:
    m = re.search(rf'(?:^|\s){key}:"([^"]*)"', tags)
    return m.group(1) if m else None


class Generator:
    def __init__(self, packages: dict[str, Package]):
        self.packages = packages
        self.order: list[tuple[str, str]] = []  # messages in discovery order
        self.seen: set[tuple[str, str]] = set()

    def resolve(self, pkg: Package, ty: str) -> tuple[str, str]:
        """(shape, base) of a Go type: shape is '', '*', '[]' or 'map'."""
        if ty.startswith("*"):
            shape, base = self.resolve(pkg, ty[1:])
            if shape:
                raise ValueError(f"pointer to {ty[1:]} in {pkg.key}")
            return "*", base
        if ty == "[]byte":
            return "", "bytes"
        if ty.startswith("[]"):
            return "[]", self.element(pkg, ty[2:])
        if ty.startswith("map["):
            key, value = ty[4:].split("]", 1)
            if self.element(pkg, key) != "string":
                raise ValueError(f"map key {key} in {pkg.key}")
            value = self.element(pkg, value)
            # A named []string as a map value (authentication's ExtraValue) travels as a
            # message `{1: repeated string}` whose JSON is the plain list.
            if value == "[]|string":
                return "map", "Strings"
            if "|" in value:
                raise ValueError(f"map of collections {ty} in {pkg.key}")
            return "map", value
        return "", self.named(pkg, ty)

    def element(self, pkg: Package, ty: str) -> str:
        shape, base = self.resolve(pkg, ty.lstrip("*"))
        if shape:
            raise ValueError(f"nested collection {ty} in {pkg.key}")
        return base

    def named(self, pkg: Package, ty: str) -> str:
        if ty in SCALARS:
            return SCALARS[ty]
        if "." in ty:
            alias, name = ty.split(".", 1)
            if alias not in pkg.imports:
                raise ValueError(f"unknown package {alias} in {pkg.key}")
            owner = pkg.imports[alias]
        else:
            owner, name = pkg.key, ty
        if (owner, name) in WELL_KNOWN:
            return WELL_KNOWN[(owner, name)]
        target = self.packages.get(owner)
        if target is None:
            raise ValueError(f"type {ty} of unloaded package {owner}")
        if name in target.structs:
            self.visit(owner, name)
            return f"{owner}.{name}"
        if name in target.aliases:
            shape, base = self.resolve(target, target.aliases[name])
            if shape:
                # Named collections (ResourceList) resolve like the collection itself.
                return f"{shape}|{base}"
            return base
        raise ValueError(f"unknown type {ty} in {pkg.key}")

    def visit(self, owner: str, name: str) -> None:
        if (owner, name) in self.seen:
            return
        self.seen.add((owner, name))
        self.order.append((owner, name))
        pkg = self.packages[owner]
        for f in pkg.structs[name]:
            self.field_line(pkg, f)

    def field_line(self, pkg: Package, f: GoField) -> tuple[int, str, str, str, str] | None:
        """(number, JSON name, type prefix, base, type suffix), or None off the wire."""
        proto = tag(f.tag, "protobuf")
        json_tag = tag(f.tag, "json")
        if proto is None or proto == "-" or json_tag == "-":
            return None
        number = int(proto.split(",")[1])
        json_name, *opts = (json_tag or f.name).split(",")
        inline = "inline" in opts
        shape, base = self.resolve(pkg, f.type)
        if "|" in base:  # a named collection such as ResourceList
            shape, base = base.split("|")
        if inline:
            if shape not in ("", "*") or base in SCALARS.values():
                raise ValueError(f"inline {f.name} is not a struct in {pkg.key}")
            return number, "-", "", base, ""
        is_scalar = base in ("string", "int32", "int64", "bool", "bytes")
        omit = "omitempty" in opts or "omitzero" in opts
        if shape == "[]":
            return number, json_name, "[]", base, ""
        if shape == "map":
            return number, json_name, "map[", base, "]"
        keep_zero = is_scalar and (shape == "*" or not omit)
        return number, json_name, "*" if keep_zero else "", base, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", required=True, help="k8s.io/api checkout (work tree or git dir)")
    parser.add_argument("--apimachinery", required=True, help="k8s.io/apimachinery checkout")
    parser.add_argument("--ref", help="read both checkouts at this git ref (e.g. v0.33.13)")
    args = parser.parse_args()
    api, machinery = Source(args.api, args.ref), Source(args.apimachinery, args.ref)

    packages: dict[str, Package] = {}
    for key in sorted({root[0] for root in ROOTS} | {"core/v1"}):
        if key == "meta/v1":
            src, directory = machinery, "pkg/apis/meta/v1"
        else:
            src, directory = api, key
        packages[key] = parse_package(key, [src.read(p) for p in src.files(directory)])

    gen = Generator(packages)
    for owner, name, _, _ in ROOTS:
        gen.visit(owner, name)

    # Names: the Go name, qualified by package where two packages share it.
    counts: dict[str, int] = {}
    for _, name in gen.order:
        counts[name] = counts.get(name, 0) + 1
    def table_name(owner: str, name: str) -> str:
        return name if counts[name] == 1 else f"{owner.replace('/', '.')}.{name}"
    names = {f"{o}.{n}": table_name(o, n) for o, n in gen.order}
    kinds: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for owner, name, api_version, kind in ROOTS:
        kinds.setdefault((owner, name), []).append((api_version, kind))

    out = [HEADER.format(ref=args.ref or "a work tree")]
    current = None
    for owner, name in sorted(gen.order, key=lambda m: PACKAGE_ORDER.index(m[0])):
        if owner != current:
            current = owner
            upstream = "k8s.io/apimachinery/pkg/apis/" if owner == "meta/v1" else "k8s.io/api/"
            out.append(f"\n# --- {upstream}{owner} ---")
        label = table_name(owner, name)
        head = kinds.get((owner, name), [])
        if len(head) > 1:
            raise ValueError(f"{owner}.{name} is the message of two kinds")
        out.append(" ".join([label, *head[0]]) if head else label)
        for f in packages[owner].structs[name]:
            line = gen.field_line(packages[owner], f)
            if line is not None:
                number, json_name, prefix, base, suffix = line
                out.append(f"  {number} {json_name} {prefix}{names.get(base, base)}{suffix}")
    sys.stdout.write("\n".join(out) + "\n")


PACKAGE_ORDER = [
    "meta/v1", "core/v1", "apps/v1", "authentication/v1", "authorization/v1", "autoscaling/v1",
    "certificates/v1", "coordination/v1", "discovery/v1", "events/v1", "networking/v1", "policy/v1",
]

HEADER = """\
# Protobuf message descriptors for the kinds krust decodes from and encodes to
# application/vnd.kubernetes.protobuf (parsed by table.rs).
#
# GENERATED by scripts/protobuf-messages.py from the struct tags of k8s.io/api and
# k8s.io/apimachinery at {ref}; edit the script, not this file.
#
# A message starts in column 0: `Name`, or `Name apiVersion Kind` for a top-level kind
# (apiVersion `*` accepts any apiVersion in the envelope).
# Each indented line below it is one field: `number jsonName type`.
#   type  = base | "[]" base (repeated) | "map[" base "]" (map<string, base>)
#   base  = string | int32 | int64 | bool | bytes (base64 in JSON)
#         | Time (seconds -> RFC 3339; empty -> null) | MicroTime (RFC 3339, microseconds)
#         | Json (raw JSON bytes: FieldsV1, RawExtension)
#         | IntOrString | Quantity | <Message>
#         | Strings (a message {{1: repeated string}}; a JSON list: ExtraValue)
#   "*" before a scalar base keeps its zero value in JSON (the Go field is a pointer or
#   has no omitempty); other scalars are dropped when zero, as Go's omitempty does.
#   Messages, lists and maps are emitted whenever present on the wire.
#   jsonName "-" merges the message's fields into the parent (Go `json:",inline"`)."""

if __name__ == "__main__":
    main()
