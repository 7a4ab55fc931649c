package io.efuse.csi.csi;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import csi.v1.Csi;
import java.util.List;
import java.util.Map;

/**
 * A copy of a CSI message fit for logs: every field marked {@code (csi.v1.csi_secret) = true}, at any depth, is
 * replaced by a marker that says it was there but not what it held.
 */
final class SecretRedaction {
    static final String MARK = "***stripped***";

    private SecretRedaction() {}

    static Message redact(Message message) {
        Message.Builder b = null;
        for (Map.Entry<FieldDescriptor, Object> e : message.getAllFields().entrySet()) {
            FieldDescriptor f = e.getKey();
            if (f.getOptions().getExtension(Csi.csiSecret)) {
                if (b == null) {
                    b = message.toBuilder();
                }
                b.clearField(f);
                if (f.isMapField()) {
                    // keep the keys so that a log still shows which secrets were passed
                    for (Object entry : (List<?>) e.getValue()) {
                        Message m = (Message) entry;
                        FieldDescriptor valueField = m.getDescriptorForType().findFieldByName("value");
                        b.addRepeatedField(f, m.toBuilder().setField(valueField, MARK).build());
                    }
                } else if (f.getJavaType() == FieldDescriptor.JavaType.STRING && !f.isRepeated()) {
                    b.setField(f, MARK);
                }
            } else if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !f.isMapField()) {
                if (f.isRepeated()) {
                    List<?> items = (List<?>) e.getValue();
                    for (int i = 0; i < items.size(); i++) {
                        Message item = (Message) items.get(i);
                        Message r = redact(item);
                        if (r != item) {
                            if (b == null) {
                                b = message.toBuilder();
                            }
                            b.setRepeatedField(f, i, r);
                        }
                    }
                } else {
                    Message inner = (Message) e.getValue();
                    Message r = redact(inner);
                    if (r != inner) {
                        if (b == null) {
                            b = message.toBuilder();
                        }
                        b.setField(f, r);
                    }
                }
            }
        }
        return b == null ? message : b.build();
    }
}
