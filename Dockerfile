# The efuse-csi image: one image for every role (controller, node plugin, filesystem daemon).
#
#   docker build -t efuse-csi .
#
# Build arguments:
#   BUILD_IMAGE    a Java 25 JDK image with JAVA_HOME=/opt/java/openjdk (Maven build and jlink)
#   RUNTIME_IMAGE  a Debian 12 image the runtime is installed on
#   JAR_FROM       maven: build the driver jar here (default); context: take csi-driver/target/efuse-csi.jar
#                  from the build context, as built by `./mvnw -DskipTests package` (faster when it exists)
# Without a registry, images/build-base-images makes both base images from the Debian archive and a local
# JDK; see docs/install.md.
ARG BUILD_IMAGE=eclipse-temurin:25-jdk
ARG RUNTIME_IMAGE=debian:bookworm-slim
ARG JAR_FROM=maven

# The eBPF objects (monitor, in-kernel cache), built on Debian where clang, bpftool and libbpf-dev are packages,
# against the BTF of the kernel the build runs on: CO-RE relocates them to each node's kernel when they load.
FROM ${RUNTIME_IMAGE} AS bpf
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      clang llvm bpftool libbpf-dev libc6-dev make \
 && rm -rf /var/lib/apt/lists/*
COPY bpf /src/bpf
RUN make -C /src/bpf OUT=/out/bpf

FROM ${BUILD_IMAGE} AS jar-maven
WORKDIR /src
# The driver module alone (-f): its parent POM is read from ../pom.xml, the reactor's other modules are not
# needed. Wrapper and POMs first, so that the dependency layer is rebuilt only when they change.
COPY mvnw pom.xml ./
COPY .mvn .mvn
COPY csi-driver/pom.xml csi-driver/pom.xml
COPY third_party third_party
RUN --mount=type=cache,target=/root/.m2 \
    ./mvnw -B -ntp -q -f csi-driver/pom.xml dependency:go-offline || true
COPY csi-driver csi-driver
COPY --from=bpf /out /bpf-objects
# -Dbpf.skip: the objects come from the bpf stage, whose toolchain this JDK image lacks; the jar carries them
# under bpf/, where the build would have put them.
RUN --mount=type=cache,target=/root/.m2 \
    ./mvnw -B -ntp -q -f csi-driver/pom.xml -DskipTests -Dbpf.skip package \
 && mkdir -p /out && cp csi-driver/target/efuse-csi.jar /out/ \
 && jar uf /out/efuse-csi.jar -C /bpf-objects bpf

FROM scratch AS jar-context
COPY csi-driver/target/efuse-csi.jar /out/efuse-csi.jar

FROM jar-${JAR_FROM} AS jar-built

# netty's TLS natives (tcnative, for five platforms, ~6 MiB) go: gRPC runs in plaintext on the unix socket
# and the API server's TLS is the JDK's. zip exits 12 when there is nothing to delete.
FROM ${BUILD_IMAGE} AS jar
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends zip \
 && rm -rf /var/lib/apt/lists/*
COPY --from=jar-built /out/efuse-csi.jar /out/efuse-csi.jar
RUN zip -q -d /out/efuse-csi.jar 'META-INF/native/*tcnative*' || [ $? -eq 12 ]

# A Java runtime cut to the modules the driver needs. A fixed list (not jdeps over the jar) keeps this layer
# cached across code changes; it covers what the libraries load by name too: DNS for the API server's name,
# EC crypto for TLS, the management beans and the HTTP server for metrics. java.desktop (15 MiB) is left out:
# only optional paths use it (Jackson's java.beans annotations, JNA's AWT window handles), which fall back.
FROM ${BUILD_IMAGE} AS jre
ARG JLINK_MODULES=java.base,java.logging,java.management,java.naming,java.net.http,java.security.jgss,java.sql,java.xml,jdk.crypto.ec,jdk.httpserver,jdk.management,jdk.naming.dns,jdk.unsupported,jdk.zipfs
# binutils: jlink --strip-debug strips the native libraries with objcopy; strip drops libjvm's symbol table
# too (5 MiB).
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends binutils \
 && rm -rf /var/lib/apt/lists/*
RUN jlink --add-modules "$JLINK_MODULES" \
          --strip-debug --no-man-pages --no-header-files --compress=zip-6 --output /opt/jre \
 && strip --strip-unneeded /opt/jre/lib/server/libjvm.so \
 && /opt/jre/bin/java -Xshare:dump -version >/dev/null

FROM ${RUNTIME_IMAGE}
# libbpf1: BPF loading; mount, util-linux: mount/umount/findmnt; e2fsprogs, quota and xfs_quota: project
# quotas on ext4 and XFS backing filesystems; e2fsprogs, mkfs.xfs and xfs_growfs: the image engine's ext4 and XFS
# images; btrfs-progs: mkfs.btrfs for a btrfs pool on an image file; fuse3: fusermount3 to detach a stuck mount by
# hand. The XFS tools come alone out of the xfsprogs package, whose dependencies (Python, ICU) would double the
# image; libinih1 and liburcu8 are what they link.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libbpf1 mount util-linux e2fsprogs quota fuse3 ca-certificates libedit2 btrfs-progs libinih1 liburcu8 \
 && cd /tmp && apt-get download xfsprogs \
 && dpkg-deb --fsys-tarfile xfsprogs_*.deb \
    | tar -x -C / ./usr/sbin/xfs_quota ./sbin/mkfs.xfs ./usr/sbin/xfs_growfs \
 && rm xfsprogs_*.deb && xfs_quota -V && mkfs.xfs -V && xfs_growfs -V && mkfs.btrfs --version \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
           /usr/share/doc/*/changelog* /usr/share/man/* /usr/share/locale/*
COPY --from=jre /opt/jre /opt/java
COPY --from=jar /out/efuse-csi.jar /opt/efuse-csi/efuse-csi.jar
COPY bin/efuse-csi /opt/efuse-csi/bin/efuse-csi
LABEL org.opencontainers.image.title=efuse-csi \
      org.opencontainers.image.description="Kubernetes CSI driver served by eFuse, a kernel-accelerated FUSE filesystem"
ENV JAVA_HOME=/opt/java \
    EFUSE_CSI_JAR=/opt/efuse-csi/efuse-csi.jar \
    PATH=/opt/efuse-csi/bin:/opt/java/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# java directly (no shell, no second JVM to check the version): JDK_JAVA_OPTIONS carries extra options.
ENTRYPOINT ["/opt/java/bin/java", "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xss512k", \
            "-jar", "/opt/efuse-csi/efuse-csi.jar"]
CMD ["--help"]
