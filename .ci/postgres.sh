# Sourced by .ci/run: a throw-away PostgreSQL on 127.0.0.1:55432 for the store and two-instance tests.
# Idempotent; see tests/store/POSTGRES.md. initdb refuses root, so the cluster runs as the postgres user.
start_postgres() {
  local root=/tmp/approval-bot-pg port=55432 bin
  if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  mkdir -p "$root" && chown postgres:postgres "$root"
  if [ ! -s "$root/data/PG_VERSION" ]; then
    su postgres -s /bin/sh -c "$bin/initdb -D $root/data -U postgres --auth=trust -E UTF8 >$root/initdb.log"
  fi
  if ! su postgres -s /bin/sh -c "$bin/pg_ctl -D $root/data status" >/dev/null 2>&1; then
    su postgres -s /bin/sh -c "$bin/pg_ctl -D $root/data -l $root/server.log -w -t 60 start \
      -o '-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$root -c fsync=off'"
  fi
  su postgres -s /bin/sh -c "$bin/psql -h 127.0.0.1 -p $port -U postgres -d postgres -tAc \
    \"SELECT 1 FROM pg_database WHERE datname = 'approval_bot_test'\"" | grep -q 1 \
    || su postgres -s /bin/sh -c "$bin/createdb -h 127.0.0.1 -p $port -U postgres approval_bot_test"
  export BOT_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/approval_bot_test"
}
