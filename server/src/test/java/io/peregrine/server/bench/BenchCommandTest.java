package io.peregrine.server.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.server.cli.BenchCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Exit codes and messages of {@code peregrine bench} for bad input and unreachable servers. */
class BenchCommandTest {
    record Run(int exit, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new BenchCommand());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return new Run(cl.execute(args), out.toString(), err.toString());
    }

    private static String closedPortUrl() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return "http://127.0.0.1:" + s.getLocalPort();
        }
    }

    @Test
    void badArgumentsExitTwoNamingTheFlag() {
        Run jsonl = run("--dataset-name", "jsonl");
        assertEquals(2, jsonl.exit());
        assertTrue(jsonl.err().contains("--dataset-name jsonl needs --dataset-path"), jsonl.err());
        Run rate = run("--request-rate", "fast");
        assertEquals(2, rate.exit());
        assertTrue(rate.err().contains("--request-rate must be a number"), rate.err());
        Run rates = run("--disconnect-rate", "0.7", "--malformed-rate", "0.7");
        assertEquals(2, rates.exit());
        assertTrue(rates.err().contains("fault rates must be >= 0 and sum to at most 1"), rates.err());
        Run images = run("--endpoint", "completions", "--images-per-request", "1");
        assertEquals(2, images.exit());
        assertTrue(images.err().contains("only the chat endpoint takes images"), images.err());
        Run https = run("--base-url", "https://example.invalid", "--disconnect-rate", "0.1");
        assertEquals(2, https.exit());
        assertTrue(https.err().contains("needs an http:// URL"), https.err());
    }

    @Test
    void unreachableServerWithoutModelExitsThree() throws Exception {
        Run r = run("--base-url", closedPortUrl(), "--num-prompts", "1");
        assertEquals(3, r.exit());
        assertTrue(r.err().contains("cannot benchmark"), r.err());
    }

    @Test
    void everyRequestFailingExitsOneWithTheCause() throws Exception {
        String url = closedPortUrl();
        Run r = run("--base-url", url, "--model", "m", "--num-prompts", "2", "--random-input-len", "4");
        assertEquals(1, r.exit(), r.err());
        assertTrue(r.err().contains("FAILED: all 2 measured requests failed"), r.err());
        assertTrue(r.out().contains("2 x cannot connect to " + url), r.out());
    }
}
