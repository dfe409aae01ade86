package rift.flink;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.Collector;

/**
 * Unbounded generated source -> keyBy -> keyed state -> discarding sink.
 * Stand-in for Flink's DataStreamAllroundTestProgram.
 *
 * Args (all optional, positional): checkpointIntervalMs(2000) parallelism(2) keys(64) recordsPerSecond(200)
 *
 * Record i (a global sequence number from DataGeneratorSource, each source subtask owns one
 * contiguous range) has key i % keys. Per key and per source subtask, consecutive records differ
 * by exactly `keys`; the keyed state remembers the last i per source subtask. Since the source
 * position and the keyed state are restored from the same checkpoint, a gap or a repeat after
 * a failover means lost or duplicated state updates: counted in the metric "riftViolations" and
 * logged as "RIFT-VIOLATION".
 */
public class StatefulJob {
    public static void main(String[] args) throws Exception {
        long interval = args.length > 0 ? Long.parseLong(args[0]) : 2000L;
        int parallelism = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        final int keys = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        double rate = args.length > 3 ? Double.parseDouble(args[3]) : 200.0;

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(parallelism);
        env.enableCheckpointing(interval, CheckpointingMode.EXACTLY_ONCE);

        DataGeneratorSource<Tuple3<Long, Integer, Long>> source = new DataGeneratorSource<>(
                new Gen(keys), Long.MAX_VALUE, RateLimiterStrategy.perSecond(rate),
                Types.TUPLE(Types.LONG, Types.INT, Types.LONG));

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "generator")
                .keyBy(t -> t.f0, Types.LONG)
                .process(new Check(keys)).name("keyed-state")
                .sinkTo(new DiscardingSink<>()).name("discard");
        env.execute("rift-stateful");
    }

    /** (key, sourceSubtask, seq) */
    static class Gen implements GeneratorFunction<Long, Tuple3<Long, Integer, Long>> {
        final int keys;
        int subtask;
        Gen(int keys) { this.keys = keys; }
        @Override public void open(SourceReaderContext ctx) { subtask = ctx.getIndexOfSubtask(); }
        @Override public Tuple3<Long, Integer, Long> map(Long i) { return Tuple3.of(i % keys, subtask, i); }
    }

    static class Check extends KeyedProcessFunction<Long, Tuple3<Long, Integer, Long>, Tuple3<Long, Long, Long>> {
        final int keys;
        transient ValueState<Long> count, sum;
        transient MapState<Integer, Long> last;
        transient Counter violations;
        Check(int keys) { this.keys = keys; }

        @Override public void open(OpenContext ctx) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            sum = getRuntimeContext().getState(new ValueStateDescriptor<>("sum", Types.LONG));
            last = getRuntimeContext().getMapState(new MapStateDescriptor<>("last", Types.INT, Types.LONG));
            violations = getRuntimeContext().getMetricGroup().counter("riftViolations");
        }

        @Override public void processElement(Tuple3<Long, Integer, Long> t, Context ctx,
                                             Collector<Tuple3<Long, Long, Long>> out) throws Exception {
            Long prev = last.get(t.f1);
            if (prev != null && t.f2 != prev + keys) {
                violations.inc();
                System.err.println("RIFT-VIOLATION key=" + t.f0 + " sourceSubtask=" + t.f1
                        + " prev=" + prev + " got=" + t.f2);
            }
            last.put(t.f1, t.f2);
            long c = count.value() == null ? 1 : count.value() + 1;
            long s = (sum.value() == null ? 0 : sum.value()) + t.f2;
            count.update(c);
            sum.update(s);
            out.collect(Tuple3.of(t.f0, c, s));
        }
    }
}
