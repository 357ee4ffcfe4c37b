package io.peregrine.server.chat;

import io.peregrine.api.chat.ChatLogprobs;
import io.peregrine.engine.sample.TokenLogprob;
import io.peregrine.server.text.TextCodec;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Engine logprobs → the chat API's {@code logprobs.content} entries. */
public final class LogprobsMapper {
    private final TextCodec codec;

    public LogprobsMapper(TextCodec codec) {
        this.codec = codec;
    }

    public List<ChatLogprobs.Entry> entries(List<TokenLogprob> logprobs) {
        List<ChatLogprobs.Entry> out = new ArrayList<>(logprobs.size());
        for (TokenLogprob lp : logprobs) {
            List<ChatLogprobs.Top> top = new ArrayList<>(lp.top().size());
            for (TokenLogprob.Alternative a : lp.top()) {
                byte[] b = codec.tokenBytes(a.tokenId());
                top.add(new ChatLogprobs.Top(text(b), a.logprob(), unsigned(b)));
            }
            byte[] b = codec.tokenBytes(lp.tokenId());
            out.add(new ChatLogprobs.Entry(text(b), lp.logprob(), unsigned(b), top));
        }
        return out;
    }

    public String token(int id) {
        return text(codec.tokenBytes(id));
    }

    private static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private static List<Integer> unsigned(byte[] b) {
        List<Integer> out = new ArrayList<>(b.length);
        for (byte x : b) {
            out.add(x & 0xff);
        }
        return out;
    }
}
