/**
 * Model output to an OpenAI assistant message: one token-id state machine ({@link
 * io.peregrine.engine.parse.OutputParser}) that streams reasoning, content and tool-call deltas and yields the
 * same final message for any split of the output into steps.
 */
package io.peregrine.engine.parse;
