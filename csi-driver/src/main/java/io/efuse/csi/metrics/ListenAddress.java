package io.efuse.csi.metrics;

import java.net.InetSocketAddress;

/** A metrics listen address as flags give it: "HOST:PORT", ":PORT" (all interfaces) or "[v6]:PORT". */
public final class ListenAddress {
    private ListenAddress() {}

    public static InetSocketAddress parse(String address) {
        int colon = address.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("metrics address must be HOST:PORT or :PORT, not '" + address + "'");
        }
        String host = address.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(address.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("metrics address '" + address + "' has no port number");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("metrics port " + port + " is out of range");
        }
        return host.isEmpty() ? new InetSocketAddress(port) : new InetSocketAddress(host, port);
    }
}
