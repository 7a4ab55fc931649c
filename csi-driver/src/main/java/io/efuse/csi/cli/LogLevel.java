package io.efuse.csi.cli;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;
import picocli.CommandLine;

/** The levels --log-level takes, with what each means to slf4j-simple and to java.util.logging. */
enum LogLevel {
    ERROR(java.util.logging.Level.SEVERE),
    WARN(java.util.logging.Level.WARNING),
    INFO(java.util.logging.Level.INFO),
    DEBUG(java.util.logging.Level.FINE),
    TRACE(java.util.logging.Level.ALL);

    /** The least severe java.util.logging records that still pass at this level. */
    final java.util.logging.Level jul;

    LogLevel(java.util.logging.Level jul) {
        this.jul = jul;
    }

    /** The name slf4j-simple's level property takes, and the one users write. */
    String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    static LogLevel parse(String text) {
        for (LogLevel l : values()) {
            if (l.label().equalsIgnoreCase(text.strip())) {
                return l;
            }
        }
        throw new IllegalArgumentException("'" + text + "' is no log level; use one of " + labels());
    }

    static String labels() {
        return Arrays.stream(values()).map(LogLevel::label).collect(Collectors.joining(", "));
    }

    static final class Converter implements CommandLine.ITypeConverter<LogLevel> {
        @Override
        public LogLevel convert(String value) {
            try {
                return parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
