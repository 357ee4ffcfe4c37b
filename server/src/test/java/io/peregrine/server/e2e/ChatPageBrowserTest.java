package io.peregrine.server.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import javax.imageio.ImageIO;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The chat page in a real browser (Debian's headless Chromium driven by Selenium through chromedriver) against the
 * real server on the tiny demo checkpoint: a typed message streams back an answer with usage and timings, the
 * thinking toggle shows or drops the folded reasoning, an attached image reaches the model (its vision tokens are in
 * prompt_tokens), and a bad file is an error on the page. Skipped, saying why, only where no Chromium is installed
 * ({@code .ci/run} installs it). Every wait is explicit and bounded.
 */
class ChatPageBrowserTest {
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    static Path tmp;
    static RealEngineServer server;
    static ChromeDriver browser;
    static WebDriverWait wait;

    @BeforeAll
    static void start() throws Exception {
        HeadlessChromium.Binaries bin = HeadlessChromium.find();
        Assumptions.assumeTrue(bin != null, HeadlessChromium.MISSING);
        server = new RealEngineServer(tmp.resolve("tiny"), 4);
        browser = HeadlessChromium.start(bin, tmp.resolve("profile"));
        wait = new WebDriverWait(browser, WAIT);
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

    @BeforeEach
    void openPage() {
        browser.get(server.baseUrl() + "/");
        // The page has its model once /v1/models answered.
        wait.until(ExpectedConditions.textToBe(By.id("model"), RealEngineServer.MODEL));
        assertEquals("context 2,048 tokens", browser.findElement(By.id("limits")).getText());
        WebElement max = browser.findElement(By.id("max-tokens"));
        max.clear();
        max.sendKeys("12");
    }

    private WebElement ask(String text) {
        int before = browser.findElements(By.cssSelector(".msg.assistant")).size();
        browser.findElement(By.id("prompt")).sendKeys(text, Keys.ENTER);
        wait.until(d -> d.findElements(By.cssSelector(".msg.assistant")).size() > before);
        WebElement answer = browser.findElements(By.cssSelector(".msg.assistant")).get(before);
        wait.until(d -> List.of("done", "error").contains(answer.getDomAttribute("data-state")));
        return answer;
    }

    private static int promptTokens(WebElement answer) {
        return Integer.parseInt(answer.findElement(By.className("stats")).getDomAttribute("data-prompt-tokens"));
    }

    @Test
    void typedMessageStreamsAnAnswerWithFoldedReasoningUsageAndTimings() throws Exception {
        WebElement answer = ask("Where do peregrine falcons nest?");
        assertEquals("done", answer.getDomAttribute("data-state"));
        assertTrue(Integer.parseInt(answer.getDomAttribute("data-deltas")) > 1, "the answer came in several deltas");
        WebElement reasoning = answer.findElement(By.cssSelector("details.reasoning"));
        assertTrue(reasoning.isDisplayed(), "thinking mode: the reasoning is shown");
        assertFalse(reasoning.getDomAttribute("open") != null, "folded");
        String stats = answer.findElement(By.className("stats")).getText();
        // The demo checkpoint samples at random: 12 tokens unless it happens to end its message first.
        assertTrue(stats.matches(".*prompt \\d+ · completion \\d+ · TTFT \\d+ ms · [0-9.]+ tok/s · finish (length|stop).*"),
                stats);
        assertTrue(server.lastSubmitted().promptLength() == promptTokens(answer));
        Path shots = Files.createDirectories(Path.of("target", "webui"));
        Files.write(shots.resolve("chat-thinking.png"), ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));
    }

    @Test
    void thinkingToggleOffAnswersWithoutReasoning() {
        browser.findElement(By.id("thinking")).click();
        WebElement answer = ask("Say hi.");
        assertEquals("done", answer.getDomAttribute("data-state"));
        assertFalse(answer.findElement(By.cssSelector("details.reasoning")).isDisplayed(), "instant mode: no reasoning");
        assertTrue(Integer.parseInt(answer.findElement(By.className("stats")).getDomAttribute("data-completion-tokens")) > 0);
    }

    @Test
    void attachedImageReachesTheModel() throws Exception {
        int textOnly = promptTokens(ask("What is in the picture?"));
        browser.findElement(By.id("new-chat")).click();
        Path png = tmp.resolve("falcon.png");
        Files.write(png, png(90, 60));
        browser.findElement(By.id("file-input")).sendKeys(png.toString());
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("attachments"), "IMAGE falcon.png"));
        WebElement answer = ask("What is in the picture?");
        assertEquals("done", answer.getDomAttribute("data-state"));
        assertFalse(server.lastSubmitted().media().isEmpty(), "the image went to the engine");
        assertTrue(promptTokens(answer) > textOnly, "vision tokens counted: " + promptTokens(answer) + " vs " + textOnly);
        assertEquals(1, browser.findElements(By.cssSelector(".msg.user .thumbs img")).size(), "the thumbnail shows");
        Path shots = Files.createDirectories(Path.of("target", "webui"));
        Files.write(shots.resolve("chat-image.png"), ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));
    }

    @Test
    void badFilesAreErrorsOnThePage() throws Exception {
        Path notText = tmp.resolve("notes.txt");
        Files.writeString(notText, "plain text");
        browser.findElement(By.id("file-input")).sendKeys(notText.toString());
        WebElement refused = wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector(".error")));
        assertTrue(refused.getText().contains("notes.txt: not an image, PDF or video"), refused.getText());

        Path broken = tmp.resolve("broken.png");
        Files.write(broken, "these bytes are no PNG".getBytes());
        browser.findElement(By.id("file-input")).sendKeys(broken.toString());
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("attachments"), "IMAGE broken.png"));
        WebElement answer = ask("Describe it.");
        assertEquals("error", answer.getDomAttribute("data-state"));
        List<WebElement> errors = browser.findElements(By.cssSelector(".error"));
        String shown = errors.getLast().getText();
        assertTrue(shown.toLowerCase().contains("image"), "the server's 400 is shown: " + shown);
        Path shots = Files.createDirectories(Path.of("target", "webui"));
        Files.write(shots.resolve("chat-error.png"), ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));
    }

    private static byte[] png(int w, int h) throws java.io.IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.ORANGE);
        g.fillRect(0, 0, w, h);
        g.setColor(Color.BLUE);
        g.fillOval(w / 4, h / 4, w / 2, h / 2);
        g.dispose();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }
}
