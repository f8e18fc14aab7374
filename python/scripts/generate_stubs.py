#!/usr/bin/env python3
"""Generates (or checks) the committed Python gRPC stubs of proto/coordinator.proto.

    /usr/bin/python3 python/scripts/generate_stubs.py          # rewrite strata_client/_proto/
    /usr/bin/python3 python/scripts/generate_stubs.py --check  # exit 1 when they are stale

Needs protoc and the gRPC Python plugin (Debian: protobuf-compiler, protobuf-compiler-grpc; both
are installed by scripts/install-test-deps.sh). The stubs are committed so that the package works
with only grpcio and protobuf installed; the check compares what they describe (the file
descriptor and the service's methods), not their text, so another protoc version that generates
the same contract does not count as stale.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parent.parent
REPO = PYTHON_DIR.parent
PROTO_DIR = REPO / "proto"
PROTO = PROTO_DIR / "coordinator.proto"
OUT_DIR = PYTHON_DIR / "strata_client" / "_proto"
PLUGIN_CANDIDATES = ("/usr/bin/grpc_python_plugin", "/usr/local/bin/grpc_python_plugin",
                     "/opt/homebrew/bin/grpc_python_plugin")
HEADER = "# Generated from proto/coordinator.proto by python/scripts/generate_stubs.py. DO NOT EDIT.\n"


def find_tool(name: str, candidates: tuple[str, ...] = ()) -> str:
    """Returns the path of a program, or exits naming the package that provides it."""
    found = shutil.which(name) or next((c for c in candidates if os.path.exists(c)), None)
    if found is None:
        sys.exit(f"{name} is missing: install it (Debian: bash scripts/install-test-deps.sh, which "
                 "installs protobuf-compiler and protobuf-compiler-grpc)")
    return found


def generate(out_dir: Path, proto: Path = PROTO) -> None:
    """Runs protoc on `proto` into out_dir and makes the gRPC module import its messages relatively."""
    protoc = find_tool("protoc")
    plugin = find_tool("grpc_python_plugin", PLUGIN_CANDIDATES)
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [protoc, f"-I{proto.parent}", f"--python_out={out_dir}", f"--pyi_out={out_dir}", f"--grpc_python_out={out_dir}",
         f"--plugin=protoc-gen-grpc_python={plugin}", str(proto)],
        check=True,
    )
    grpc_module = out_dir / "coordinator_pb2_grpc.py"
    text = grpc_module.read_text()
    absolute = "import coordinator_pb2 as coordinator__pb2\n"
    if absolute not in text:
        sys.exit(f"unexpected gRPC plugin output in {grpc_module}: no '{absolute.strip()}' line")
    grpc_module.write_text(HEADER + text.replace(absolute, "from . import coordinator_pb2 as coordinator__pb2\n"))
    for name in ("coordinator_pb2.py", "coordinator_pb2.pyi"):  # the .pyi types the messages for mypy
        messages = out_dir / name
        messages.write_text(HEADER + messages.read_text())


def describe(stub_dir: Path) -> tuple[bytes, list[str]]:
    """What a stub folder describes: its FileDescriptorProto (canonical bytes) and stub methods.

    Loads the modules in a fresh interpreter, so two generations never meet in one descriptor
    pool.
    """
    code = (
        "import sys, importlib, inspect, types\n"
        f"sys.path.insert(0, {str(stub_dir.parent)!r})\n"
        f"pkg = importlib.import_module({stub_dir.name!r})\n"
        f"pb2 = importlib.import_module({stub_dir.name!r} + '.coordinator_pb2')\n"
        f"grpc_mod = importlib.import_module({stub_dir.name!r} + '.coordinator_pb2_grpc')\n"
        "from google.protobuf import descriptor_pb2\n"
        "fd = descriptor_pb2.FileDescriptorProto.FromString(pb2.DESCRIPTOR.serialized_pb)\n"
        "sys.stdout.buffer.write(fd.SerializeToString(deterministic=True).hex().encode() + b'\\n')\n"
        "class Channel:\n"
        "    def __getattr__(self, name):\n"
        "        return lambda path, **kw: path\n"
        "stub = grpc_mod.CoordinatorStub(Channel())\n"
        "print(','.join(sorted(v for v in vars(stub).values())))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                            cwd=str(stub_dir.parent))
    descriptor_hex, methods = result.stdout.strip().split("\n")
    return bytes.fromhex(descriptor_hex), methods.split(",")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that the committed stubs are current")
    parser.add_argument("--proto", type=Path, default=PROTO,
                        help="the contract to compare with (default: proto/coordinator.proto)")
    args = parser.parse_args()
    if args.proto.name != "coordinator.proto":
        parser.error("--proto must name a file called coordinator.proto (the stubs are named after it)")
    if not args.check:
        generate(OUT_DIR, args.proto)
        print(f"wrote {OUT_DIR.relative_to(REPO)}/coordinator_pb2.py, .pyi and coordinator_pb2_grpc.py")
        return 0
    with tempfile.TemporaryDirectory(prefix="strata-stubs-") as tmp:
        fresh = Path(tmp) / "fresh_proto"
        generate(fresh, args.proto)
        (fresh / "__init__.py").write_text("")
        committed = Path(tmp) / "committed_proto"
        shutil.copytree(OUT_DIR, committed, ignore=shutil.ignore_patterns("__pycache__"))
        if describe(fresh) != describe(committed):
            print("python/strata_client/_proto is stale: proto/coordinator.proto changed. Run "
                  "`pnpm --filter @strata/python-client generate` and commit the result.", file=sys.stderr)
            return 1
    print("python/strata_client/_proto matches proto/coordinator.proto")
    return 0


if __name__ == "__main__":
    sys.exit(main())
