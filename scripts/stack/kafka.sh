# shellcheck shell=bash
# The stack's Apache Kafka: one KRaft node (broker and controller in one JVM, static quorum),
# data in .run/kafka, jars in .cache/kafka/lib from deploy/local/kafka/pom.xml.
# Sourced after lib.sh.

KAFKA_POM="$ROOT/deploy/local/kafka/pom.xml"
KAFKA_LIB="$CACHE/kafka/lib"
KAFKA_DIR="$RUN/kafka"
KAFKA_CONFIG="$KAFKA_DIR/server.properties"
KAFKA_TLS="$KAFKA_DIR/tls"
KAFKA_CA="$KAFKA_TLS/ca.crt"
KAFKA_LOG="$LOGS/kafka.log"
# A small heap is plenty for one local broker; the JIT is left whole (its optimising tier
# costs a few seconds at start and saves CPU on every request after). Override at will.
KAFKA_JVM_OPTS=${KAFKA_JVM_OPTS:-"-Xms256m -Xmx512m -XX:+UseSerialGC -Djava.awt.headless=true"}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}

# The jars are fetched again when pom.xml changes: the stamp records the pom they came from.
kafka_jars_stamp() { printf '%s\n' "$KAFKA_LIB/.pom-$(cksum <"$KAFKA_POM" | cut -d ' ' -f 1)"; }

kafka_jars_present() { [[ -f "$(kafka_jars_stamp)" ]]; }

kafka_fetch_jars() {
    kafka_jars_present && return 0
    local partial="$KAFKA_LIB.partial" log="$CACHE/kafka/mvn.log"
    say "fetching Apache Kafka jars from Maven Central into ${KAFKA_LIB#"$ROOT/"}"
    rm -rf "$partial"
    mkdir -p "$CACHE/kafka"
    mvn -B -ntp -f "$KAFKA_POM" dependency:copy-dependencies -DoutputDirectory="$partial" >"$log" 2>&1 ||
        { log_tail "$log"; die "could not fetch the Kafka jars (mvn dependency:copy-dependencies)"; }
    rm -rf "$KAFKA_LIB"
    mv "$partial" "$KAFKA_LIB"
    touch "$(kafka_jars_stamp)"
    say "fetched $(find "$KAFKA_LIB" -name '*.jar' | wc -l) jars"
}

read -r -a KAFKA_JVM_FLAGS <<<"$KAFKA_JVM_OPTS"
KAFKA_JAVA=(java "${KAFKA_JVM_FLAGS[@]}" -Dorg.slf4j.simpleLogger.showDateTime=true
            "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ" -cp "$KAFKA_LIB/*")

# A private CA and the broker's certificate (for 127.0.0.1 and localhost) for the SCRAM
# listener, made once with openssl; clients trust .run/kafka/tls/ca.crt.
kafka_tls() {
    [[ -s "$KAFKA_TLS/broker.pem" ]] && return 0
    mkdir -p "$KAFKA_TLS"
    (
        cd "$KAFKA_TLS"
        umask 077
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=handoff-local-ca" \
            -keyout ca.key -out ca.crt
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout broker.key -out broker.csr
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >broker.ext
        openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
            -extfile broker.ext -out broker.crt
        cat broker.key broker.crt ca.crt >broker.pem
        chmod 644 ca.crt
    ) >"$LOGS/kafka-tls.log" 2>&1 || { log_tail "$LOGS/kafka-tls.log"; die "could not make the broker's certificate"; }
}

# Rewritten on every start so that changing it here takes effect.
kafka_write_config() {
    mkdir -p "$KAFKA_DIR/data"
    kafka_tls
    cat >"$KAFKA_CONFIG" <<EOF
# Written by scripts/stack/kafka.sh on every start; edits here are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT,SASL_SSL://127.0.0.1:$KAFKA_SCRAM_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$KAFKA_SCRAM_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
# SASL/SCRAM-SHA-512 over TLS (users: scripts/stack/scram-user.sh); no ACLs locally.
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$KAFKA_TLS/broker.pem
log.dirs=$KAFKA_DIR/data
num.partitions=$TOPIC_PARTITIONS
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After a kill -9 the restarted broker waits out its own previous session: keep that short.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
EOF
}

