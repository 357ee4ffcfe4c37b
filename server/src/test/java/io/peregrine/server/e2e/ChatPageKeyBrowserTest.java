package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.server.auth.ApiKeys;
import io.peregrine.server.fakes.FakeEngine.Script;
import io.peregrine.server.fakes.TestServer;
import io.peregrine.server.app.ServerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The chat page behind an API key, over the scripted engine: the page loads without the key, asks for it when the
 * API answers 401 (a wrong key is asked for again), then sends it as a Bearer header; a scripted answer with
 * reasoning, markdown and a tool call shows the reasoning folded, the markdown rendered and the call as a call.
 */
class ChatPageKeyBrowserTest {
    private static final String KEY = "sk-browser-test";

    @TempDir
    static Path tmp;
    static TestServer server;
    static ChromeDriver browser;
    static WebDriverWait wait;

    @BeforeAll
    static void start() throws Exception {
        HeadlessChromium.Binaries bin = HeadlessChromium.find();
        Assumptions.assumeTrue(bin != null, HeadlessChromium.MISSING);
        server = new TestServer(ServerConfig.defaults().withApiKeys(new ApiKeys(List.of(KEY))), 4096, true);
        browser = HeadlessChromium.start(bin, tmp.resolve("profile"));
        wait = new WebDriverWait(browser, Duration.ofSeconds(20));
    }

    @AfterAll
    static void stop() {
        if (browser != null) {
            browser.quit();
        }
        if (server != null) {
            server.close();
        }
    }

    private void enterKey(String key) {
        wait.until(d -> d.findElement(By.id("key-dialog")).getDomAttribute("open") != null);
        WebElement input = browser.findElement(By.id("key-input"));
        input.clear();
        input.sendKeys(key);
        browser.findElement(By.id("key-ok")).click();
    }

    @Test
    void asksForTheKeyThenChatsWithItAndShowsReasoningMarkdownAndToolCalls() throws Exception {
        browser.get(server.baseUrl() + "/");
        enterKey("sk-wrong");
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("key-reason"), "refused"));
        enterKey(KEY);
        wait.until(ExpectedConditions.textToBe(By.id("model"), TestServer.MODEL));
        assertEquals("context 4,096 tokens", browser.findElement(By.id("limits")).getText());

        server.engine.script(r -> Script.of(FinishReason.STOP, "The user asks about ", "the weather; ", "a tool answers.",
                "</think>", "Checking **Lyon** now:\n\n", "```json\n{\"city\": \"Lyon\"}\n```\n", "<call:get_weather>",
                "{\"city\": ", "\"Lyon\"}", "</call>"));
        browser.findElement(By.cssSelector("#tools-panel summary")).click();
        WebElement toolsField = browser.findElement(By.id("tools"));
        toolsField.sendKeys("[{\"type\": \"function\"");
        browser.findElement(By.id("prompt")).sendKeys("What is the weather in Lyon?", Keys.ENTER);
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector(".error"), "Tools: not valid JSON"));
        assertEquals(0, server.engine.submitted.size(), "nothing sent with broken tools");
        toolsField.clear();
        toolsField.sendKeys("[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
                + "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}}]");
        browser.findElement(By.id("send")).click();
        WebElement answer = wait.until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector(".msg.assistant[data-state='done']")));
        assertEquals(1, server.engine.submitted.size(), "the request passed the key check (the key went as a Bearer header)");
        assertEquals("get_weather", server.prompts.last.tools().getFirst().function().name(), "the declared tool went along");
        WebElement reasoning = answer.findElement(By.cssSelector("details.reasoning"));
        assertTrue(reasoning.isDisplayed() && reasoning.getDomAttribute("open") == null, "reasoning shown, folded");
        assertEquals("Lyon", answer.findElement(By.cssSelector(".content strong")).getText(), "markdown rendered");
        assertTrue(answer.findElement(By.cssSelector(".content pre code")).getText().contains("\"city\""));
        WebElement call = answer.findElement(By.cssSelector(".tool-call"));
        assertEquals("get_weather({\"city\": \"Lyon\"})", call.getText());
        assertEquals("functions.get_weather:0", call.getDomAttribute("title"));

        reasoning.findElement(By.tagName("summary")).click();
        wait.until(d -> reasoning.findElement(By.className("text")).isDisplayed());
        Path shots = Files.createDirectories(Path.of("target", "webui"));
        Files.write(shots.resolve("chat-tools.png"), browser.getScreenshotAs(OutputType.BYTES));
    }
}
