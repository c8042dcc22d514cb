#!/usr/bin/env bash
# Prometheus' multi-process directory (PROMETHEUS_MULTIPROC_DIR): emptied at each deploy before the new version starts, so
# counters of the previous version's processes do not add to the new ones.
set -euo pipefail
rm -rf /tmp/chat-metrics
install -d -o webapp -g webapp /tmp/chat-metrics
