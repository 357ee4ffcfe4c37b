package io.peregrine.server.e2e;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.openqa.selenium.chrome.ChromeDriver;

/** Debian's chromium and chromedriver, found on this machine, and a headless session of them. */
final class HeadlessChromium {
    private HeadlessChromium() {}

    static final String MISSING = "Chromium is not installed (apt-get install chromium chromium-driver; .ci/run "
            + "does it): the chat page's browser tests are skipped";

    record Binaries(File chromium, File chromedriver) {}

    static Binaries find() {
        File chromium = first(System.getenv("PEREGRINE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser");
        File driver = first(System.getenv("PEREGRINE_CHROMEDRIVER"), "/usr/bin/chromedriver");
        return chromium == null || driver == null ? null : new Binaries(chromium, driver);
    }

    private static File first(String... paths) {
        for (String p : paths) {
            if (p != null && new File(p).canExecute()) {
                return new File(p);
            }
        }
        return null;
    }

    static ChromeDriver start(Binaries bin, Path profile) throws Exception {
        org.openqa.selenium.chrome.ChromeOptions options = new org.openqa.selenium.chrome.ChromeOptions();
        options.setBinary(bin.chromium());
        // The flags this machine's closed network needs (no background connections), a fresh profile.
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1100,760",
                "--user-data-dir=" + Files.createDirectories(profile));
        // The driver named explicitly: Selenium Manager would otherwise try to download one.
        org.openqa.selenium.chrome.ChromeDriverService service =
                new org.openqa.selenium.chrome.ChromeDriverService.Builder().usingDriverExecutable(bin.chromedriver())
                        .usingAnyFreePort().build();
        ChromeDriver driver = new ChromeDriver(service, options);
        driver.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(20)).scriptTimeout(Duration.ofSeconds(20));
        return driver;
    }
}
