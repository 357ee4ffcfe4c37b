package io.peregrine.api.chat;

public record StreamOptions(Boolean includeUsage, Boolean continuousUsageStats) {}
