package io.efuse.csi.csi;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.TextFormat;
import csi.v1.Csi;
import org.junit.jupiter.api.Test;

/** Requests are logged without the values of fields marked csi_secret, at any depth. */
class SecretRedactionTest {
    @Test
    void secretValuesAreStrippedAndTheirKeysKept() {
        var req = Csi.CreateVolumeRequest.newBuilder().setName("pvc-1").putSecrets("password", "hunter2")
                .putParameters("tier", "auto").build();
        String logged = TextFormat.printer().printToString(SecretRedaction.redact(req));
        assertFalse(logged.contains("hunter2"), logged);
        assertTrue(logged.contains("password") && logged.contains(SecretRedaction.MARK), logged);
        assertTrue(logged.contains("pvc-1") && logged.contains("tier"), logged);
    }

    @Test
    void secretsInsideNestedMessagesAreStrippedToo() {
        var req = Csi.NodeStageVolumeRequest.newBuilder().setVolumeId("v").putSecrets("token", "s3cr3t").build();
        assertFalse(TextFormat.printer().printToString(SecretRedaction.redact(req)).contains("s3cr3t"));
        var plain = Csi.ProbeRequest.getDefaultInstance();
        assertSame(plain, SecretRedaction.redact(plain), "a message without secrets is logged as it is");
    }
}
