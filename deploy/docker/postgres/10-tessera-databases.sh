#!/bin/bash
# Runs once, on the first start of an empty data volume (the postgres image's init hook):
# one role and one database per service, each role owning only its own database.
set -euo pipefail

create() {  # create <database and role> <password>
  local name="$1" password="$2"
  if [[ -z "$password" ]]; then
    echo "no password for $name: set it in the env file (see deploy/docker/compose.env.example)" >&2
    exit 1
  fi
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
       -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
}

create customer "${CUSTOMER_DB_PASSWORD:-}"
create sales "${SALES_DB_PASSWORD:-}"
create service_desk "${SERVICE_DESK_DB_PASSWORD:-}"
create billing "${BILLING_DB_PASSWORD:-}"
create notifications "${NOTIFICATIONS_DB_PASSWORD:-}"
create gateway "${GATEWAY_DB_PASSWORD:-}"
