package rift.flink;

import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Kafka (read_committed) -> keyBy(record key) -> per-key sequence counter -> Kafka (EXACTLY_ONCE).
 *
 * Args: bootstrapServers inputTopic outputTopic groupId [checkpointMs=1000] [parallelism=2]
 *       [transactionalIdPrefix=rift-eo] [partitioning=same|hash] [txTimeoutMs=60000]
 *       [guarantee=exactly-once|at-least-once]
 *
 * guarantee=at-least-once is a deliberate weakening (the sink flushes at checkpoints but does
 * not use transactions), so that a test can show replayed records as duplicates.
 *
 * Output record: key = input key, value = v * 2^20 + seq for an integer input value v (rift's
 * clients send integers; its checker decodes both), else "<input value>:<seq>"; seq = 1,2,... per
 * key, counted in keyed state, so it is exactly-once across failovers: a replayed input gets the
 * same seq, and a lost or repeated state update shows as a gap or repeat of seq in the output.
 * partitioning=same: output partition = input partition (input and output topics need the same
 *   partition count); per-partition order of the input is preserved in the output.
 * partitioning=hash: partition = null, the producer's default partitioner murmur2-hashes the key
 *   (the same as the input producer's default partitioner if the partition counts are equal).
 */
public class KafkaExactlyOnceJob {
    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            throw new IllegalArgumentException("usage: bootstrap inputTopic outputTopic groupId"
                    + " [checkpointMs] [parallelism] [txIdPrefix] [same|hash] [txTimeoutMs]");
        }
        String bootstrap = args[0], in = args[1], out = args[2], group = args[3];
        long interval = args.length > 4 ? Long.parseLong(args[4]) : 1000L;
        int parallelism = args.length > 5 ? Integer.parseInt(args[5]) : 2;
        String prefix = args.length > 6 ? args[6] : "rift-eo";
        final boolean samePartition = !(args.length > 7 && args[7].equals("hash"));
        String txTimeout = args.length > 8 ? args[8] : "60000";
        DeliveryGuarantee guarantee = args.length > 9 && args[9].equals("at-least-once")
                ? DeliveryGuarantee.AT_LEAST_ONCE : DeliveryGuarantee.EXACTLY_ONCE;

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(parallelism);
        env.enableCheckpointing(interval, CheckpointingMode.EXACTLY_ONCE);

        KafkaSource<Tuple3<String, String, Integer>> source = KafkaSource.<Tuple3<String, String, Integer>>builder()
                .setBootstrapServers(bootstrap)
                .setTopics(in)
                .setGroupId(group)
                // first start: earliest; later fresh submissions resume from the group's committed offsets
                .setStartingOffsets(OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST))
                .setProperty("isolation.level", "read_committed")
                .setProperty("partition.discovery.interval.ms", "10000")
                .setDeserializer(new Deser())
                .build();

        final String outTopic = out;
        KafkaSink<Tuple3<String, String, Integer>> sink = KafkaSink.<Tuple3<String, String, Integer>>builder()
                .setBootstrapServers(bootstrap)
                .setDeliveryGuarantee(guarantee)
                .setTransactionalIdPrefix(prefix)
                .setProperty("transaction.timeout.ms", txTimeout) // must be <= broker transaction.max.timeout.ms (900000)
                .setRecordSerializer(new Ser(outTopic, samePartition))
                .build();

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "kafka-in")
                .keyBy(t -> t.f0, Types.STRING)
                .process(new Seq()).name("per-key-seq")
                .sinkTo(sink).name("kafka-out");
        env.execute("rift-kafka-exactly-once");
    }

    /** (key, value, input partition) */
    static class Deser implements KafkaRecordDeserializationSchema<Tuple3<String, String, Integer>> {
        @Override public void deserialize(ConsumerRecord<byte[], byte[]> r, Collector<Tuple3<String, String, Integer>> c) {
            String k = r.key() == null ? "" : new String(r.key(), StandardCharsets.UTF_8);
            String v = r.value() == null ? "" : new String(r.value(), StandardCharsets.UTF_8);
            c.collect(Tuple3.of(k, v, r.partition()));
        }
        @Override public TypeInformation<Tuple3<String, String, Integer>> getProducedType() {
            return Types.TUPLE(Types.STRING, Types.STRING, Types.INT);
        }
    }

    static class Seq extends KeyedProcessFunction<String, Tuple3<String, String, Integer>, Tuple3<String, String, Integer>> {
        transient ValueState<Long> seq;
        @Override public void open(OpenContext ctx) {
            seq = getRuntimeContext().getState(new ValueStateDescriptor<>("seq", Types.LONG));
        }
        @Override public void processElement(Tuple3<String, String, Integer> t, Context ctx,
                                             Collector<Tuple3<String, String, Integer>> out) throws Exception {
            long s = seq.value() == null ? 1 : seq.value() + 1;
            seq.update(s);
            String v;
            try {
                v = Long.toString(Long.parseLong(t.f1) * 1048576L + s);
            } catch (NumberFormatException e) {
                v = t.f1 + ":" + s;
            }
            out.collect(Tuple3.of(t.f0, v, t.f2));
        }
    }

    static class Ser implements KafkaRecordSerializationSchema<Tuple3<String, String, Integer>> {
        final String topic; final boolean samePartition;
        Ser(String topic, boolean samePartition) { this.topic = topic; this.samePartition = samePartition; }
        @Override public ProducerRecord<byte[], byte[]> serialize(Tuple3<String, String, Integer> t,
                                                                 KafkaSinkContext ctx, Long ts) {
            return new ProducerRecord<>(topic, samePartition ? t.f2 : null,
                    t.f0.getBytes(StandardCharsets.UTF_8), t.f1.getBytes(StandardCharsets.UTF_8));
        }
    }
}
