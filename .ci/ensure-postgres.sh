# Sourced by .ci/run (and usable by hand: `source .ci/ensure-postgres.sh`).
# Exports DATABASE_URL pointing at a reachable PostgreSQL, in this order of preference:
#   1. DATABASE_URL already set and answering;
#   2. the machine's cluster on 127.0.0.1:5432 (started if it is down);
#   3. a throwaway trust-auth cluster made with initdb on a spare port (when local auth refuses us).

pg_answers() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ] && pg_answers "$DATABASE_URL"; then return 0; fi

  local local_url="postgres://postgres@127.0.0.1:5432/postgres"
  if ! pg_answers "$local_url" && command -v pg_ctlcluster >/dev/null 2>&1; then
    local ver
    ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1 || true)
    if [ -n "$ver" ]; then
      pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
      for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.5; done
    fi
  fi
  if pg_answers "$local_url"; then export DATABASE_URL="$local_url"; return 0; fi

  # Local server refuses us (scram without a password, or no server at all): own cluster.
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$bindir" ]; then
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  fi
  local dir port
  dir=$(mktemp -d /tmp/nixfleet-pg.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  chown postgres "$dir" 2>/dev/null || true
  local as=()
  [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
  "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  pg_answers "$DATABASE_URL" || { echo "ci: could not get a PostgreSQL server" >&2; return 1; }
}

ensure_postgres
