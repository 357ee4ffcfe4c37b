package io.peregrine.api.tokenize;

import java.util.List;

public record TokenizeResponse(int count, int maxModelLen, List<Integer> tokens, List<String> tokenStrs) {}
