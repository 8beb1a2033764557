#!/usr/bin/python3
"""A minimal Kubernetes CRI client (k8s.io/cri-api, package runtime.v1) for tests/tests/cri.rs.

It speaks to containerd's CRI plugin as the kubelet does: gRPC over a unix socket, the
RuntimeService methods named below. The messages are encoded and decoded here by hand (proto3
wire format: varints, length-delimited fields) with the field numbers of the CRI's api.proto,
so no protoc and no generated code are needed; only Debian's python3-grpcio carries the calls.

Usage: cri_client.py SOCKET COMMAND ARGS...; each command prints one JSON object.
  version
  runp NAME HANDLER LOGDIR              -> {"pod": ID}       (host network: no CNI needed)
  create POD PODNAME LOGDIR NAME IMAGE LOG [-v HOST:CTR[:ro]]... CMD...
                                        -> {"container": ID} (in the pod's PID namespace,
                                           with a volume for each -v)
  start ID | stop ID | rm ID | stopp POD | rmp POD
  exec ID TIMEOUT CMD...                -> {"stdout", "stderr", "exit_code"}
  status ID                             -> {"state", "exit_code", "reason"}
  pods                                  -> {"pods": [ID...]}
  containers                            -> {"containers": [ID...]}
"""

import json
import sys

import grpc

SERVICE = "/runtime.v1.RuntimeService/"

# NamespaceMode of api.proto.
POD, CONTAINER, NODE = 0, 1, 2
CONTAINER_STATES = ["CREATED", "RUNNING", "EXITED", "UNKNOWN"]


# --- proto3 wire format -------------------------------------------------------------------


def varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num, value):
    if not value:
        return b""
    return varint(num << 3) + varint(int(value))


def field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    if not data:
        return b""
    return varint((num << 3) | 2) + varint(len(data)) + data


def field_msg(num, data):
    """An embedded message: present even when empty."""
    return varint((num << 3) | 2) + varint(len(data)) + data


def field_map(num, mapping):
    out = b""
    for k, v in mapping.items():
        out += field_msg(num, field_bytes(1, k) + field_bytes(2, v))
    return out


def decode(data):
    """A message as {field number: [values]} (varints as ints, the rest as bytes)."""
    fields = {}
    i = 0

    def read_varint():
        nonlocal i
        n = shift = 0
        while True:
            b = data[i]
            i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    while i < len(data):
        key = read_varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            value = read_varint()
        elif wire == 2:
            n = read_varint()
            value = bytes(data[i : i + n])
            i += n
        elif wire == 1:
            value = bytes(data[i : i + 8])
            i += 8
        elif wire == 5:
            value = bytes(data[i : i + 4])
            i += 4
        else:
            raise ValueError(f"wire type {wire}")
        fields.setdefault(num, []).append(value)
    return fields


def first(fields, num, default):
    return fields.get(num, [default])[0]


def text(fields, num):
    return first(fields, num, b"").decode(errors="replace")


def int32(fields, num):
    n = first(fields, num, 0)
    return n - (1 << 64) if n >= 1 << 63 else n


# --- CRI messages -------------------------------------------------------------------------


def namespace_option(network, pid, ipc):
    # NamespaceOption: network = 1, pid = 2, ipc = 3.
    return field_varint(1, network) + field_varint(2, pid) + field_varint(3, ipc)


def pod_sandbox_config(name, logdir):
    # PodSandboxMetadata: name = 1, uid = 2, namespace = 3, attempt = 4.
    metadata = field_bytes(1, name) + field_bytes(2, name + "-uid") + field_bytes(3, "default")
    # LinuxSandboxSecurityContext: namespace_options = 1. Host network: no CNI is involved.
    security = field_msg(1, namespace_option(NODE, POD, POD))
    # LinuxPodSandboxConfig: cgroup_parent = 1, security_context = 2.
    linux = field_msg(2, security)
    # PodSandboxConfig: metadata = 1, log_directory = 3, labels = 6, linux = 8. No hostname
    # (2): a host-network pod has the host's UTS namespace, as the kubelet leaves it.
    return (
        field_msg(1, metadata)
        + field_bytes(3, logdir)
        + field_map(6, {"test": "cri"})
        + field_msg(8, linux)
    )


