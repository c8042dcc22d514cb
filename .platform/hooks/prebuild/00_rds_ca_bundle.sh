#!/usr/bin/env bash
# The RDS certificate authorities, so the app verifies PostgreSQL's certificate and host name
# (DATABASE_URL's sslmode=verify-full&sslrootcert=...): an impostor on the network cannot
# stand in for the database. Fetched on each instance from AWS's trust store; a failed or empty
# download fails the deploy rather than leave the app unable to connect.
set -euo pipefail
bundle=/etc/pki/rds/global-bundle.pem
mkdir -p "$(dirname "$bundle")"
curl --fail --silent --show-error --retry 5 --max-time 60 \
  -o "$bundle.new" https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
if ! grep -q "BEGIN CERTIFICATE" "$bundle.new"; then
  echo "the RDS CA bundle has no certificate" >&2
  exit 1
fi
chmod 644 "$bundle.new"
mv "$bundle.new" "$bundle"
