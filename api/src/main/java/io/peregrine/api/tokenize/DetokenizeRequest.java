package io.peregrine.api.tokenize;

import java.util.List;

public record DetokenizeRequest(String model, List<Integer> tokens) {}
