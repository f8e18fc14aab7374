#!/usr/bin/env bash
# Installs the programs the test suite runs against, idempotently:
#   - AWS CLI (S3 interoperability tests), protoc + the gRPC Python plugin and python3-grpcio
#     (the Python worker interop test and the Python client), etcd (high-availability tests),
#     python3-torch, python3-pytest, python3-pytest-timeout, python3-psutil and python3-mypy (the
#     Python client, its tests, its type check and the PyTorch example), chromium
#     (the dashboard's end-to-end tests and benchmark, driven by playwright-core).
# Node packages (s3rver, the AWS SDK, ...) come from `pnpm install`. Debian/Ubuntu use apt-get;
# macOS uses Homebrew. Anything else prints what to install and fails.
set -euo pipefail

apt_packages=(awscli python3-grpcio protobuf-compiler protobuf-compiler-grpc libprotobuf-dev etcd-server etcd-client python3-torch python3-pytest python3-pytest-timeout python3-psutil python3-mypy chromium)

if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Debian packages present: ${apt_packages[*]}"
  fi
elif command -v brew >/dev/null 2>&1; then
  for p in awscli protobuf grpc etcd; do brew list "$p" >/dev/null 2>&1 || brew install "$p"; done
  python3 -c "import grpc" 2>/dev/null || python3 -m pip install --user grpcio protobuf
  python3 -c "import torch, pytest" 2>/dev/null || python3 -m pip install --user torch pytest pytest-timeout psutil mypy
  brew list --cask chromium >/dev/null 2>&1 || brew install --cask chromium
else
  echo "install these yourself, then run pnpm test: AWS CLI v2, protoc with the grpc_python_plugin, Python 3 with grpcio, torch and pytest, etcd, Chromium (set STRATA_CHROMIUM to its path)" >&2
  exit 1
fi
