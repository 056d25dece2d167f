#!/bin/bash
# Creates the contract topics, idempotently: one per producing service and one dead-letter topic
# per consuming service. Brokers run with auto-creation off, so this runs before the services.
#   KAFKA_BOOTSTRAP (kafka:9092), PARTITIONS (6), DLQ_PARTITIONS (3), REPLICATION_FACTOR (1),
#   MIN_INSYNC_REPLICAS (1), TOPIC_NAMESPACE (empty; the services' KAFKA_TOPIC_NAMESPACE)
set -euo pipefail

bootstrap="${KAFKA_BOOTSTRAP:-kafka:9092}"
ns="${TOPIC_NAMESPACE:-}"
kafka_topics="${KAFKA_TOPICS_BIN:-/opt/kafka/bin/kafka-topics.sh}"

create() {  # create <topic> <partitions> [more kafka-topics.sh options]
  "$kafka_topics" --bootstrap-server "$bootstrap" --create --if-not-exists --topic "$1" \
    --partitions "$2" --replication-factor "${REPLICATION_FACTOR:-1}" \
    --config "min.insync.replicas=${MIN_INSYNC_REPLICAS:-1}" "${@:3}"
}

for service in customer sales service-desk billing notifications; do
  create "${ns}crm.${service}" "${PARTITIONS:-6}"
  create "${ns}crm.${service}.dlq" "${DLQ_PARTITIONS:-3}"
done
# The gateway's API keys: compacted, the latest fact of every key kept for good (every process
# reads it from the beginning: tessera_shared.api_keys).
create "${ns}crm.gateway" "${PARTITIONS:-6}" --config cleanup.policy=compact
"$kafka_topics" --bootstrap-server "$bootstrap" --list
