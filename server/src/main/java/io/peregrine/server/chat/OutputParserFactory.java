package io.peregrine.server.chat;

@FunctionalInterface
public interface OutputParserFactory {
    OutputParser create(OutputSpec spec);
}
