#!/usr/bin/env bash
# Start one Bancheng service inside its container.
#
#   run.sh <gateway|intake|coordination|accountability|reporting>
#       wait for the broker and the database, then `nameko run` the service (migrated by seed)
#   run.sh migrate            wait, migrate, exit
#   run.sh seed [DIR]         wait, migrate, load seed data (default deploy/seed/xuanwu), exit
#                             (its demo logins only with BANCHENG_DEMO=1)
#   run.sh reencrypt          wait, migrate, re-encrypt stored ID numbers under the current key
#
# Outside demo mode (BANCHENG_DEMO=1) every secret must be set to a value of one's own
# (TOKEN_SECRET, ID_NUMBER_KEYS or ID_NUMBER_KEY, AUDIT_KEY, DB_PASSWORD_<SERVICE>, ...): a service
# refuses to start otherwise.
#
# Environment: AMQP_URI, DATABASE_URL (required); WAIT_TIMEOUT seconds (default 60);
# INSTANCE defaults to <service>@<hostname> so replicas are told apart in logs and metrics.
set -euo pipefail

cd "$(dirname "$0")/.."

CONFIG=deploy/config/bancheng.yaml
# services.cli reads the same file; say where, whichever copy of the package it imports.
export BANCHENG_CONFIG="${BANCHENG_CONFIG:-$PWD/$CONFIG}"
WAIT_TIMEOUT="${WAIT_TIMEOUT:-60}"

usage() {
    echo "usage: $0 <gateway|intake|coordination|accountability|reporting|migrate|seed [DIR]|reencrypt>" >&2
    exit 64
}

# Print "host port" for a URL, filling in the scheme's default port.
host_port() {
    python - "$1" <<'PY'
import sys
from urllib.parse import urlsplit

url = urlsplit(sys.argv[1])
defaults = {"amqp": 5672, "amqps": 5671, "postgresql": 5432, "postgres": 5432}
if not url.hostname:
    sys.exit(f"cannot find a host in {sys.argv[1]!r}")
print(url.hostname, url.port or defaults.get(url.scheme, 0))
PY
}

# wait_for <what> <url>[;<url>...]: poll the URLs' TCP ports until one accepts (a cluster's
# AMQP_URI lists every node: any one will do) or WAIT_TIMEOUT runs out.
wait_for() {
    local what="$1" urls="$2" url hp host port deadline candidates
    IFS=';' read -ra candidates <<<"$urls"
    deadline=$((SECONDS + WAIT_TIMEOUT))
    while true; do
        for url in "${candidates[@]}"; do
            [[ -n "$url" ]] || continue
            hp="$(host_port "$url")"
            read -r host port <<<"$hp"
            if timeout 2 bash -c ": <>/dev/tcp/${host}/${port}" 2>/dev/null; then
                echo "run.sh: ${what} is up at ${host}:${port}" >&2
                return 0
            fi
        done
        if ((SECONDS >= deadline)); then
            echo "run.sh: gave up after ${WAIT_TIMEOUT}s waiting for ${what}" >&2
            exit 1
        fi
        echo "run.sh: waiting for ${what} ..." >&2
        sleep 1
    done
}

wait_for_dependencies() {
    : "${AMQP_URI:?AMQP_URI must be set (e.g. amqp://guest:guest@rabbitmq:5672/)}"
    : "${DATABASE_URL:?DATABASE_URL must be set (e.g. postgresql://bancheng:bancheng@postgres:5432/bancheng)}"
    wait_for "RabbitMQ" "$AMQP_URI"
    wait_for "PostgreSQL" "$DATABASE_URL"
}

migrate() {
    # Idempotent and safe when several containers start at once.
    python -m services.cli migrate
}

[[ $# -ge 1 ]] || usage
service="$1"
shift

case "$service" in
    gateway) module=services.gateway.service:GatewayService ;;
    intake) module=services.intake.service:IntakeService ;;
    coordination) module=services.coordination.service:CoordinationService ;;
    accountability) module=services.accountability.service:AccountabilityService ;;
    reporting) module=services.reporting.service:ReportingService ;;
    migrate)
        wait_for_dependencies
        migrate
        exit 0
        ;;
    seed)
        wait_for_dependencies
        migrate
        exec python -m services.cli seed "${1:-deploy/seed/xuanwu}"
        ;;
    reencrypt)
        wait_for_dependencies
        migrate
        exec python -m services.cli reencrypt "$@"
        ;;
    *) usage ;;
esac

export INSTANCE="${INSTANCE:-${service}@$(hostname)}"

# A service does not migrate: it logs in as its own database role (bancheng_<service>) and its
# own broker user, which may not change the schema or the queues; `run.sh migrate` or `seed`
# (the owner's DATABASE_URL, the broker administrator's AMQP_URI) runs first.
wait_for_dependencies
exec nameko run --config "$CONFIG" "$module"
