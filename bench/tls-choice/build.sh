#!/usr/bin/env bash
# Builds the six tls-probe variants into out/ (stripped release binaries) and records how long
# each build took in out/build-times.tsv.
#
# One target dir per provider (target/none, target/ring, target/aws-lc): the first variant of
# each is built from clean when its dir is absent (`rm -rf target` for clean timings), the
# second (`-native`) reuses that dir, so its time is incremental (webpki-roots vs native-certs).
# `-j 1` by default to leave the machine to other builds; JOBS=N to change it.
set -euo pipefail
cd "$(dirname "$0")"
jobs="${JOBS:-1}"
mkdir -p out
printf 'variant\ttarget_dir\tfrom_clean\tseconds\n' > out/build-times.tsv
build() { # variant target-subdir features [VAR=value for the build]
    local variant=$1 dir=target/$2 features=$3 clean=no t0 t1
    [ -d "$dir" ] || clean=yes
    t0=$(date +%s.%N)
    env "${@:4}" cargo build --release --locked -j "$jobs" --target-dir "$dir" \
        --no-default-features --features "$features"
    t1=$(date +%s.%N)
    cp "$dir/release/tls-probe" "out/tls-probe-$variant"
    printf '%s\t%s\t%s\t%.1f\n' "$variant" "$dir" "$clean" "$(echo "$t1 - $t0" | bc)" \
        >> out/build-times.tsv
}
build none none none
build ring-webpki ring ring,webpki
build ring-native ring ring,native
build aws-lc-webpki aws-lc aws-lc,webpki
build aws-lc-native aws-lc aws-lc,native
# aws-lc without its CPU-jitter entropy source (seeded from the OS, plus RDRAND): a build-time
# switch of aws-lc-sys that only the final binary's build environment can set.
build aws-lc-nojitter-webpki aws-lc-nojitter aws-lc,webpki AWS_LC_SYS_NO_JITTER_ENTROPY=1
cat out/build-times.tsv
ls -l out/tls-probe-*
