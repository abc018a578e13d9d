#!/bin/sh
# Run once by the official postgres image, on an empty data volume only: one database
# per service (MHIN_DATABASES, space-separated), owned by POSTGRES_USER. Each service
# creates its own tables at start-up with its migrations.
set -eu
for database in $MHIN_DATABASES; do
    echo "create-databases: $database"
    psql --no-psqlrc --set ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        --command "CREATE DATABASE \"$database\""
done
