package io.efuse.csi.csi;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte counts written as Kubernetes quantities, as a pod's volumeAttributes and the chart's values carry them:
 * {@code 268435456}, {@code 256Mi}, {@code 1.5Gi}, {@code 500M}, {@code 1e9}. Fractions of a byte round up, as
 * Kubernetes rounds a quantity's value. Milli and smaller suffixes are refused: no size is a fraction of a byte.
 */
public final class ByteQuantity {
    private static final Pattern FORM = Pattern.compile("(\\d+(?:\\.\\d*)?|\\.\\d+)([eE]\\d{1,3}|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?");
    private static final Map<String, BigInteger> SUFFIX = Map.ofEntries(
            Map.entry("Ki", BigInteger.TWO.pow(10)), Map.entry("Mi", BigInteger.TWO.pow(20)),
            Map.entry("Gi", BigInteger.TWO.pow(30)), Map.entry("Ti", BigInteger.TWO.pow(40)),
            Map.entry("Pi", BigInteger.TWO.pow(50)), Map.entry("Ei", BigInteger.TWO.pow(60)),
            Map.entry("k", BigInteger.TEN.pow(3)), Map.entry("M", BigInteger.TEN.pow(6)),
            Map.entry("G", BigInteger.TEN.pow(9)), Map.entry("T", BigInteger.TEN.pow(12)),
            Map.entry("P", BigInteger.TEN.pow(15)), Map.entry("E", BigInteger.TEN.pow(18)));

    private ByteQuantity() {}

    /** The byte count, at least 1; IllegalArgumentException saying what is wrong otherwise. */
    public static long parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("a size is required, e.g. 256Mi or 1Gi");
        }
        Matcher m = FORM.matcher(text.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a size: write a whole or decimal number of bytes"
                    + " with an optional suffix Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024) or k, M, G, T, P, E (of 1000),"
                    + " e.g. 256Mi");
        }
        BigDecimal value = new BigDecimal(m.group(1));
        String suffix = m.group(2);
        if (suffix != null) {
            boolean exponent = Character.isDigit(suffix.charAt(suffix.length() - 1));
            value = exponent
                    ? value.scaleByPowerOfTen(Integer.parseInt(suffix.substring(1)))
                    : value.multiply(new BigDecimal(SUFFIX.get(suffix)));
        }
        BigInteger bytes = value.setScale(0, RoundingMode.CEILING).toBigIntegerExact();
        if (bytes.signum() == 0) {
            throw new IllegalArgumentException("size '" + text + "' is zero");
        }
        if (bytes.bitLength() > 63) {
            throw new IllegalArgumentException("size '" + text + "' is larger than any volume can be");
        }
        return bytes.longValueExact();
    }
}
