/**
 * Chat messages to prompt: the message model ({@link io.peregrine.engine.chat.ChatMessage} and friends, free of
 * wire types), {@link io.peregrine.engine.chat.HistoryRepair}, the checkpoint's chat template rendered natively
 * ({@link io.peregrine.engine.chat.ChatTemplate}) with TypeScript tool declarations, and the one thinking switch
 * ({@link io.peregrine.engine.chat.ThinkingSwitch}). {@link io.peregrine.engine.chat.PromptEncoder} chains them.
 */
package io.peregrine.engine.chat;
