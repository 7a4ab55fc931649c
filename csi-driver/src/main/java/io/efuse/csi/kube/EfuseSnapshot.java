package io.efuse.csi.kube;

import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;
import io.fabric8.kubernetes.client.CustomResource;

/**
 * A snapshot of an eFuse volume, cluster-scoped and named by its snapshot id. The node that holds the source
 * volume copies the data (reflink where it can) and reports readiness; deleting the resource reclaims the copy.
 */
@Group(MetadataKeys.GROUP)
@Version("v1alpha1")
@Kind("EfuseSnapshot")
@Plural("efusesnapshots")
@ShortNames("efs")
public class EfuseSnapshot extends CustomResource<EfuseSnapshotSpec, EfuseSnapshotStatus> {
    private static final long serialVersionUID = 1L;
}
