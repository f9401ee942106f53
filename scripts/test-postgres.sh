#!/usr/bin/env bash
# Starts the PostgreSQL the tests run the store and the replicas against: Debian's cluster on
# this machine (installed when missing, as root), a role that may create databases, and
# CLAWPORT_TEST_DATABASE_URL exported to the caller. Sourced by scripts/test.sh; without root or
# apt-get it says why and the PostgreSQL tests are skipped with that reason.
# An already-set CLAWPORT_TEST_DATABASE_URL (a server of your own) is used as it is.
if [ -n "${CLAWPORT_TEST_DATABASE_URL:-}" ]; then
  echo "test: PostgreSQL from CLAWPORT_TEST_DATABASE_URL"
  return 0 2>/dev/null || exit 0
fi
pg_setup() {
  if ! command -v pg_lsclusters >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      echo "test: PostgreSQL is not installed (apt-get install postgresql); its tests will be skipped" >&2
      return 1
    fi
    echo "test: installing PostgreSQL"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
  local ver
  ver=$(pg_lsclusters -h | awk 'NR==1 {print $1}')
  if [ -z "$ver" ]; then
    ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
    pg_createcluster "$ver" main >/dev/null
  fi
  # The tests' network namespaces (10.231.X.0/24, test/helpers/netns-hosts.ts) reach the cluster
  # at their bridge's address: listen on every address, let only the test role in from there.
  local conf=/etc/postgresql/$ver/main changed=''
  # Test servers side by side (three replicas, runners, several lanes) each keep a pool open.
  local listen="listen_addresses = '*'"$'\n'"max_connections = 300"
  local hba='host all clawport_test 10.231.0.0/16 scram-sha-256'
  if [ "$(cat "$conf/conf.d/clawport-test.conf" 2>/dev/null)" != "$listen" ]; then
    mkdir -p "$conf/conf.d"
    echo "$listen" >"$conf/conf.d/clawport-test.conf"
    changed=restart
  fi
  if ! grep -qxF "$hba" "$conf/pg_hba.conf"; then
    echo "$hba" >>"$conf/pg_hba.conf"
    changed=${changed:-reload}
  fi
  if ! pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $4}' | grep -q online; then
    echo "test: starting PostgreSQL $ver"
    pg_ctlcluster "$ver" main start
  elif [ -n "$changed" ]; then
    echo "test: PostgreSQL $ver: $changed for the tests' settings"
    pg_ctlcluster "$ver" main "$changed"
  fi
  local port
  port=$(pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $3}')
  # The suite creates one database per test file and drops it after.
  su postgres -c "psql -q -p $port -tAc \"SELECT 1 FROM pg_roles WHERE rolname='clawport_test'\"" | grep -q 1 ||
    su postgres -c "psql -q -p $port -c \"CREATE ROLE clawport_test LOGIN CREATEDB PASSWORD 'clawport_test'\""
  su postgres -c "psql -q -p $port -tAc \"SELECT 1 FROM pg_database WHERE datname='clawport_test'\"" | grep -q 1 ||
    su postgres -c "createdb -p $port -O clawport_test clawport_test"
  export CLAWPORT_TEST_DATABASE_URL="postgres://clawport_test:clawport_test@127.0.0.1:$port/clawport_test"
  echo "test: PostgreSQL $ver on port $port"
}
pg_setup || true
