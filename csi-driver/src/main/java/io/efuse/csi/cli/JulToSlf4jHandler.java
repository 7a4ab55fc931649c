package io.efuse.csi.cli;

import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.SimpleFormatter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands java.util.logging records (gRPC's, and the JDK's own System.Logger lines) to the slf4j logger of the same
 * name, so that they are written in the process's one format and filtered by its one level.
 */
final class JulToSlf4jHandler extends Handler {
    /** Only its formatMessage is used: it fills in a record's {0} parameters and resource bundle. */
    private final SimpleFormatter messages = new SimpleFormatter();

    @Override
    public void publish(LogRecord record) {
        if (record == null) {
            return;
        }
        Logger log = LoggerFactory.getLogger(record.getLoggerName() == null ? "" : record.getLoggerName());
        int level = record.getLevel().intValue();
        Throwable thrown = record.getThrown();
        if (level >= Level.SEVERE.intValue()) {
            if (log.isErrorEnabled()) {
                log.error(messages.formatMessage(record), thrown);
            }
        } else if (level >= Level.WARNING.intValue()) {
            if (log.isWarnEnabled()) {
                log.warn(messages.formatMessage(record), thrown);
            }
        } else if (level >= Level.INFO.intValue()) {
            if (log.isInfoEnabled()) {
                log.info(messages.formatMessage(record), thrown);
            }
        } else if (level >= Level.FINE.intValue()) {
            if (log.isDebugEnabled()) {
                log.debug(messages.formatMessage(record), thrown);
            }
        } else if (log.isTraceEnabled()) {
            log.trace(messages.formatMessage(record), thrown);
        }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
}
