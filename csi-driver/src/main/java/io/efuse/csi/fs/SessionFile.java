package io.efuse.csi.fs;

import io.efuse.csi.fuse.InitNegotiation;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Properties;

/**
 * What a daemon that takes over a live FUSE connection must know besides the node table: the mount's
 * options, what INIT settled (INIT is never repeated on a connection), the connection id, and the
 * incarnation number of the daemon serving it. Kept as a small key=value file next to the journal,
 * replaced atomically.
 */
record SessionFile(MountOptions options, InitNegotiation.Result init, long connectionId, int epoch) {
    static final int VERSION = 1;
    static final String NAME = "session";

    void write(Path dir) throws IOException {
        Properties p = encode(options);
        p.setProperty("version", Integer.toString(VERSION));
        p.setProperty("connection", Long.toString(connectionId));
        p.setProperty("epoch", Integer.toString(epoch));
        p.setProperty("init.major", Integer.toString(init.major()));
        p.setProperty("init.minor", Integer.toString(init.minor()));
        p.setProperty("init.flags", Long.toString(init.flags()));
        p.setProperty("init.maxWrite", Integer.toString(init.maxWrite()));
        p.setProperty("init.maxPages", Integer.toString(init.maxPages()));
        p.setProperty("init.maxReadahead", Integer.toString(init.maxReadahead()));
        p.setProperty("init.maxBackground", Integer.toString(init.maxBackground()));
        p.setProperty("init.congestionThreshold", Integer.toString(init.congestionThreshold()));
        p.setProperty("init.timeGran", Integer.toString(init.timeGran()));
        p.setProperty("init.maxStackDepth", Integer.toString(init.maxStackDepth()));
        StringWriter w = new StringWriter();
        p.store(w, "eFuse session state");
        Files.createDirectories(dir);
        Path tmp = dir.resolve(NAME + ".new");
        Files.writeString(tmp, w.toString());
        Files.move(tmp, dir.resolve(NAME), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    static SessionFile read(Path dir) throws IOException {
        Path f = dir.resolve(NAME);
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(f)) {
            p.load(r);
        }
        int version = Integer.parseInt(p.getProperty("version", "0"));
        if (version != VERSION) {
            throw new IOException(f + ": session state version " + version + ", this daemon reads " + VERSION);
        }
        InitNegotiation.Result init = new InitNegotiation.Result(intOf(p, "init.major"), intOf(p, "init.minor"),
                Long.parseLong(p.getProperty("init.flags")), intOf(p, "init.maxWrite"), intOf(p, "init.maxPages"),
                intOf(p, "init.maxReadahead"), intOf(p, "init.maxBackground"), intOf(p, "init.congestionThreshold"),
                intOf(p, "init.timeGran"), intOf(p, "init.maxStackDepth"));
        return new SessionFile(decode(p), init, Long.parseLong(p.getProperty("connection")), intOf(p, "epoch"));
    }

    private static int intOf(Properties p, String key) throws IOException {
        String v = p.getProperty(key);
        if (v == null) {
            throw new IOException("session state lacks " + key);
        }
        return Integer.parseInt(v);
    }

    /** Mount options as key=value properties (also the form they travel in between processes). */
    static Properties encode(MountOptions o) {
        Properties p = new Properties();
        p.setProperty("backing", o.backing().toString());
        p.setProperty("mountPoint", o.mountPoint().toString());
        p.setProperty("tier", o.tier().label());
        p.setProperty("workers", Integer.toString(o.workers()));
        p.setProperty("entryTimeoutMs", Long.toString(o.entryTimeout().toMillis()));
        p.setProperty("attrTimeoutMs", Long.toString(o.attrTimeout().toMillis()));
        p.setProperty("writebackCache", Boolean.toString(o.writebackCache()));
        p.setProperty("readOnly", Boolean.toString(o.readOnly()));
        p.setProperty("maxBytes", Long.toString(o.maxBytes()));
        p.setProperty("maxInodes", Long.toString(o.maxInodes()));
        p.setProperty("fsName", o.fsName());
        p.setProperty("queues", o.queues().name().toLowerCase(java.util.Locale.ROOT));
        if (o.shownBytes() > 0) {
            p.setProperty("shownBytes", Long.toString(o.shownBytes()));
        }
        if (o.usageFile() != null) {
            p.setProperty("usageFile", o.usageFile().toString());
        }
        return p;
    }

    static MountOptions decode(Properties p) {
        return new MountOptions(Path.of(p.getProperty("backing")), Path.of(p.getProperty("mountPoint")),
                Tier.parse(p.getProperty("tier", "auto")), Integer.parseInt(p.getProperty("workers", "2")),
                Duration.ofMillis(Long.parseLong(p.getProperty("entryTimeoutMs", "60000"))),
                Duration.ofMillis(Long.parseLong(p.getProperty("attrTimeoutMs", "60000"))),
                Boolean.parseBoolean(p.getProperty("writebackCache", "false")),
                Boolean.parseBoolean(p.getProperty("readOnly", "false")),
                Long.parseLong(p.getProperty("maxBytes", "0")), Long.parseLong(p.getProperty("maxInodes", "0")),
                p.getProperty("fsName", "efuse"), Queues.parse(p.getProperty("queues", "dev")),
                Long.parseLong(p.getProperty("shownBytes", "0")),
                p.getProperty("usageFile") == null ? null : Path.of(p.getProperty("usageFile")));
    }

    /** Mount options as text (for messages between processes). */
    static String optionsText(MountOptions o) throws IOException {
        StringWriter w = new StringWriter();
        encode(o).store(w, null);
        return w.toString();
    }

    static MountOptions optionsFromText(String text) throws IOException {
        Properties p = new Properties();
        p.load(new StringReader(text));
        return decode(p);
    }
}
