package io.efuse.csi.e2e.node;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;
import org.testcontainers.containers.ContainerLaunchException;
import org.testcontainers.containers.wait.strategy.AbstractWaitStrategy;

/**
 * Ready when something holds on the host, as kubelet would see it (a mount in the host's table, an answer on
 * the plugin socket): none of these containers has a port or a log line to wait for.
 */
final class HostCondition extends AbstractWaitStrategy {

    private final String what;
    private final Callable<Boolean> condition;

    private HostCondition(String what, Callable<Boolean> condition) {
        this.what = what;
        this.condition = condition;
    }

    static HostCondition until(String what, Callable<Boolean> condition) {
        return new HostCondition(what, condition);
    }

    @Override
    protected void waitUntilReady() {
        try {
            String name = waitStrategyTarget.getContainerInfo().getName().replaceFirst("^/", "");
            await(what, condition, startupTimeout, name,
                    () -> "exited".equals(waitStrategyTarget.getCurrentContainerInfo().getState().getStatus()));
        } catch (AssertionError e) {
            // Testcontainers reports and removes a container whose start failed only for an Exception
            throw new ContainerLaunchException(e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ContainerLaunchException("interrupted waiting for " + what, e);
        }
    }

    /**
     * Polls the condition every 50 ms until it holds or the bound passes; every second, asks whether the container
     * has exited, which ends the wait.
     */
    static void await(String what, Callable<Boolean> condition, Duration bound, String container,
            BooleanSupplier exited) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        Exception last = null;
        for (int round = 0; System.nanoTime() < deadline; round++) {
            try {
                if (condition.call()) {
                    return;
                }
            } catch (Exception e) {
                last = e;
            }
            if (round % 20 == 19 && exited(exited)) {
                throw new AssertionError("container " + container + " exited while waiting for " + what);
            }
            Thread.sleep(50);
        }
        throw new AssertionError("timed out after " + bound + " waiting for " + what
                + (last == null ? "" : " (last error: " + last + ")"));
    }

    /** An inspect that fails says nothing: the next round asks again. */
    private static boolean exited(BooleanSupplier exited) {
        try {
            return exited.getAsBoolean();
        } catch (RuntimeException inspectFailed) {
            return false;
        }
    }
}
