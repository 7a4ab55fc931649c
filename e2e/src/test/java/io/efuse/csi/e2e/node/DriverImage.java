package io.efuse.csi.e2e.node;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.utility.TestcontainersConfiguration;

/** The driver image under test: built once per test run from the jar of this build. */
final class DriverImage {

    private static final Object LOCK = new Object();
    private static String built;

    private DriverImage() {
    }

    static Path repo() {
        return Path.of(System.getProperty("efuse.repo", "..")).toAbsolutePath().normalize();
    }

    /** Skips the calling test, saying why, when no docker engine answers; builds the image otherwise. */
    static String require() {
        Assumptions.assumeTrue(DockerCli.engineAnswers(),
                "no docker engine answers: the container tests need one (.ci/run starts it with .ci/start-dockerd)");
        synchronized (LOCK) {
            if (built == null) {
                requireTestcontainers();
                OwnedContainers.removeLeftovers();
                String tag = System.getProperty("efuse.image", "efuse-csi:dev");
                Path jar = repo().resolve("csi-driver/target/efuse-csi.jar");
                if (!Files.isRegularFile(jar)) {
                    throw new IllegalStateException(jar + " is missing: the reactor builds csi-driver before e2e");
                }
                var result = DockerCli.exec(List.of(repo().resolve("images/build-driver-image").toString(), tag),
                        Duration.ofMinutes(25));
                result.orFail("images/build-driver-image " + tag);
                System.out.print(result.out());
                built = tag;
            }
            return built;
        }
    }

    /**
     * Testcontainers as e2e/pom.xml sets it up for these tests: its reaper and its start-up checks would each pull
     * an image, which no registry here serves.
     */
    private static void requireTestcontainers() {
        if (!Boolean.parseBoolean(System.getenv("TESTCONTAINERS_RYUK_DISABLED"))
                || !TestcontainersConfiguration.getInstance().isDisableChecks()) {
            throw new IllegalStateException("Testcontainers would pull its reaper's or its checks' image: run the"
                    + " container tests with TESTCONTAINERS_RYUK_DISABLED=true and TESTCONTAINERS_CHECKS_DISABLE=true"
                    + " in the environment, as e2e/pom.xml's profile e2e-docker does");
        }
        if (!DockerClientFactory.instance().isDockerAvailable()) {
            throw new IllegalStateException("`docker info` answers, but Testcontainers finds no docker environment:"
                    + " its log above says what it tried (DOCKER_HOST, the socket)");
        }
    }

    /** Whether the image's subcommand offers the option (e.g. "--keeper-socket"), from its --help. */
    static boolean hasOption(String image, String subcommand, String option) {
        var help = DockerCli.runOnce(Duration.ofSeconds(60), image, subcommand, "--help");
        return help.exitCode() == 0 && help.out().contains(option);
    }

    /** Whether the image's CLI has a subcommand (the driver's roles land one by one). */
    static boolean hasSubcommand(String image, String name) {
        // the root command prints its own usage for an unknown word followed by --help, and exits 0
        var help = DockerCli.runOnce(Duration.ofSeconds(60), image, name, "--help");
        return help.exitCode() == 0 && help.out().contains("Usage: efuse-csi " + name);
    }
}
