package io.efuse.csi.cli;

import java.util.logging.Handler;
import java.util.logging.LogManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.simple.SimpleLogger;

/**
 * The one log of an efuse-csi process: slf4j with its simple backend on stderr, one line per record as
 * {@code 2026-01-31T12:00:00.000Z [thread] LEVEL logger - message}, and java.util.logging routed into it.
 *
 * <p>slf4j-simple reads its settings once, when the first logger is made, and gives each logger its level then:
 * both {@link #install()} and {@link #level(LogLevel)} must run before any logger exists. The command line parses
 * (and so sets --log-level) before a role starts, and no command makes a logger while it is parsed; a level set too
 * late is refused rather than silently ignored.
 */
final class ProcessLogging {
    private static final LogLevel DEFAULT = LogLevel.INFO;

    private ProcessLogging() {}

    /** The format, and java.util.logging's records sent to slf4j at the level slf4j-simple was given, if any. */
    static void install() {
        setIfUnset(SimpleLogger.SHOW_DATE_TIME_KEY, "true");
        setIfUnset(SimpleLogger.DATE_TIME_FORMAT_KEY, "yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
        setIfUnset(SimpleLogger.SHOW_THREAD_NAME_KEY, "true");
        setIfUnset(SimpleLogger.SHOW_LOG_NAME_KEY, "true");
        setIfUnset(SimpleLogger.SHOW_SHORT_LOG_NAME_KEY, "false");
        setIfUnset(SimpleLogger.LEVEL_IN_BRACKETS_KEY, "false");
        java.util.logging.Logger root = LogManager.getLogManager().getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h); // the console handler, which writes a format of its own
        }
        root.addHandler(new JulToSlf4jHandler());
        String configured = System.getProperty(SimpleLogger.DEFAULT_LOG_LEVEL_KEY);
        LogLevel level = DEFAULT;
        if (configured != null) {
            try {
                level = LogLevel.parse(configured);
            } catch (IllegalArgumentException e) {
                // slf4j-simple itself falls back to info on a name it does not know
            }
        }
        root.setLevel(level.jul);
    }

    /**
     * Every logger's level: slf4j-simple's default, and java.util.logging's root level, so that records below it are
     * not even made (gRPC checks before it builds one).
     */
    static void level(LogLevel level) {
        System.setProperty(SimpleLogger.DEFAULT_LOG_LEVEL_KEY, level.label());
        LogManager.getLogManager().getLogger("").setLevel(level.jul);
        LogLevel effective = levelOf(LoggerFactory.getLogger(ProcessLogging.class));
        if (effective != level) {
            // A class logged while the command line was parsed, so slf4j-simple had read its settings already.
            throw new IllegalStateException("--log-level " + level.label() + " came too late: logging had started at "
                    + effective.label());
        }
    }

    /** The least severe level the logger writes. */
    static LogLevel levelOf(Logger log) {
        if (log.isTraceEnabled()) {
            return LogLevel.TRACE;
        }
        if (log.isDebugEnabled()) {
            return LogLevel.DEBUG;
        }
        if (log.isInfoEnabled()) {
            return LogLevel.INFO;
        }
        return log.isWarnEnabled() ? LogLevel.WARN : LogLevel.ERROR;
    }

    private static void setIfUnset(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }
}
