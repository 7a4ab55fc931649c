package io.efuse.csi.kube;

import io.fabric8.generator.annotation.Required;
import java.util.Map;

/** What the controller asks for. */
public class EfuseVolumeSpec {
    /** The CO's name for the volume (the PV name), from which the id is derived. */
    @Required
    public String name;
    @Required
    public long capacityBytes;
    public long inodeLimit;
    /** local or shared. */
    @Required
    public String backend;
    /** The node that holds a local volume's data; empty for shared volumes. */
    public String nodeName;
    /** SNAPSHOT or VOLUME when the volume starts from a copy, with the source's id. */
    public String sourceKind;
    public String sourceId;
    public Map<String, String> parameters;
    public Map<String, String> mutableParameters;
}
