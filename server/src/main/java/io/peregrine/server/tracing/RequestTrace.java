package io.peregrine.server.tracing;

import io.opentelemetry.context.Scope;
import io.peregrine.engine.runtime.GenerationRequest;

/**
 * One HTTP request's spans as the HTTP layer drives them. {@link #NONE} (tracing off, or a request that is not a
 * generation) does nothing and allocates nothing; the engine-side spans (queue, prefill chunks, decode) come from
 * {@link Tracing#engineListener()}.
 */
public interface RequestTrace {
    RequestTrace NONE = new RequestTrace() {};

    /** Makes the request's span current on this thread (media encodes started here become its children). */
    default Scope activate() {
        return Scope.noop();
    }

    /** The request is about to reach the engine as {@code request}, answering for {@code model}. */
    default void submitting(GenerationRequest request, String model) {}

    /** The answer is complete: {@code status} was sent, and a stream that had started ended in an error if {@code failedInStream}. */
    default void answered(int status, boolean failedInStream) {}
}