# Format the storage once, with a cluster id kept beside it.
kafka_format() {
    [[ -f "$KAFKA_DIR/data/meta.properties" ]] && return 0
    local id_file="$KAFKA_DIR/cluster-id"
    [[ -s "$id_file" ]] ||
        python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())' >"$id_file"
    say "formatting Kafka storage in ${KAFKA_DIR#"$ROOT/"}/data"
    "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format -t "$(<"$id_file")" -c "$KAFKA_CONFIG" >"$LOGS/kafka-format.log" 2>&1 ||
        { log_tail "$LOGS/kafka-format.log"; die "could not format Kafka storage"; }
}

kafka_start() {
    need_free_port Kafka "$KAFKA_PORT"
    need_free_port "Kafka's controller" "$KAFKA_CONTROLLER_PORT"
    need_free_port "Kafka's SCRAM listener" "$KAFKA_SCRAM_PORT"
    say "starting Kafka on $KAFKA_BOOTSTRAP"
    start_detached kafka "${KAFKA_JAVA[@]}" kafka.Kafka "$KAFKA_CONFIG"
    KAFKA_STARTED_HERE=true
}

# Whether this run of `up` started the broker: one found running that exits meanwhile was
# stopping (SIGTERM, `kill`), and is started again rather than reported as a failed start.
KAFKA_STARTED_HERE=false

kafka_listening() {
    local pid
    if ! pid=$(live_pid kafka); then
        [[ "$KAFKA_STARTED_HERE" == false ]] || { log_tail "$KAFKA_LOG"; die "Kafka exited during start-up"; }
        say "the Kafka broker found running has stopped: starting it again"
        kafka_write_config
        kafka_start
        return 1
    fi
    port_open "$KAFKA_PORT"
}

# Create the contract's topics when missing, waiting for the broker to answer.
kafka_create_topics() {
    uv_python "$ROOT/scripts/stack/topics.py" --bootstrap "$KAFKA_BOOTSTRAP" \
        --partitions "$TOPIC_PARTITIONS" --timeout "$KAFKA_START_TIMEOUT" "${TOPICS[@]}"
}

# Start the broker unless it runs already; kafka_wait_ready waits for it, so that other
# parts can start meanwhile.
kafka_launch() {
    local pid
    kafka_fetch_jars
    if pid=$(live_pid kafka); then
        say "Kafka already running (pid $pid)"
        return 0
    fi
    kafka_write_config
    kafka_format
    kafka_start
}

kafka_wait_ready() {
    wait_until "$KAFKA_START_TIMEOUT" kafka_listening ||
        { log_tail "$KAFKA_LOG"; die "Kafka is not listening on $KAFKA_BOOTSTRAP after ${KAFKA_START_TIMEOUT}s"; }
    if ! kafka_create_topics; then
        # A broker found running may have been on its way down: once it is gone, start it.
        [[ "$KAFKA_STARTED_HERE" == false ]] && wait_until 30 not live_pid kafka ||
            { log_tail "$KAFKA_LOG"; die "could not create the Kafka topics"; }
        wait_until "$KAFKA_START_TIMEOUT" kafka_listening ||
            { log_tail "$KAFKA_LOG"; die "Kafka is not listening on $KAFKA_BOOTSTRAP after ${KAFKA_START_TIMEOUT}s"; }
        kafka_create_topics || { log_tail "$KAFKA_LOG"; die "could not create the Kafka topics"; }
    fi
    say "Kafka ready on $KAFKA_BOOTSTRAP"
}

kafka_down() {
    stop_named kafka 60
}

kafka_status() {
    local pid
    if ! pid=$(live_pid kafka); then
        status_line kafka stopped
    elif port_open "$KAFKA_PORT"; then
        status_line kafka running "$pid" "$KAFKA_BOOTSTRAP"
    else
        status_line kafka "not answering" "$pid" "$KAFKA_BOOTSTRAP"
    fi
}
