# Shared by the scripts in this folder: where the project's Python lives and how to run
# a command inside it. Sourced, never executed.
# shellcheck shell=bash

PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Outside the repo so fresh clones reuse it; override for a private cache. It holds the sid root
# (when needed), uv's cache and the resolved Home Assistant installs of tests/test_install.py.
if [ "$(id -u)" = 0 ]; then
    CACHE_DIR="${KONNECTED_AWS_CACHE:-/var/cache/konnected-aws}"
else
    CACHE_DIR="${KONNECTED_AWS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/konnected-aws}"
fi
SID_ROOT="$CACHE_DIR/sid-root"
MIN_PYTHON="3.14.2"
MANIFEST="$PROJECT_DIR/custom_components/konnected_aws/manifest.json"

# The Home Assistant version the suite runs on (requirements_test.txt pins it).
suite_ha_version() {
    sed -n 's/^homeassistant==\([0-9][0-9.]*\).*/\1/p' "$PROJECT_DIR/requirements_test.txt"
}

log() { printf '[konnected_aws] %s\n' "$*" >&2; }

# A python on PATH that is new enough, or nothing.
find_native_python() {
    local candidate
    for candidate in python3.14 python3.15 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c "import sys; sys.exit(sys.version_info < tuple(map(int, '$MIN_PYTHON'.split('.'))))" 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# Decide once per shell whether we run natively or inside the Debian sid root.
if [ -z "${KONNECTED_AWS_MODE:-}" ]; then
    if [ -f /.konnected-aws-sid-root ]; then
        KONNECTED_AWS_MODE=native # already inside the sid root
    elif NATIVE_PYTHON="$(find_native_python)"; then
        KONNECTED_AWS_MODE=native
    else
        KONNECTED_AWS_MODE=sid
    fi
fi
export KONNECTED_AWS_MODE

if [ "$KONNECTED_AWS_MODE" = native ]; then
    VENV_DIR="${KONNECTED_AWS_VENV:-$PROJECT_DIR/.venv}"
    # What commands in the environment see as KONNECTED_AWS_CACHE (uv's cache, locks).
    ENV_CACHE_DIR="$CACHE_DIR"
else
    # The venv lives inside the root: its interpreter only exists there.
    VENV_DIR=/opt/konnected-aws-venv
    # Inside the root as well (hard links from uv's cache need one file system).
    ENV_CACHE_DIR=/var/cache/konnected-aws
fi

# Run a command with the project's venv first on PATH, inside the sid root when needed.
# The root gets private bind mounts (a mount namespace per call), so parallel calls
# never unmount each other's view.
run_in_env() {
    if [ "$KONNECTED_AWS_MODE" = native ]; then
        PATH="$VENV_DIR/bin:$PATH" VIRTUAL_ENV="$VENV_DIR" KONNECTED_AWS_CACHE="$ENV_CACHE_DIR" \
            ${KONNECTED_AWS_EXEC:+exec} "$@"
        return
    fi
    local cwd="$PWD"
    # KONNECTED_AWS_EXEC=1: replace the calling shell, so signals reach the command itself.
    ${KONNECTED_AWS_EXEC:+exec} unshare --mount --propagation private -- /bin/bash -s -- "$@" <<INNER
set -e
root="$SID_ROOT"
for dir in /proc /sys /dev /dev/pts /dev/shm; do
    mkdir -p "\$root\$dir"
    mount --rbind "\$dir" "\$root\$dir"
done
mkdir -p "\$root$PROJECT_DIR" "\$root/tmp"
mount --bind "$PROJECT_DIR" "\$root$PROJECT_DIR"
cp -f /etc/resolv.conf "\$root/etc/resolv.conf" 2>/dev/null || true
# The host's CA bundle carries any CA its package registries are reached through.
host_ca="\${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
ca=/etc/ssl/certs/ca-certificates.crt
if [ -f "\$host_ca" ]; then
    cp -f "\$host_ca" "\$root/etc/ssl/host-ca-bundle.crt"
    ca=/etc/ssl/host-ca-bundle.crt
fi
exec chroot "\$root" /usr/bin/env -i \
    HOME=/root LANG=C.UTF-8 TERM="\${TERM:-dumb}" CI="\${CI:-}" \
    PATH="$VENV_DIR/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
    VIRTUAL_ENV="$VENV_DIR" KONNECTED_AWS_MODE=native KONNECTED_AWS_VENV="$VENV_DIR" \
    KONNECTED_AWS_CACHE="$ENV_CACHE_DIR" KONNECTED_AWS_INSTALL_HA="\${KONNECTED_AWS_INSTALL_HA:-}" \
    PYTHONDONTWRITEBYTECODE="\${PYTHONDONTWRITEBYTECODE:-}" \
    SSL_CERT_FILE="\$ca" PIP_CERT="\$ca" REQUESTS_CA_BUNDLE="\$ca" UV_NATIVE_TLS=1 \
    PIP_DEFAULT_TIMEOUT="\${PIP_DEFAULT_TIMEOUT:-60}" \
    /bin/bash -c 'cd "\$1" && shift && exec "\$@"' inner "$cwd" "\$@"
INNER
}