def volume(spec):
    # Mount: container_path = 1, host_path = 2, readonly = 3.
    host, ctr, *mode = spec.split(":")
    out = field_bytes(1, ctr) + field_bytes(2, host)
    if mode == ["ro"]:
        out += field_varint(3, 1)
    return out


def container_config(name, image, log, cmd, volumes=()):
    # ContainerMetadata: name = 1. ImageSpec: image = 1.
    # LinuxContainerSecurityContext: namespace_options = 3 (the pod's PID namespace).
    security = field_msg(3, namespace_option(NODE, POD, POD))
    # LinuxContainerConfig: security_context = 2.
    linux = field_msg(2, security)
    # ContainerConfig: metadata = 1, image = 2, command = 3, envs = 6, log_path = 11, linux = 15.
    out = field_msg(1, field_bytes(1, name)) + field_msg(2, field_bytes(1, image))
    for arg in cmd:
        out += field_msg(3, arg.encode())
    # KeyValue: key = 1, value = 2.
    out += field_msg(6, field_bytes(1, "PATH") + field_bytes(2, "/bin"))
    # ContainerConfig: mounts = 7.
    for v in volumes:
        out += field_msg(7, volume(v))
    out += field_bytes(11, log) + field_msg(15, linux)
    return out


class Client:
    def __init__(self, socket):
        self.channel = grpc.insecure_channel("unix://" + socket)

    def call(self, method, request):
        fn = self.channel.unary_unary(
            SERVICE + method,
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        return decode(fn(request, timeout=60))


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    client = Client(argv[1])
    cmd, args = argv[2], argv[3:]
    if cmd == "version":
        r = client.call("Version", field_bytes(1, "v1"))
        out = {
            "version": text(r, 1),
            "runtime_name": text(r, 2),
            "runtime_version": text(r, 3),
            "runtime_api_version": text(r, 4),
        }
    elif cmd == "runp":
        name, handler, logdir = args
        req = field_msg(1, pod_sandbox_config(name, logdir)) + field_bytes(2, handler)
        out = {"pod": text(client.call("RunPodSandbox", req), 1)}
    elif cmd == "create":
        pod, pod_name, logdir, name, image, log = args[:6]
        rest, volumes = args[6:], []
        while len(rest) >= 2 and rest[0] == "-v":
            volumes.append(rest[1])
            rest = rest[2:]
        req = (
            field_bytes(1, pod)
            + field_msg(2, container_config(name, image, log, rest, volumes))
            + field_msg(3, pod_sandbox_config(pod_name, logdir))
        )
        out = {"container": text(client.call("CreateContainer", req), 1)}
    elif cmd in ("start", "rm", "stopp", "rmp"):
        method = {
            "start": "StartContainer",
            "rm": "RemoveContainer",
            "stopp": "StopPodSandbox",
            "rmp": "RemovePodSandbox",
        }[cmd]
        client.call(method, field_bytes(1, args[0]))
        out = {}
    elif cmd == "stop":
        client.call("StopContainer", field_bytes(1, args[0]) + field_varint(2, int(args[1])))
        out = {}
    elif cmd == "exec":
        cid, timeout = args[:2]
        req = field_bytes(1, cid)
        for arg in args[2:]:
            req += field_msg(2, arg.encode())
        req += field_varint(3, int(timeout))
        r = client.call("ExecSync", req)
        out = {"stdout": text(r, 1), "stderr": text(r, 2), "exit_code": int32(r, 3)}
    elif cmd == "status":
        r = client.call("ContainerStatus", field_bytes(1, args[0]))
        st = decode(first(r, 1, b""))
        out = {
            "state": CONTAINER_STATES[first(st, 3, 0)],
            "exit_code": int32(st, 7),
            "reason": text(st, 10),
        }
    elif cmd == "pods":
        r = client.call("ListPodSandbox", b"")
        out = {"pods": [text(decode(p), 1) for p in r.get(1, [])]}
    elif cmd == "containers":
        r = client.call("ListContainers", b"")
        out = {"containers": [text(decode(c), 1) for c in r.get(1, [])]}
    else:
        print(f"unknown command {cmd}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except grpc.RpcError as e:
        print(f"{e.code().name}: {e.details()}", file=sys.stderr)
        sys.exit(1)
