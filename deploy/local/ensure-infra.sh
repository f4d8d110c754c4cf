#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ answer on 127.0.0.1; start the local servers when they are
# installed but stopped, and say clearly what is missing otherwise.
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
AMQP_HOST=${AMQP_HOST:-127.0.0.1}
AMQP_PORT=${AMQP_PORT:-5672}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() {  # name host port seconds
    for _ in $(seq 1 "$4"); do
        port_open "$2" "$3" && return 0
        sleep 1
    done
    echo "ensure-infra: $1 did not come up on $2:$3 within $4 s" >&2
    return 1
}

if ! port_open "$PG_HOST" "$PG_PORT"; then
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        echo "ensure-infra: starting PostgreSQL"
        for version in /etc/postgresql/*; do
            pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
        done
        wait_port PostgreSQL "$PG_HOST" "$PG_PORT" 60
    else
        echo "ensure-infra: PostgreSQL is not reachable on $PG_HOST:$PG_PORT and no local server is installed (apt-get install postgresql)" >&2
        exit 1
    fi
fi

if ! port_open "$AMQP_HOST" "$AMQP_PORT"; then
    if command -v rabbitmq-server >/dev/null; then
        echo "ensure-infra: starting RabbitMQ"
        rabbitmq-server -detached
        wait_port RabbitMQ "$AMQP_HOST" "$AMQP_PORT" 120
    else
        echo "ensure-infra: RabbitMQ is not reachable on $AMQP_HOST:$AMQP_PORT and no local server is installed (apt-get install rabbitmq-server)" >&2
        exit 1
    fi
fi

# The tests create a vhost per session, and make up / the test systems each service's broker user
# (services.common.broker_users), through the management API.
if ! port_open "$AMQP_HOST" 15672; then
    if command -v rabbitmq-plugins >/dev/null; then
        echo "ensure-infra: enabling the RabbitMQ management plugin"
        rabbitmq-plugins enable rabbitmq_management >/dev/null
        wait_port "RabbitMQ management" "$AMQP_HOST" 15672 60
    else
        echo "ensure-infra: the RabbitMQ management API (port 15672) is not reachable" >&2
        exit 1
    fi
fi
echo "ensure-infra: PostgreSQL $PG_HOST:$PG_PORT and RabbitMQ $AMQP_HOST:$AMQP_PORT are up"
