package io.peregrine.server.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.peregrine.api.chat.ChatMessage;
import io.peregrine.api.json.Json;
import io.peregrine.engine.runtime.EngineEvent;
import io.peregrine.engine.runtime.EngineStats;
import io.peregrine.engine.runtime.EventSink;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.runtime.InferenceEngine;
import io.peregrine.engine.runtime.RequestHandle;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.server.fakes.ByteCodec;
import io.peregrine.server.fakes.ScriptedOutput;
import io.peregrine.server.metrics.ServerMetrics;
import io.peregrine.server.prompt.ChatInput;
import io.peregrine.server.prompt.OutputSpec;
import io.peregrine.server.prompt.ThinkingMode;
import io.peregrine.server.prompt.ToolChoice;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * SSE writes follow channel writability: nothing is written while the channel is not writable, everything
 * queued comes out in order when it is again, and a client too slow to keep up is cut off and aborted.
 * Runs in an {@link EmbeddedChannel}, with the test thread playing the engine.
 */
class StreamBackpressureTest {
    private final EmbeddedChannel channel = new EmbeddedChannel();
    private final ServerMetrics metrics = new ServerMetrics("m", () -> new EngineStats(0, 0, 0, 0, 0, 0, 0, 0, 0));
    private EventSink sink;
    private int aborts;

    @AfterEach
    void close() {
        channel.finishAndReleaseAll();
        metrics.close();
    }

    private final InferenceEngine engine = new InferenceEngine() {
        @Override
        public RequestHandle submit(GenerationRequest request, EventSink s) {
            sink = s;
            return new RequestHandle() {
                @Override
                public String requestId() {
                    return request.requestId();
                }

                @Override
                public void abort() {
                    aborts++;
                }
            };
        }

        @Override
        public EngineStats stats() {
            return null;
        }

        @Override
        public int maxModelLen() {
            return 100;
        }

        @Override
        public void drain(long timeoutMillis) {}

        @Override
        public void close() {}
    };

    private ChatCall startCall() throws Exception {
        var messages = List.of(new ChatMessage("user", Json.newMapper().getNodeFactory().textNode("hi"), null, null,
                null, null, null, null));
        ChatInput input = new ChatInput(messages, List.of(), ToolChoice.NONE, ThinkingMode.DISABLED, null, true);
        ChatPlan plan = new ChatPlan("m", input, new OutputSpec(ThinkingMode.DISABLED, List.of(), ToolChoice.NONE,
                true, 0), null, null, "max_tokens", true, false, -1);
        ChatCall call = new ChatCall(new io.peregrine.server.http.Exchange(channel, true, Json.newMapper()), plan,
                "chatcmpl-1", 3, ReasoningField.BOTH, new LogprobsMapper(new ByteCodec()), metrics,
                System.nanoTime(), 1, 0);
        call.submit(engine, new GenerationRequest("chatcmpl-1", new int[] {1, 2, 3}, SamplingParams.greedy(10), null));
        channel.runPendingTasks();
        return call;
    }

    private void engineSays(EngineEvent e) {
        sink.accept(e);
        channel.runPendingTasks();
    }

    private List<String> drainOutbound() {
        List<String> out = new ArrayList<>();
        Object msg;
        while ((msg = channel.readOutbound()) != null) {
            if (msg instanceof HttpResponse) {
                out.add("HEADERS");
            }
            if (msg instanceof HttpContent c) {
                ByteBuf b = c.content();
                if (b.isReadable()) {
                    out.add(b.toString(StandardCharsets.UTF_8));
                }
                if (msg instanceof LastHttpContent) {
                    out.add("END");
                }
                c.release();
            }
        }
        return out;
    }

    @Test
    void writesWaitForWritabilityAndKeepOrder() throws Exception {
        ChatCall call = startCall();
        engineSays(new EngineEvent.Scheduled("chatcmpl-1", 3, 0, 0));
        List<String> first = drainOutbound();
        assertEquals("HEADERS", first.getFirst());
        assertTrue(first.get(1).contains("\"role\":\"assistant\""));

        channel.unsafe().outboundBuffer().setUserDefinedWritability(1, false);
        assertFalse(channel.isWritable());
        for (String t : new String[] {"a", "b", "c"}) {
            engineSays(ScriptedOutput.content(0, t.charAt(0), t));
        }
        assertEquals(List.of(), drainOutbound(), "nothing is written while the channel is not writable");

        channel.unsafe().outboundBuffer().setUserDefinedWritability(1, true);
        call.onWritable();
        List<String> resumed = drainOutbound();
        assertEquals(3, resumed.size());
        for (int i = 0; i < 3; i++) {
            assertTrue(resumed.get(i).contains("\"content\":\"" + "abc".charAt(i) + "\""), resumed.get(i));
        }
        engineSays(new EngineEvent.Finished(0, FinishReason.STOP, null, 3));
        List<String> tail = drainOutbound();
        assertTrue(tail.getFirst().contains("\"finish_reason\":\"stop\""));
        assertEquals("data: [DONE]\n\n", tail.get(tail.size() - 2));
        assertEquals("END", tail.getLast());
        assertEquals(0, aborts);
    }

    @Test
    void aClientThatNeverReadsIsCutOffAndAborted() throws Exception {
        startCall();
        engineSays(new EngineEvent.Scheduled("chatcmpl-1", 3, 0, 0));
        drainOutbound();
        channel.unsafe().outboundBuffer().setUserDefinedWritability(1, false);
        String big = "x".repeat(8192);
        for (int i = 0; i < 2100 && channel.isOpen(); i++) {
            engineSays(ScriptedOutput.content(0, 1, big));
        }
        assertFalse(channel.isOpen(), "the connection is closed past the backlog limit");
        assertTrue(aborts >= 1, "the engine request is aborted");
        // Events after the cut-off are ignored, not written.
        engineSays(new EngineEvent.Finished(0, FinishReason.ABORT, null, 2100));
        List<String> written = drainOutbound();
        assertFalse(written.contains("END"), "a cut-off stream never ends as if it had completed");
        assertTrue(written.stream().noneMatch(w -> w.contains("[DONE]") || w.contains("finish_reason\":\"")),
                "nothing after the cut-off is written");
    }
}
