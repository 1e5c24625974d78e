#!/usr/bin/env bash
# PostgreSQL with pgvector for the store's tests (tests/pgserver.py starts a throw-away cluster).
#
# Debian 12 ships PostgreSQL 15 but packages pgvector only for later releases
# (postgresql-17-pgvector in Debian 13). So this installs Debian's postgresql and builds
# pgvector from Debian's own source tarball of that package, checked against the SHA-256 in
# its signed .dsc, against the server's headers. Where postgresql-NN-pgvector is packaged for
# the installed server, that package is installed instead.
set -euo pipefail
PGVECTOR_VERSION=0.8.0
PGVECTOR_SHA256=867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0
export DEBIAN_FRONTEND=noninteractive

pg_major() { ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1; }

major=$(pg_major)
if [ -n "$major" ] && [ -x "/usr/lib/postgresql/$major/bin/initdb" ] \
   && [ -e "/usr/share/postgresql/$major/extension/vector.control" ]; then
  exit 0
fi
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
major=$(pg_major)
if [ -e "/usr/share/postgresql/$major/extension/vector.control" ]; then
  exit 0
fi
if apt-get install -y -qq "postgresql-$major-pgvector" >/dev/null 2>&1; then
  exit 0
fi
apt-get install -y -qq "postgresql-server-dev-$major" make gcc >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsSL -o "$work/pgvector.tar.gz" \
  "http://deb.debian.org/debian/pool/main/p/pgvector/pgvector_${PGVECTOR_VERSION}.orig.tar.gz"
echo "$PGVECTOR_SHA256  $work/pgvector.tar.gz" | sha256sum -c --quiet
tar -xzf "$work/pgvector.tar.gz" -C "$work"
# OPTFLAGS="": no -march=native, so the build runs on any x86-64 machine.
make -s -C "$work/pgvector-$PGVECTOR_VERSION" PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" OPTFLAGS="" >/dev/null
make -s -C "$work/pgvector-$PGVECTOR_VERSION" PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" install >/dev/null
