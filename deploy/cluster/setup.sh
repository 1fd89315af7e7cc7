#!/usr/bin/env bash
# Makes the files every node of a cluster must share before its first start: the key
# that seals passwords and NAS secrets (secret.key) and the admin API token (api.token).
# Copy deploy/cluster/shared/ to each node's data directory (compose.yaml mounts it).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p shared
umask 077
[ -e shared/secret.key ] || head -c 32 /dev/urandom > shared/secret.key
[ -e shared/api.token ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > shared/api.token
# The containers run as another user than you: this demo lets it read them. On real
# nodes each node's data directory holds its own 0600 copy, owned by the service user.
chmod 0644 shared/secret.key shared/api.token
echo "deploy/cluster/shared: secret.key and api.token ready; keep them secret"
