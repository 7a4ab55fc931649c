package io.efuse.csi.kube;

import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;
import io.fabric8.kubernetes.client.CustomResource;

/**
 * One eFuse volume, cluster-scoped and named by its volume id. The controller writes the spec; the node that
 * holds the data (or, for the shared backend, the controller) reconciles it: makes the backing directory and its
 * limits, reports the status, and reclaims the data when the resource is deleted (finalizer
 * {@value MetadataKeys#DATA_FINALIZER}).
 */
@Group(MetadataKeys.GROUP)
@Version("v1alpha1")
@Kind("EfuseVolume")
@Plural("efusevolumes")
@ShortNames("efv")
public class EfuseVolume extends CustomResource<EfuseVolumeSpec, EfuseVolumeStatus> {
    private static final long serialVersionUID = 1L;
}
