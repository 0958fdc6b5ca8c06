#!/usr/bin/env bash
# Installs the command-line tools the handlers use (rsync, rclone, 7z, unzip, zstd) and the
# headless browser of the dashboard's browser tests (chromium, chromedriver), Prometheus (promtool,
# prometheus: the tests of the shipped alerts and dashboard) and libfaketime (the clock-skew tests)
# when they are missing and this machine can (root + apt-get). Never fails the build: tests that
# need a missing tool say why they were skipped (and fail in CI where they must run).
set -u
missing=()
for pair in rsync:rsync rclone:rclone 7z:p7zip-full unzip:unzip zstd:zstd faketime:faketime \
    chromium:chromium chromedriver:chromium-driver promtool:prometheus; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/tmp/sccli-apt.log 2>&1 \
    || echo "could not install ${missing[*]} (see /tmp/sccli-apt.log); their tests will be skipped" >&2
else
  echo "missing tools: ${missing[*]} (not root or no apt-get); their tests will be skipped" >&2
fi
exit 0
