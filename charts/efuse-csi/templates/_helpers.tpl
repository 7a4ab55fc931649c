{{/* Names and labels shared by every object of the chart. */}}

{{- define "efuse-csi.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "efuse-csi.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels of one component: call with (list . "controller"). */}}
{{- define "efuse-csi.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "efuse-csi.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The unix socket kubelet reaches the node plugin on, as a host path. */}}
{{- define "efuse-csi.pluginDir" -}}
{{- printf "%s/plugins/%s" (trimSuffix "/" .Values.kubeletDir) .Values.driverName -}}
{{- end -}}

{{- define "efuse-csi.driverEnv" -}}
# read by the java launcher of the image's entry point
- name: JDK_JAVA_OPTIONS
  value: {{ .Values.javaOptions | quote }}
{{- end -}}

{{/*
Whether the node's pods mount node.sharedRoot as a volume of its own: not when it lies under /var/lib/efuse,
which they mount with Bidirectional propagation. There the mount of its own would be propagated back to the
host at every start of a pod, one more mount each time, and outlive the chart; the parent's mount shows the
shared filesystem, and what is mounted on it later, as it is.
*/}}
{{- define "efuse-csi.sharedRootMount" -}}
{{- $r := trimSuffix "/" .Values.node.sharedRoot -}}
{{- if and $r (ne $r "/var/lib/efuse") (not (hasPrefix "/var/lib/efuse/" $r)) -}}true{{- end -}}
{{- end -}}

{{/*
Whether the cluster serves the VolumeAttributesClass API the chart's sidecars read (storage.k8s.io/v1beta1 at their
versions; Kubernetes 1.34 serves it with --runtime-config=storage.k8s.io/v1beta1=true). The sidecars' feature gate
is off by default, and on without the API their informers only fail.
*/}}
{{- define "efuse-csi.vacServed" -}}
{{- if .Capabilities.APIVersions.Has "storage.k8s.io/v1beta1/VolumeAttributesClass" -}}true{{- end -}}
{{- end -}}

{{/*
The served version of the group snapshot API (groupsnapshot.storage.k8s.io), newest first; empty when the cluster
serves none. The snapshotter's CSIVolumeGroupSnapshot gate without it stops every snapshot, not only groups.
*/}}
{{- define "efuse-csi.groupSnapshotVersion" -}}
{{- $api := "groupsnapshot.storage.k8s.io/%s/VolumeGroupSnapshotClass" -}}
{{- if .Capabilities.APIVersions.Has (printf $api "v1") -}}v1
{{- else if .Capabilities.APIVersions.Has (printf $api "v1beta2") -}}v1beta2
{{- else if .Capabilities.APIVersions.Has (printf $api "v1beta1") -}}v1beta1
{{- end -}}
{{- end -}}

{{/* "true" when group snapshots are on: controller.groupSnapshots, and with `auto` the cluster serving the API. */}}
{{- define "efuse-csi.groupSnapshots" -}}
{{- $g := .Values.controller.groupSnapshots -}}
{{- if and .Values.controller.snapshots (or (eq (toString $g) "true") (and (eq (toString $g) "auto") (include "efuse-csi.groupSnapshotVersion" .))) -}}true{{- end -}}
{{- end -}}
