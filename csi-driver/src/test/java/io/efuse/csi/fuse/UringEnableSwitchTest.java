package io.efuse.csi.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UringEnableSwitchTest {
    @TempDir
    Path tmp;

    @Test
    void turnsTheParameterOnAndSaysWhatItWas() throws Exception {
        Path p = Files.writeString(tmp.resolve("enable_uring"), "N\n");
        UringEnableSwitch.Outcome o = new UringEnableSwitch(p).turnOn();
        assertTrue(o.on(), o.message());
        assertEquals("Y", Files.readString(p).trim());
        assertTrue(o.message().contains("was N"), o.message());
    }

    @Test
    void leavesAnEnabledParameterAlone() throws Exception {
        Path p = Files.writeString(tmp.resolve("enable_uring"), "Y\n");
        UringEnableSwitch.Outcome o = new UringEnableSwitch(p).turnOn();
        assertTrue(o.on());
        assertTrue(o.message().contains("already"), o.message());
    }

    @Test
    void aKernelWithoutTheParameterStaysOnDevFuse() {
        UringEnableSwitch.Outcome o = new UringEnableSwitch(tmp.resolve("missing")).turnOn();
        assertFalse(o.on());
        assertTrue(o.message().contains("Linux 6.14"), o.message());
    }

    @Test
    void aParameterThatCannotBeReadIsReportedNotThrown() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("enable_uring"));
        UringEnableSwitch.Outcome o = new UringEnableSwitch(dir).turnOn();
        assertFalse(o.on());
        assertTrue(o.message().contains("cannot read"), o.message());
    }

    @Test
    void aParameterThatRefusesTheWriteIsReportedNotThrown() {
        // A proc file without a write method refuses even root, as a read-only /sys does.
        UringEnableSwitch.Outcome o = new UringEnableSwitch(Path.of("/proc/version")).turnOn();
        assertFalse(o.on());
        assertTrue(o.message().contains("cannot enable FUSE-over-io_uring"), o.message());
    }
}
