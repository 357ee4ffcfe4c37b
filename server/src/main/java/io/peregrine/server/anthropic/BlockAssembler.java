package io.peregrine.server.anthropic;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.anthropic.BlockDelta;
import io.peregrine.api.anthropic.ContentBlock;
import io.peregrine.api.anthropic.StreamEvent;
import io.peregrine.engine.parse.OutputDelta;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.logging.Logger;

/**
 * Turns one choice's parsed output into Anthropic content blocks, in the order the model produced them, as
 * stream events and, at the same time, as the finished blocks of the non-streamed reply (so both agree by
 * construction). Reasoning becomes a {@code thinking} block, content a {@code text} block, each tool call a
 * {@code tool_use} block.
 *
 * <p>A tool call is held until it is complete and sent as one block: its {@code input} must be a JSON object,
 * which can only be checked once the arguments are whole. A call that is not well formed — arguments that are not
 * a JSON object, or a name that is not a declared tool (a call cut by max_tokens inside its id) — is not passed off
 * as a call, which a client would dispatch: its arguments come back as text (nothing when there are none), and
 * the reply does not stop for tool use.
 *
 * <p>A thinking block's {@code signature} is a digest of its text, so clients that insist on a signature can send
 * the block back; it proves nothing and is never checked on input.
 */
final class BlockAssembler {
    private static final Logger LOG = Logger.getLogger(BlockAssembler.class.getName());

    private enum Open { NONE, THINKING, TEXT }

    private final ObjectMapper json;
    private final Set<String> declared;
    private final List<ContentBlock> blocks = new ArrayList<>();
    private Open open = Open.NONE;
    private final StringBuilder openText = new StringBuilder();
    private int callIndex = -1; // the parser's index of the call being collected, -1 when none
    private String callId;
    private String callName;
    private final StringBuilder callArgs = new StringBuilder();
    private boolean toolUse;

    /** @param declared the names of the request's tools */
    BlockAssembler(ObjectMapper json, Set<String> declared) {
        this.json = json;
        this.declared = Set.copyOf(declared);
    }

    /** The events for one engine step's deltas, in order (empty when they show nothing yet). */
    List<StreamEvent> accept(List<OutputDelta> deltas) {
        List<StreamEvent> out = new ArrayList<>();
        for (OutputDelta d : deltas) {
            switch (d) {
                case OutputDelta.Reasoning r when !r.text().isEmpty() -> append(Open.THINKING, r.text(), out);
                case OutputDelta.Content c when !c.text().isEmpty() -> append(Open.TEXT, c.text(), out);
                case OutputDelta.ToolCallBegin b -> call(b.index(), b.id(), b.name(), out);
                case OutputDelta.ToolCallArguments a -> {
                    call(a.index(), null, null, out);
                    callArgs.append(a.fragment());
                }
                default -> { } // empty text
            }
        }
        return out;
    }

    /** A piece of call {@code index}: a new index ends what was open and starts collecting that call. */
    private void call(int index, String id, String name, List<StreamEvent> out) {
        if (index != callIndex) {
            flushCall(out);
            closeOpen(out);
            callIndex = index;
            callId = id;
            callName = name;
        }
    }

    /** Closes whatever block is still open; the choice has ended. */
    List<StreamEvent> finish() {
        List<StreamEvent> out = new ArrayList<>();
        flushCall(out);
        closeOpen(out);
        return out;
    }

    List<ContentBlock> blocks() {
        return List.copyOf(blocks);
    }

    /** Whether a well-formed tool_use block was produced. */
    boolean hasToolUse() {
        return toolUse;
    }

    private void append(Open kind, String text, List<StreamEvent> out) {
        flushCall(out);
        if (open != kind) {
            closeOpen(out);
            open = kind;
            out.add(new StreamEvent.ContentBlockStart(blocks.size(),
                    kind == Open.THINKING ? new ContentBlock.Thinking("", "") : new ContentBlock.Text("")));
        }
        openText.append(text);
        out.add(new StreamEvent.ContentBlockDelta(blocks.size(),
                kind == Open.THINKING ? new BlockDelta.ThinkingDelta(text) : new BlockDelta.TextDelta(text)));
    }

    private void closeOpen(List<StreamEvent> out) {
        if (open == Open.NONE) {
            return;
        }
        int index = blocks.size();
        String text = openText.toString();
        if (open == Open.THINKING) {
            String signature = signature(text);
            out.add(new StreamEvent.ContentBlockDelta(index, new BlockDelta.SignatureDelta(signature)));
            blocks.add(new ContentBlock.Thinking(text, signature));
        } else {
            blocks.add(new ContentBlock.Text(text));
        }
        out.add(new StreamEvent.ContentBlockStop(index));
        open = Open.NONE;
        openText.setLength(0);
    }

    private void flushCall(List<StreamEvent> out) {
        if (callIndex < 0) {
            return;
        }
        String args = callArgs.toString();
        callIndex = -1;
        callArgs.setLength(0);
        JsonNode input = objectOrNull(args.isBlank() ? "{}" : args);
        int index = blocks.size();
        if (input == null || callName == null || !declared.contains(callName)) {
            LOG.warning("tool call " + callId + " is not well formed (undeclared name or arguments that are not a "
                    + "JSON object); its arguments are returned as text");
            if (!args.isEmpty()) {
                append(Open.TEXT, args, out);
            }
            return;
        }
        out.add(new StreamEvent.ContentBlockStart(index,
                new ContentBlock.ToolUse(callId, callName, json.createObjectNode())));
        out.add(new StreamEvent.ContentBlockDelta(index, new BlockDelta.InputJsonDelta(input.toString())));
        out.add(new StreamEvent.ContentBlockStop(index));
        blocks.add(new ContentBlock.ToolUse(callId, callName, input));
        toolUse = true;
    }

    private JsonNode objectOrNull(String text) {
        try {
            JsonNode n = json.readTree(text);
            return n != null && n.isObject() ? n : null;
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    static String signature(String thinking) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(thinking.getBytes(StandardCharsets.UTF_8));
            return "sha256:" + Base64.getUrlEncoder().withoutPadding().encodeToString(d);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always present", e);
        }
    }
}
