package io.efuse.csi.metrics;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reading a metrics endpoint over HTTP as Prometheus does, for tests. */
public final class Scrape {
    private Scrape() {}

    /** GET http://127.0.0.1:port/path. */
    public static HttpResponse<String> get(int port, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The integer value of one series, written exactly as the exposition format has it; fails if it is missing. */
    public static long value(String text, String series) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\d+)$").matcher(text);
        assertTrue(m.find(), series + " missing in\n" + text);
        return Long.parseLong(m.group(1));
    }
}
