package io.efuse.csi.metrics;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class ListenAddressTest {
    @Test
    void portAloneListensEverywhere() {
        var a = ListenAddress.parse(":9810");
        assertEquals(9810, a.getPort());
        assertTrue(a.getAddress().isAnyLocalAddress());
    }

    @Test
    void hostAndPort() {
        var a = ListenAddress.parse("127.0.0.1:0");
        assertEquals("127.0.0.1", a.getAddress().getHostAddress());
        assertEquals(0, a.getPort());
        assertEquals("::1", ListenAddress.parse("[::1]:80").getAddress().getHostAddress().replaceAll("0:0:0:0:0:0:0:1", "::1"));
    }

    @Test
    void badAddressesSayWhy() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ListenAddress.parse("9810")).getMessage()
                .contains("HOST:PORT"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ListenAddress.parse(":x")).getMessage()
                .contains("no port"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ListenAddress.parse(":70000")).getMessage()
                .contains("out of range"));
    }
}
